/**
 * Metrics with the real daemon (the built bundle, `ip-masq run`, in a throwaway network
 * namespace with real nft): the textfile node_exporter reads and GET /metrics scraped by a real
 * HTTP client (fetch, run inside the daemon's namespace against its loopback), both parsed by a
 * strict exposition parser. Drift, an invalid config and a failing nft move the counters; a
 * config without `metrics:` opens no socket.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns } from '../helpers/netns.js';
import { parseExposition, type Exposition } from '../helpers/prom.js';
import {
  bundleBuilt,
  DaemonSandbox,
  waitFor,
  type DaemonChild,
} from '../reliability/daemon-harness.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

let sandbox: DaemonSandbox;
let daemon: DaemonChild | null = null;
let textDir: string;
const PORT = 19817;

beforeAll(async () => {
  if (!NETNS) return;
  if (!bundleBuilt()) throw new Error('dist/ip-masq.js is missing: run `make build` first');
  sandbox = await DaemonSandbox.create('metric');
  textDir = join(sandbox.root, 'node-exporter');
  mkdirSync(textDir);
});

afterAll(async () => {
  if (!NETNS) return;
  await daemon?.stop();
  await sandbox?.dispose();
});

function config(extra = ''): string {
  return `nonMasqueradeCIDRs: [10.0.0.0/8, 10.1.0.0/16, 198.51.100.0/24]\nmetrics:\n  textfileDir: ${textDir}\n  listen: "127.0.0.1:${PORT}"\n${extra}`;
}

/** GET /metrics with fetch, from inside the daemon's namespace. */
async function scrape(port = PORT): Promise<{ status: number; type: string | null; body: string }> {
  const script = `fetch('http://127.0.0.1:${port}/metrics').then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, type: r.headers.get('content-type'), body: await r.text() })), (e) => { process.stderr.write(String(e.cause ?? e)); process.exit(3); })`;
  const out = await sandbox.ns.mustExec([process.execPath, '-e', script]);
  return JSON.parse(out) as { status: number; type: string | null; body: string };
}

function textfile(): Exposition {
  return parseExposition(readFileSync(join(textDir, 'ip_masq.prom'), 'utf8'));
}

/** Waits until the textfile parses and satisfies `pred`. */
async function textfileWhere(what: string, pred: (e: Exposition) => boolean): Promise<Exposition> {
  return waitFor(what, () => {
    if (!existsSync(join(textDir, 'ip_masq.prom'))) return undefined;
    const e = textfile();
    return pred(e) ? e : undefined;
  });
}

describe.runIf(NETNS)('metrics with the real daemon', () => {
  it('writes ip_masq.prom (0644, atomically: no temp file left) after the first pass', async () => {
    sandbox.writeConfig(config());
    daemon = await sandbox.start();
    await daemon.ready();
    const e = await textfileWhere(
      'a changed pass',
      (x) => x.value('ip_masq_reconciles_total', { result: 'changed' }) >= 1,
    );
    expect(e.value('ip_masq_config_valid')).toBe(1);
    expect(e.value('ip_masq_nonmasquerade_cidrs', { stage: 'configured' })).toBe(3);
    expect(e.value('ip_masq_nonmasquerade_cidrs', { stage: 'collapsed' })).toBe(2);
    expect(e.value('ip_masq_last_success_timestamp_seconds')).toBeGreaterThan(1_600_000_000);
    expect(e.value('ip_masq_reconcile_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(statSync(join(textDir, 'ip_masq.prom')).mode & 0o777).toBe(0o644);
    expect(readdirSync(textDir)).toEqual(['ip_masq.prom']);
  });

  it('serves GET /metrics on the loopback of its namespace, the same families as the textfile', async () => {
    const r = await waitFor('the listener', () => scrape().catch(() => undefined));
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const e = parseExposition(r.body);
    expect([...e.families.keys()].sort()).toEqual([...textfile().families.keys()].sort());
    expect([...e.families.keys()].sort()).toEqual([
      'ip_masq_build_info',
      'ip_masq_config_valid',
      'ip_masq_drift_repairs_total',
      'ip_masq_flannel_readd_episodes_total',
      'ip_masq_flannel_rules_removed_total',
      'ip_masq_last_success_timestamp_seconds',
      'ip_masq_nft_errors_total',
      'ip_masq_nonmasquerade_cidrs',
      'ip_masq_reconcile_duration_seconds',
      'ip_masq_reconciles_total',
      'process_open_fds',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
    ]);
    expect(e.families.get('ip_masq_reconcile_duration_seconds')?.type).toBe('histogram');
  });

  it('a deleted table is a drift repair', async () => {
    const before = textfile().value('ip_masq_drift_repairs_total');
    await sandbox.ns.mustExec(['nft', 'delete', 'table', 'ip', 'ip-masq']);
    await textfileWhere(
      'a drift repair',
      (x) => x.value('ip_masq_drift_repairs_total') === before + 1,
    );
    expect(await sandbox.nomasq()).toEqual(['10.0.0.0/8', '198.51.100.0/24']);
  });

  it('an invalid config: config_valid 0 and invalid_config counted; valid again: 1', async () => {
    sandbox.writeConfig(config('masqLinkLocal: yes\n'));
    const e = await textfileWhere('config_valid 0', (x) => x.value('ip_masq_config_valid') === 0);
    expect(
      e.value('ip_masq_reconciles_total', { result: 'invalid_config' }),
    ).toBeGreaterThanOrEqual(1);
    sandbox.writeConfig(config());
    await textfileWhere('config_valid 1', (x) => x.value('ip_masq_config_valid') === 1);
  });

  it('a failing nft counts errors by kind', async () => {
    sandbox.breakNft();
    sandbox.writeConfig(config('masqLinkLocal: true\n'));
    const e = await textfileWhere(
      'an nft error',
      (x) => x.value('ip_masq_nft_errors_total', { kind: 'failed' }) >= 1,
    );
    expect(e.value('ip_masq_reconciles_total', { result: 'error' })).toBeGreaterThanOrEqual(1);
    sandbox.fixNft();
    sandbox.writeConfig(config());
    await textfileWhere(
      'success after the fix',
      (x) =>
        x.value('ip_masq_last_success_timestamp_seconds') >
        e.value('ip_masq_last_success_timestamp_seconds'),
    );
  });

  it('moving the listener closes the old port; dropping textfileDir removes the file', async () => {
    sandbox.writeConfig(
      `nonMasqueradeCIDRs: [10.0.0.0/8]\nmetrics:\n  listen: "127.0.0.1:${PORT + 1}"\n`,
    );
    const moved = await waitFor('the new port', () => scrape(PORT + 1).catch(() => undefined));
    expect(
      parseExposition(moved.body).value('ip_masq_nonmasquerade_cidrs', { stage: 'configured' }),
    ).toBe(1);
    await expect(scrape(PORT)).rejects.toThrow(/ECONNREFUSED/);
    await waitFor('the textfile removed', () => !existsSync(join(textDir, 'ip_masq.prom')));
  });

  it('a non-loopback listen address is accepted with a warning', async () => {
    const from = daemon!.lines.length;
    sandbox.writeConfig(`metrics:\n  listen: "0.0.0.0:${PORT + 2}"\n`);
    const warn = await daemon!.waitForLine(
      'the warning',
      (l) => typeof l.msg === 'string' && l.msg.includes('is not a loopback address'),
      from,
    );
    expect(warn.msg).toContain(`0.0.0.0:${PORT + 2}`);
    expect((await scrape(PORT + 2)).status).toBe(200);
  });

  it('without metrics: in the config the daemon listens on nothing', async () => {
    sandbox.writeConfig('nonMasqueradeCIDRs: [10.0.0.0/8]\n');
    await waitFor(
      'no listening socket',
      async () => (await sandbox.ns.mustExec(['ss', '-Hltun'])).trim() === '',
    );
    await daemon!.stop();
    daemon = await sandbox.start();
    await daemon.ready();
    await daemon.quiet(300);
    expect((await sandbox.ns.mustExec(['ss', '-Hltun'])).trim()).toBe('');
  });
});
