/**
 * Metrics, the parts without a daemon: the exposition text (checked by a strict parser), the
 * per-pass result rules, drift and flannel-episode counting through the wrappers, the atomic
 * textfile, the HTTP listener on loopback, and `metrics.listen` parsing.
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMetricsListen } from '../../daemon/src/config/values.js';
import { ConfigError, IpMasqError, NftError } from '../../daemon/src/errors.js';
import { renderExposition } from '../../daemon/src/metrics/exposition.js';
import { instrumentDaemon, type MetricsLog } from '../../daemon/src/metrics/instrument.js';
import { DaemonMetrics, nftErrorKind } from '../../daemon/src/metrics/recorder.js';
import { startMetricsServer } from '../../daemon/src/metrics/server.js';
import { writeTextfile } from '../../daemon/src/metrics/textfile.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { cli } from '../helpers/cli.js';
import { makeConfig, parseConfigText } from '../helpers/config.js';
import { parseExposition } from '../helpers/prom.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ipm-metrics-'));
  dirs.push(d);
  return d;
}

function collectingLog(): MetricsLog & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    info: (_o, msg) => lines.push({ level: 'info', msg }),
    warn: (_o, msg) => lines.push({ level: 'warn', msg }),
  };
}

describe('exposition text', () => {
  it('escapes label values and help, spells infinities, ends with a newline', () => {
    const text = renderExposition([
      {
        name: 'x_total',
        help: 'a \\ b\nc',
        type: 'counter',
        samples: [{ labels: { k: 'q"uote\\back\nnl' }, value: 3 }],
      },
      {
        name: 'h',
        help: 'h',
        type: 'histogram',
        buckets: [0.5, 1],
        cumulative: [1, 2],
        sum: 1.25,
        count: 3,
      },
      { name: 'g', help: 'g', type: 'gauge', samples: [{ value: Infinity }] },
    ]);
    expect(text).toBe(
      [
        '# HELP x_total a \\\\ b\\nc',
        '# TYPE x_total counter',
        'x_total{k="q\\"uote\\\\back\\nnl"} 3',
        '# HELP h h',
        '# TYPE h histogram',
        'h_bucket{le="0.5"} 1',
        'h_bucket{le="1"} 2',
        'h_bucket{le="+Inf"} 3',
        'h_sum 1.25',
        'h_count 3',
        '# HELP g g',
        '# TYPE g gauge',
        'g +Inf',
        '',
      ].join('\n'),
    );
    expect(parseExposition(text).value('x_total', { k: 'q"uote\\back\nnl' })).toBe(3);
  });
});

describe('DaemonMetrics', () => {
  it('a fresh daemon exports every family with zeros and parses strictly', () => {
    const m = new DaemonMetrics(() => 0);
    const e = parseExposition(m.render());
    for (const r of ['changed', 'unchanged', 'error', 'invalid_config'])
      expect(e.value('ip_masq_reconciles_total', { result: r })).toBe(0);
    for (const k of ['not_found', 'no_json', 'permission', 'failed', 'verify_failed', 'other'])
      expect(e.value('ip_masq_nft_errors_total', { kind: k })).toBe(0);
    expect(e.value('ip_masq_last_success_timestamp_seconds')).toBe(0);
    expect(e.value('ip_masq_reconcile_duration_seconds_count')).toBe(0);
  });

  it('counts one result per pass: error > invalid_config > changed/unchanged; a pass with nothing counts nothing', () => {
    let now = 1_700_000_000_000;
    const m = new DaemonMetrics(() => now);
    const config = parseConfigText(
      'nonMasqueradeCIDRs: [10.0.0.0/8, 10.1.0.0/16, fd00::/8]\nenableIPv6: true\n',
      'c',
    );
    m.configLoaded(true);
    m.reconciled(config, { changed: true, flannelDeleted: 2, drift: false }, 12);
    expect(m.passDone()).toBe('changed');
    now += 5000;
    m.configLoaded(true);
    m.reconciled(config, { changed: false, flannelDeleted: 0, drift: false }, 3);
    expect(m.passDone()).toBe('unchanged');
    m.configLoaded(false);
    m.reconciled(config, { changed: false, flannelDeleted: 0, drift: false }, 3);
    expect(m.passDone()).toBe('invalid_config');
    m.configLoaded(false);
    m.reconcileFailed(new NftError('NFT_FAILED', 'x', { argv: [], exitStatus: 1, stderr: '' }), 40);
    expect(m.passDone()).toBe('error');
    expect(m.passDone()).toBeNull();
    const e = parseExposition(m.render());
    expect(e.value('ip_masq_reconciles_total', { result: 'changed' })).toBe(1);
    expect(e.value('ip_masq_reconciles_total', { result: 'unchanged' })).toBe(1);
    expect(e.value('ip_masq_reconciles_total', { result: 'invalid_config' })).toBe(1);
    expect(e.value('ip_masq_reconciles_total', { result: 'error' })).toBe(1);
    expect(e.value('ip_masq_nft_errors_total', { kind: 'failed' })).toBe(1);
    expect(e.value('ip_masq_last_success_timestamp_seconds')).toBe(1_700_000_005);
    expect(e.value('ip_masq_config_valid')).toBe(0);
    expect(e.value('ip_masq_nonmasquerade_cidrs', { stage: 'configured' })).toBe(3);
    expect(e.value('ip_masq_nonmasquerade_cidrs', { stage: 'collapsed' })).toBe(2);
    expect(e.value('ip_masq_flannel_rules_removed_total')).toBe(2);
    expect(e.value('ip_masq_reconcile_duration_seconds_count')).toBe(4);
    expect(e.value('ip_masq_reconcile_duration_seconds_bucket', { le: '0.005' })).toBe(2);
    expect(e.value('ip_masq_reconcile_duration_seconds_bucket', { le: '0.025' })).toBe(3);
    expect(e.value('ip_masq_reconcile_duration_seconds_bucket', { le: '0.05' })).toBe(4);
    expect(e.value('ip_masq_reconcile_duration_seconds_sum')).toBeCloseTo(0.058, 9);
  });

  it('nft error kinds', () => {
    expect(
      nftErrorKind(new NftError('NFT_NOT_FOUND', 'x', { argv: [], exitStatus: null, stderr: '' })),
    ).toBe('not_found');
    expect(nftErrorKind(new IpMasqError('VERIFY_FAILED', 'x'))).toBe('verify_failed');
    expect(nftErrorKind(new Error('boom'))).toBe('other');
  });
});

describe('instrumentDaemon', () => {
  const config = makeConfig();
  const plan = buildPlan(config);

  it('drift = the tables were rewritten to the same plan as the previous good pass; flannel episodes counted from the tracker', async () => {
    const results = [
      { changed: true, flannelDeleted: [], plan }, // first apply: not drift
      { changed: true, flannelDeleted: [], plan: buildPlan(config) }, // same plan again: drift
      { changed: true, flannelDeleted: [], plan: buildPlan(makeConfig({ masqLinkLocal: true })) }, // config change
      {
        changed: false,
        flannelDeleted: [
          {
            family: 'ip' as const,
            table: 'nat',
            chain: 'FLANNEL-POSTRTG',
            handle: 7,
            iptables: '',
          },
          {
            family: 'ip' as const,
            table: 'nat',
            chain: 'FLANNEL-POSTRTG',
            handle: 8,
            iptables: '',
          },
        ],
        plan: buildPlan(makeConfig({ masqLinkLocal: true })),
      },
    ];
    const episodeWarnings = [null, 'flannel re-added…', null];
    const inst = instrumentDaemon({
      load: async () => ({ config }),
      reconcile: async () => results.shift()!,
      flannelReadds: { record: () => ({ warning: episodeWarnings.shift() ?? null }) },
    });
    const log = collectingLog();
    for (let i = 0; i < 4; i++) {
      await inst.load('x');
      await inst.reconcile(config);
      inst.flannelReadds.record(0, 0);
      await inst.afterPass(log);
    }
    const e = parseExposition(inst.metrics.render());
    expect(e.value('ip_masq_drift_repairs_total')).toBe(1);
    expect(e.value('ip_masq_reconciles_total', { result: 'changed' })).toBe(4);
    expect(e.value('ip_masq_flannel_rules_removed_total')).toBe(2);
    expect(e.value('ip_masq_flannel_readd_episodes_total')).toBe(1);
    expect(log.lines).toEqual([]);
  });

  it('an invalid config counts invalid_config and config_valid 0; a failing reconcile rethrows and counts its kind', async () => {
    const inst = instrumentDaemon({
      load: async () => {
        throw new ConfigError([{ file: 'c', line: 1, col: 1, path: '', message: 'bad' }]);
      },
      reconcile: async (): Promise<{ changed: boolean; flannelDeleted: never[] }> => {
        throw new NftError('NFT_PERMISSION', 'denied', { argv: [], exitStatus: 1, stderr: '' });
      },
      flannelReadds: { record: () => ({ warning: null }) },
    });
    await expect(inst.load('c')).rejects.toThrow(ConfigError);
    await inst.afterPass(collectingLog());
    await expect(inst.reconcile(config)).rejects.toThrow(NftError);
    await inst.afterPass(collectingLog());
    const e = parseExposition(inst.metrics.render());
    expect(e.value('ip_masq_config_valid')).toBe(0);
    expect(e.value('ip_masq_reconciles_total', { result: 'invalid_config' })).toBe(1);
    expect(e.value('ip_masq_reconciles_total', { result: 'error' })).toBe(1);
    expect(e.value('ip_masq_nft_errors_total', { kind: 'permission' })).toBe(1);
  });

  it('writes the textfile after each pass, follows textfileDir changes (removing the old file), serves and stops /metrics', async () => {
    const a = tempDir();
    const b = tempDir();
    let enforced = makeConfig({
      metrics: { textfileDir: a, listen: { host: '127.0.0.1', port: 0, loopback: true } },
    });
    const inst = instrumentDaemon({
      load: async () => ({}),
      reconcile: async () => ({ changed: false, flannelDeleted: [] }),
      flannelReadds: { record: () => ({ warning: null }) },
    });
    const log = collectingLog();
    await inst.reconcile(enforced);
    await inst.afterPass(log);
    expect(
      parseExposition(readFileSync(join(a, 'ip_masq.prom'), 'utf8')).value(
        'ip_masq_reconciles_total',
        { result: 'unchanged' },
      ),
    ).toBe(1);
    expect(statSync(join(a, 'ip_masq.prom')).mode & 0o777).toBe(0o644);
    const port = inst.listening!.port;
    const scraped = await get(port, '/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(
      parseExposition(scraped.body).value('ip_masq_reconciles_total', { result: 'unchanged' }),
    ).toBe(1);
    expect((await get(port, '/')).status).toBe(404);
    expect(log.lines.map((l) => l.msg)).toEqual([
      `serving metrics on http://127.0.0.1:${port}/metrics`,
    ]);

    enforced = makeConfig({ metrics: { textfileDir: b, listen: null } });
    await inst.reconcile(enforced);
    await inst.afterPass(log);
    expect(existsSync(join(a, 'ip_masq.prom'))).toBe(false);
    expect(
      parseExposition(readFileSync(join(b, 'ip_masq.prom'), 'utf8')).value(
        'ip_masq_reconciles_total',
        { result: 'unchanged' },
      ),
    ).toBe(2);
    expect(readdirSync(b)).toEqual(['ip_masq.prom']);
    expect(inst.listening).toBeNull();
    await expect(get(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
    await inst.stop();
  });

  it('a textfile that cannot be written is logged once per cause, not every pass; a non-loopback listen is warned about', async () => {
    const inst = instrumentDaemon({
      load: async () => ({}),
      reconcile: async () => ({ changed: false, flannelDeleted: [] }),
      flannelReadds: { record: () => ({ warning: null }) },
    });
    const log = collectingLog();
    const enforced = makeConfig({
      metrics: {
        textfileDir: '/nonexistent/dir',
        listen: { host: '0.0.0.0', port: 0, loopback: false },
      },
    });
    for (let i = 0; i < 3; i++) {
      await inst.reconcile(enforced);
      await inst.afterPass(log);
    }
    expect(
      log.lines.filter((l) =>
        l.msg.startsWith('cannot write metrics to /nonexistent/dir/ip_masq.prom'),
      ),
    ).toHaveLength(1);
    expect(
      log.lines.filter((l) => l.level === 'warn' && l.msg.includes('is not a loopback address')),
    ).toHaveLength(1);
    await inst.stop();
  });
});

describe('writeTextfile', () => {
  it('replaces the file by rename (a reader never sees a partial file) and leaves no temp file', async () => {
    const dir = tempDir();
    await writeTextfile(dir, 'a 1\n');
    const inode = statSync(join(dir, 'ip_masq.prom')).ino;
    await writeTextfile(dir, 'a 2\n');
    expect(readFileSync(join(dir, 'ip_masq.prom'), 'utf8')).toBe('a 2\n');
    expect(statSync(join(dir, 'ip_masq.prom')).ino).not.toBe(inode);
    expect(readdirSync(dir)).toEqual(['ip_masq.prom']);
  });
});

describe('metrics.listen', () => {
  it.each([
    ['127.0.0.1:9817', { host: '127.0.0.1', port: 9817, loopback: true }],
    ['9817', { host: '127.0.0.1', port: 9817, loopback: true }],
    [':9817', { host: '127.0.0.1', port: 9817, loopback: true }],
    ['localhost:9817', { host: '127.0.0.1', port: 9817, loopback: true }],
    ['[::1]:9817', { host: '::1', port: 9817, loopback: true }],
    ['127.0.0.53:1', { host: '127.0.0.53', port: 1, loopback: true }],
    ['0.0.0.0:9817', { host: '0.0.0.0', port: 9817, loopback: false }],
    ['[::]:9817', { host: '::', port: 9817, loopback: false }],
    ['192.0.2.10:65535', { host: '192.0.2.10', port: 65535, loopback: false }],
  ])('%s', (text, listen) => expect(parseMetricsListen(text)).toEqual({ ok: true, listen }));

  it.each([
    ['::1:9817', /IPv6 address without brackets; write "\[::1\]:9817"/],
    ['node.example:9817', /"node\.example" is not an IP address/],
    ['127.0.0.1', /port "1" is not a number|has no port/],
    ['127.0.0.1:0', /port "0" is not a number from 1 to 65535/],
    ['127.0.0.1:65536', /port "65536"/],
    ['127.0.0.1:http', /port "http"/],
  ])('rejects %s', (text, reason) => {
    const r = parseMetricsListen(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('check accepts a non-loopback address and warns about it', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.yaml');
    writeFileSync(path, 'metrics:\n  listen: "0.0.0.0:9817"\n');
    const r = await cli('check', '--config', path);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `warning: ${path}:2:3: metrics.listen: 0.0.0.0:9817 is not a loopback address`,
    );
    writeFileSync(path, 'metrics:\n  listen: "127.0.0.1:9817"\n');
    expect((await cli('check', '--config', path)).stdout).not.toContain('warning');
  });

  it('config errors point at the value; a number is accepted as a port', () => {
    expect(() => parseConfigText('metrics:\n  listen: "0.0.0.0"\n', 'c.yaml')).toThrow(
      /^c\.yaml:2:11: metrics\.listen: "0\.0\.0\.0"/,
    );
    expect(parseConfigText('metrics:\n  listen: 9817\n', 'c.yaml').metrics.listen).toEqual({
      host: '127.0.0.1',
      port: 9817,
      loopback: true,
    });
    expect(() => parseConfigText('metrics:\n  textfileDir: relative/dir\n', 'c.yaml')).toThrow(
      /metrics\.textfileDir: expected an absolute directory/,
    );
    expect(() => parseConfigText('metrics:\n  textFileDir: /x\n', 'c.yaml')).toThrow(
      /unknown key "textFileDir"; did you mean textfileDir\?/,
    );
  });
});

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: a fresh connection each time (a kept-alive one would outlive the listener).
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
