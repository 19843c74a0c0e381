import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../daemon/src/config/schema.js';
import type { LoadedConfig } from '../../daemon/src/config/tree.js';
import { Backoff } from '../../daemon/src/util/backoff.js';
import { DaemonController, type ReconcileSummary } from '../../daemon/src/daemon/controller.js';
import { createLogger } from '../../daemon/src/daemon/log.js';
import { ReconcileLoop } from '../../daemon/src/daemon/loop.js';
import type { Notifier } from '../../daemon/src/daemon/notify.js';
import type { PersistedConfig } from '../../daemon/src/daemon/state.js';
import { ConfigError, NftError } from '../../daemon/src/errors.js';
import { makeConfig } from '../helpers/config.js';

/**
 * A toy config language so the controller is tested without YAML: "cidrs: a, b" (valid),
 * anything containing "BAD" is invalid at line 2, column 3, "" means defaults.
 */
function parseToy(text: string, file: string): Config {
  if (text.includes('BAD')) {
    throw new ConfigError([
      { file, line: 2, col: 3, path: 'nonMasqueradeCIDRs[0]', message: '"BAD" is not a CIDR' },
      { file, line: 4, col: 1, path: 'bogus', message: 'unknown key' },
    ]);
  }
  const m = /cidrs:\s*(.*)/.exec(text);
  const list = m
    ? m[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : ['10.0.0.0/8'];
  return makeConfig({ nonMasqueradeCIDRs: list });
}

class Fixture {
  files = new Map<string, string>();
  /** The "kernel": the CIDRs of our live table, null when the table is absent. */
  live: string[] | null = null;
  nftFailure: Error | null = null;
  reconciles: Config[] = [];
  flannelToDelete: Array<{ chain: string; iptables: string; comment?: string | null }> = [];
  /** Rejected flannel facts the next passes report. */
  rejected: string[] = [];
  lines: Array<Record<string, unknown>> = [];
  notes: string[] = [];
  persisted: PersistedConfig | null = null;
  saves = 0;
  t = 1_000_000;
  path = '/etc/ip-masq/config.yaml';
  controller: DaemonController;

  constructor(
    options: { vanishGraceMs?: number; backoff?: Backoff; fightThreshold?: number } = {},
  ) {
    const log = createLogger({
      journal: false,
      level: 'debug',
      write: (l) => void this.lines.push(JSON.parse(l) as Record<string, unknown>),
    });
    const notify: Notifier = {
      enabled: true,
      watchdogIntervalMs: null,
      ready: (s) => void this.notes.push(`READY ${s}`),
      status: (s) => void this.notes.push(`STATUS ${s}`),
      watchdog: () => void this.notes.push('WATCHDOG'),
      stopping: (s) => void this.notes.push(`STOPPING ${s}`),
      flush: async () => undefined,
    };
    this.controller = new DaemonController({
      configPath: this.path,
      load: async (path): Promise<LoadedConfig> => {
        const text = this.files.get(path);
        if (text === undefined)
          return { config: parseToy('', path), origin: 'absent', text: '', path };
        return { config: parseToy(text, path), origin: 'file', text, path };
      },
      parse: parseToy,
      defaults: () => parseToy('', 'defaults'),
      reconcile: async (config): Promise<ReconcileSummary> => {
        this.reconciles.push(config);
        if (this.nftFailure) throw this.nftFailure;
        const want = config.nonMasqueradeCIDRs;
        const before = this.live ?? [];
        const changed = JSON.stringify(this.live) !== JSON.stringify(want);
        this.live = [...want];
        const flannelDeleted = this.flannelToDelete.map((r) => ({
          family: 'ip' as const,
          table: 'nat',
          ...r,
        }));
        this.flannelToDelete = [];
        return {
          changed,
          reason: changed ? 'set differs' : null,
          warnings: [],
          errors: this.rejected,
          cidrsAdded: changed ? want.filter((c) => !before.includes(c)) : [],
          cidrsRemoved: changed ? before.filter((c) => !want.includes(c)) : [],
          flannelDeleted,
          transactions: (changed ? 1 : 0) + (flannelDeleted.length ? 1 : 0),
          durationMs: 12.34,
        };
      },
      state: {
        file: '/var/lib/ip-masq/last-good-config.json',
        load: async () => this.persisted,
        save: async (p) => {
          this.saves++;
          this.persisted = p;
        },
      },
      log,
      notify,
      now: () => this.t,
      ...options,
    });
  }

  logs(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter(
      (l) => l.msg === msg || (typeof l.msg === 'string' && l.msg.startsWith(msg)),
    );
  }
}

afterEach(() => vi.useRealTimers());

describe('DaemonController', () => {
  it('applies a valid file, sends READY once with a STATUS, persists it, and writes one audit event', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8, 192.168.0.0/16');
    f.flannelToDelete = [
      {
        chain: 'FLANNEL-POSTRTG',
        iptables:
          '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully',
        comment: 'flanneld masq',
      },
    ];
    expect(await f.controller.pass(['start'])).toEqual({});
    expect(f.live).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
    expect(f.notes).toEqual([`READY enforcing ${f.path}, generation 1`]);
    expect(f.persisted).toMatchObject({
      origin: 'file',
      source: f.path,
      text: 'cidrs: 10.0.0.0/8, 192.168.0.0/16',
    });
    const [audit, ...more] = f.logs('applied ruleset');
    expect(more).toHaveLength(0);
    expect(audit).toMatchObject({
      level: 30,
      trigger: 'start',
      generation: 1,
      cidrsAdded: ['10.0.0.0/8', '192.168.0.0/16'],
      cidrsRemoved: [],
      flannelRulesDeleted: [
        {
          chain: 'FLANNEL-POSTRTG',
          rule: '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully',
          comment: 'flanneld masq',
        },
      ],
      durationMs: 12.3,
    });

    // Nothing changed: no audit event, no new save, no new STATUS.
    await f.controller.pass(['resync']);
    expect(f.logs('applied ruleset')).toHaveLength(1);
    expect(f.saves).toBe(1);
    expect(f.notes).toHaveLength(1);

    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    await f.controller.pass(['file', 'drift']);
    expect(f.logs('applied ruleset')[1]).toMatchObject({
      trigger: 'file',
      triggers: ['file', 'drift'],
      generation: 2,
      cidrsAdded: [],
      cidrsRemoved: ['192.168.0.0/16'],
    });
    expect(f.saves).toBe(2);
  });

  it('rejected flannel facts are logged at error priority (once per cause); the rest still applies', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    f.rejected = [
      '/run/flannel/subnet.env:1: FLANNEL_NETWORK=0.0.0.0/0: cluster network 0.0.0.0/0 is shorter than /8',
    ];
    await f.controller.pass(['start']);
    await f.controller.pass(['resync']);
    expect(f.live).toEqual(['10.0.0.0/8']);
    const errors = f.lines.filter((l) => l['code'] === 'FLANNEL_FACTS_REJECTED');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: 50 });
    expect(String(errors[0]?.['msg'])).toMatch(
      /subnet\.env:1: FLANNEL_NETWORK=0\.0\.0\.0\/0: .*flannel's rules of that family are left in place/,
    );
  });

  it('a file event with unchanged content costs no reconcile; any other trigger still reconciles', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    await f.controller.pass(['start']);
    expect(f.reconciles).toHaveLength(1);
    await f.controller.pass(['file']);
    await f.controller.pass(['file', 'file']);
    expect(f.reconciles).toHaveLength(1);
    f.live = null;
    await f.controller.pass(['file', 'drift']);
    expect(f.reconciles).toHaveLength(2);
    expect(f.live).toEqual(['10.0.0.0/8']);
    await f.controller.pass(['sighup']);
    expect(f.reconciles).toHaveLength(3);
    // After a failed reconcile, an edit (even to the same bytes) is an attempt.
    f.nftFailure = new Error('nft: kernel says no');
    await f.controller.pass(['resync']);
    f.nftFailure = null;
    await f.controller.pass(['file']);
    expect(f.reconciles).toHaveLength(5);
    // Broken, then back to the very same bytes: no reconcile needed, but STATUS recovers.
    f.files.set(f.path, 'BAD');
    await f.controller.pass(['file']);
    expect(f.controller.status).toContain('config invalid');
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    await f.controller.pass(['file']);
    expect(f.reconciles).toHaveLength(6);
    expect(f.controller.status).toBe(`enforcing ${f.path}, generation 2`);
  });

  it('keeps enforcing the last good config while the file is invalid, logs each issue with file:line:col, and applies once valid', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    await f.controller.pass(['start']);
    f.files.set(f.path, 'cidrs: BAD');
    f.live = null; // someone flushed the ruleset meanwhile: healed from the last good config
    await f.controller.pass(['file']);
    expect(f.live).toEqual(['10.0.0.0/8']);
    const [err] = f.logs('config invalid');
    expect(err).toMatchObject({
      level: 50,
      issues: [
        `${f.path}:2:3: nonMasqueradeCIDRs[0]: "BAD" is not a CIDR`,
        `${f.path}:4:1: bogus: unknown key`,
      ],
    });
    expect(err!.msg).toContain(`${f.path}:2:3`);
    expect(f.controller.status).toContain(
      `config invalid: ${f.path}:2:3: nonMasqueradeCIDRs[0]: "BAD" is not a CIDR (and 1 more)`,
    );
    expect(f.persisted?.text).toBe('cidrs: 10.0.0.0/8');

    f.files.set(f.path, 'cidrs: 172.16.0.0/12');
    await f.controller.pass(['file']);
    expect(f.live).toEqual(['172.16.0.0/12']);
    expect(f.controller.status).not.toContain('invalid');
    expect(f.logs('config valid again')).toHaveLength(1);
  });

  it('rate-limits an identical repeated config error and reports the suppressed count', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    await f.controller.pass(['start']);
    f.files.set(f.path, 'BAD');
    for (let i = 0; i < 10; i++) await f.controller.pass(['resync']);
    expect(f.logs('config invalid')).toHaveLength(1);
    f.t += 61_000;
    await f.controller.pass(['resync']);
    expect(f.logs('config invalid')).toHaveLength(2);
    expect(f.logs('config invalid')[1]).toMatchObject({ suppressed: 9 });
  });

  it('at start with an invalid file applies the persisted last good config and says so', async () => {
    const f = new Fixture();
    f.persisted = {
      origin: 'file',
      source: f.path,
      text: 'cidrs: 192.168.0.0/16',
      savedAt: '2026-11-30T10:00:00.000Z',
    };
    f.files.set(f.path, 'BAD');
    await f.controller.pass(['start']);
    expect(f.live).toEqual(['192.168.0.0/16']);
    expect(
      f.logs(
        'config file invalid at start; applying the last good config saved 2026-11-30T10:00:00.000Z',
      ),
    ).toHaveLength(1);
    expect(f.notes[0]).toMatch(
      /^READY config invalid: .*:2:3: .*; enforcing the persisted last good config, generation 1$/,
    );
    expect(f.saves).toBe(0);
  });

  it('keeps the persisted config as the candidate when the first apply fails', async () => {
    const f = new Fixture();
    f.persisted = { origin: 'file', source: f.path, text: 'cidrs: 192.168.0.0/16', savedAt: 'x' };
    f.files.set(f.path, 'BAD');
    f.nftFailure = new NftError('NFT_FAILED', 'nft failed with exit code 1', {
      argv: ['nft'],
      exitStatus: 1,
      stderr: '',
    });
    expect((await f.controller.pass(['start'])).retryAfterMs).toBe(250);
    f.nftFailure = null;
    await f.controller.pass(['retry']);
    expect(f.live).toEqual(['192.168.0.0/16']);
  });

  it('with an invalid file and nothing persisted: stays up, applies nothing, READY says why, applies when valid', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'BAD');
    expect(await f.controller.pass(['start'])).toEqual({});
    expect(f.reconciles).toHaveLength(0);
    expect(f.live).toBeNull();
    expect(f.notes).toEqual([
      `READY waiting for a valid config: ${f.path}:2:3: nonMasqueradeCIDRs[0]: "BAD" is not a CIDR (and 1 more); no rules applied`,
    ]);
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    await f.controller.pass(['file']);
    expect(f.live).toEqual(['10.0.0.0/8']);
    expect(f.notes[1]).toBe(`STATUS enforcing ${f.path}, generation 1`);
  });

  it('a persisted file that is corrupt or no longer valid is ignored with a warning', async () => {
    const f = new Fixture();
    f.persisted = { origin: 'file', source: f.path, text: 'BAD too', savedAt: 'x' };
    f.files.set(f.path, 'BAD');
    await f.controller.pass(['start']);
    expect(f.live).toBeNull();
    expect(f.logs('ignoring the persisted config: it is no longer valid')).toHaveLength(1);
  });

  it('file absent → defaults with a warning; persisted as absent', async () => {
    const f = new Fixture();
    await f.controller.pass(['start']);
    expect(f.live).toEqual(['10.0.0.0/8']);
    expect(f.logs(`config file ${f.path} does not exist; applying the defaults`)[0]).toMatchObject({
      level: 40,
    });
    expect(f.persisted).toMatchObject({ origin: 'absent', text: '' });
    expect(f.controller.status).toContain('enforcing the defaults');
  });

  it('a file that vanishes (or is truncated) is re-checked after the grace before the defaults replace it', async () => {
    const f = new Fixture({ vanishGraceMs: 150 });
    f.files.set(f.path, 'cidrs: 192.168.0.0/16');
    await f.controller.pass(['start']);
    f.files.delete(f.path);
    expect(await f.controller.pass(['file'])).toEqual({ retryAfterMs: 150 });
    expect(f.live).toEqual(['192.168.0.0/16']);
    // Re-created within the grace: never flapped to the defaults.
    f.files.set(f.path, '');
    f.t += 100;
    expect(await f.controller.pass(['file'])).toEqual({ retryAfterMs: 50 });
    f.files.set(f.path, 'cidrs: 172.16.0.0/12');
    await f.controller.pass(['file']);
    expect(f.live).toEqual(['172.16.0.0/12']);
    // Deleted for good: defaults after the grace.
    f.files.delete(f.path);
    await f.controller.pass(['file']);
    f.t += 150;
    expect(await f.controller.pass(['retry'])).toEqual({});
    expect(f.live).toEqual(['10.0.0.0/8']);
    expect(f.logs('config file')).toHaveLength(1);
  });

  it('nft failing: backoff doubling from 250 ms capped at 30 s, STATUS says why, not READY until it works, then recovers', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    f.nftFailure = new NftError(
      'NFT_NOT_FOUND',
      'nft not found: /x/nft (install the nftables package, or pass --nft PATH)',
      { argv: ['/x/nft'], exitStatus: null, stderr: '' },
    );
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) delays.push((await f.controller.pass(['retry'])).retryAfterMs!);
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(f.controller.ready).toBe(false);
    expect(f.notes[0]).toBe(
      'STATUS nft failing (retry in 1s): nft not found: /x/nft (install the nftables package, or pass --nft PATH); no rules applied, generation 0',
    );
    const errors = f.logs('reconcile failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: 50, code: 'NFT_NOT_FOUND' });
    f.nftFailure = null;
    expect(await f.controller.pass(['retry'])).toEqual({});
    expect(f.controller.ready).toBe(true);
    expect(f.logs('nft works again')).toHaveLength(1);
    f.nftFailure = new Error('again');
    expect((await f.controller.pass(['retry'])).retryAfterMs).toBe(250);
  });

  it('a failing state directory is a warning, never a failed pass', async () => {
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    (
      f.controller as unknown as { deps: { state: { save: () => Promise<void> } } }
    ).deps.state.save = async () => {
      throw new Error('cannot save the last good config to /ro/x: EROFS');
    };
    expect(await f.controller.pass(['start'])).toEqual({});
    expect(f.live).toEqual(['10.0.0.0/8']);
    expect(f.logs('cannot save')[0]).toMatchObject({ level: 40 });
  });

  it('our own apply echoed back by the monitor costs one no-op pass, not a loop', async () => {
    vi.useFakeTimers();
    const f = new Fixture();
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    let loop!: ReconcileLoop;
    let passes = 0;
    loop = new ReconcileLoop({
      pass: async (t) => {
        passes++;
        const before = JSON.stringify(f.live);
        const out = await f.controller.pass(t);
        // The monitor reports every change to our table, including our own.
        if (JSON.stringify(f.live) !== before) setTimeout(() => loop.trigger('drift'), 1);
        return out;
      },
    });
    loop.trigger('start');
    await vi.advanceTimersByTimeAsync(100);
    expect(passes).toBe(2);
    f.files.set(f.path, 'cidrs: 172.16.0.0/12');
    loop.trigger('file');
    await vi.advanceTimersByTimeAsync(100);
    expect(passes).toBe(4);
    expect(f.live).toEqual(['172.16.0.0/12']);
    await loop.stop();
  });

  it('another process deleting our table after every restore is met with backoff, not a busy loop', async () => {
    vi.useFakeTimers();
    const f = new Fixture({ fightThreshold: 5 });
    f.files.set(f.path, 'cidrs: 10.0.0.0/8');
    let loop!: ReconcileLoop;
    let passes = 0;
    loop = new ReconcileLoop({
      pass: async (t) => {
        passes++;
        const out = await f.controller.pass(t);
        // The fighter: deletes our table right after each restore; the monitor reports it.
        setTimeout(() => {
          f.live = null;
          loop.trigger('drift');
        }, 1);
        return out;
      },
    });
    loop.trigger('start');
    await vi.advanceTimersByTimeAsync(60_000);
    // Without the guard this would be ~60,000 passes; with it, a handful per backoff step.
    expect(passes).toBeLessThan(30);
    expect(f.logs('table ip-masq keeps being changed by another process')).toHaveLength(1);
    await loop.stop();
  });
});
