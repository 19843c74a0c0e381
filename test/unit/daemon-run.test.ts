import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Config } from '../../daemon/src/config/schema.js';
import type { LoadedConfig } from '../../daemon/src/config/tree.js';
import { createLogger } from '../../daemon/src/daemon/log.js';
import type { Notifier } from '../../daemon/src/daemon/notify.js';
import { runDaemon } from '../../daemon/src/daemon/run.js';
import { ConfigError } from '../../daemon/src/errors.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { makeConfig } from '../helpers/config.js';

/** runDaemon in-process: a real config directory and watcher, fake config parsing and reconcile, no nft. */
describe('runDaemon', () => {
  it('reconciles at start, on edits and on SIGHUP; SIGHUP is handled before READY; SIGTERM resolves 0 after the current pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-run-'));
    const configPath = join(dir, 'etc', 'config.yaml');
    mkdirSync(join(dir, 'etc'));
    writeFileSync(configPath, '10.0.0.0/8');
    const applied: string[][] = [];
    const notes: string[] = [];
    const lines: Array<Record<string, unknown>> = [];
    const signals = new EventEmitter();
    let hupListenersAtReady = -1;
    const notifier: Notifier = {
      enabled: true,
      watchdogIntervalMs: null,
      ready: (s) => {
        hupListenersAtReady = signals.listenerCount('SIGHUP');
        notes.push(`READY ${s}`);
      },
      status: (s) => void notes.push(`STATUS ${s}`),
      watchdog: () => undefined,
      stopping: (s) => void notes.push(`STOPPING ${s}`),
      flush: async () => undefined,
    };
    // flannel's lease file present: READY carries no "no subnet.env yet" note.
    const subnetEnv = join(dir, 'subnet.env');
    writeFileSync(subnetEnv, 'FLANNEL_NETWORK=10.244.0.0/16\n');
    const parse = (text: string, file: string): Config => {
      if (text.includes('!'))
        throw new ConfigError([{ file, line: 1, col: 1, path: '', message: 'bang' }]);
      const base = makeConfig();
      return makeConfig({
        nonMasqueradeCIDRs: text
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        flannel: { ...base.flannel, subnetEnv },
      });
    };
    let gate: Promise<void> = Promise.resolve();
    let entered = false;
    const done = runDaemon({
      configPath,
      stateDir: join(dir, 'state'),
      client: new NftClient({ argv: ['/nonexistent/nft'] }),
      env: {},
      signals,
      monitor: false,
      log: createLogger({
        journal: false,
        level: 'debug',
        write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>),
      }),
      notifier,
      load: async (path): Promise<LoadedConfig> => {
        const text = readFileSync(path, 'utf8');
        return { config: parse(text, path), origin: 'file', text, path };
      },
      parse,
      defaults: () => makeConfig(),
      reconcile: async (config) => {
        entered = true;
        await gate;
        const last = applied[applied.length - 1];
        const changed = JSON.stringify(last) !== JSON.stringify(config.nonMasqueradeCIDRs);
        if (changed) applied.push(config.nonMasqueradeCIDRs);
        return {
          changed,
          reason: changed ? 'set differs' : null,
          warnings: [],
          errors: [],
          cidrsAdded: [],
          cidrsRemoved: [],
          flannelDeleted: [],
          transactions: changed ? 1 : 0,
          durationMs: 1,
        };
      },
    });
    await vi.waitFor(() => expect(notes[0]).toBe(`READY enforcing ${configPath}, generation 1`), {
      timeout: 5000,
    });
    expect(hupListenersAtReady).toBe(1);
    expect(applied).toEqual([['10.0.0.0/8']]);

    writeFileSync(configPath, '192.0.2.0/24');
    await vi.waitFor(() => expect(applied).toEqual([['10.0.0.0/8'], ['192.0.2.0/24']]), {
      timeout: 5000,
    });

    writeFileSync(configPath, 'broken!');
    await vi.waitFor(
      () => expect(notes.some((n) => n.startsWith('STATUS config invalid'))).toBe(true),
      { timeout: 5000 },
    );
    expect(
      JSON.parse(readFileSync(join(dir, 'state', 'last-good-config.json'), 'utf8')),
    ).toMatchObject({ text: '192.0.2.0/24' });

    const passes = () => lines.filter((l) => l.msg === 'pass started').length;
    const before = passes();
    signals.emit('SIGHUP');
    await vi.waitFor(
      () =>
        expect(
          lines.some(
            (l) => l.msg === 'pass started' && (l.triggers as string[]).includes('sighup'),
          ),
        ).toBe(true),
      { timeout: 5000 },
    );
    await vi.waitFor(() => expect(passes()).toBeGreaterThan(before));

    // SIGTERM during a pass: the pass finishes (its apply lands), then runDaemon resolves 0.
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    await new Promise((r) => setTimeout(r, 50));
    entered = false;
    writeFileSync(configPath, '198.18.0.0/15');
    await vi.waitFor(() => expect(entered).toBe(true), { timeout: 5000 });
    signals.emit('SIGTERM');
    let finished = false;
    void done.then(() => (finished = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(finished).toBe(false);
    release();
    expect(await done).toBe(0);
    expect(applied[applied.length - 1]).toEqual(['198.18.0.0/15']);
    expect(notes[notes.length - 1]).toBe('STOPPING stopping (SIGTERM); rules stay in place');
    expect(signals.listenerCount('SIGHUP')).toBe(0);
  });

  it('re-plans as soon as flannel writes subnet.env into a directory that did not exist at start; READY does not wait for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-run-facts-'));
    const configPath = join(dir, 'etc', 'config.yaml');
    mkdirSync(join(dir, 'etc'));
    writeFileSync(configPath, 'x');
    const flannelDir = join(dir, 'run', 'flannel');
    const subnetEnv = join(flannelDir, 'subnet.env');
    const base = makeConfig();
    const config = makeConfig({ flannel: { ...base.flannel, subnetEnv } });
    const notes: string[] = [];
    const lines: Array<Record<string, unknown>> = [];
    const signals = new EventEmitter();
    // What each reconcile would have seen of the facts (the real one reads the file).
    const seen: Array<string | null> = [];
    const done = runDaemon({
      configPath,
      stateDir: join(dir, 'state'),
      client: new NftClient({ argv: ['/nonexistent/nft'] }),
      env: {},
      signals,
      monitor: false,
      log: createLogger({
        journal: false,
        level: 'debug',
        write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>),
      }),
      notifier: {
        enabled: true,
        watchdogIntervalMs: null,
        ready: (s) => void notes.push(`READY ${s}`),
        status: (s) => void notes.push(`STATUS ${s}`),
        watchdog: () => undefined,
        stopping: () => undefined,
        flush: async () => undefined,
      },
      load: async (path): Promise<LoadedConfig> => ({ config, origin: 'file', text: 'x', path }),
      parse: () => config,
      defaults: () => config,
      reconcile: async () => {
        let text: string | null = null;
        try {
          text = readFileSync(subnetEnv, 'utf8');
        } catch {
          // not written yet
        }
        const changed = seen[seen.length - 1] !== text;
        seen.push(text);
        return {
          changed,
          reason: changed ? 'set differs' : null,
          warnings: [],
          cidrsAdded: [],
          cidrsRemoved: [],
          flannelDeleted: [],
          transactions: changed ? 1 : 0,
          durationMs: 1,
        };
      },
    });
    await vi.waitFor(() => expect(notes[0]).toMatch(/^READY /), { timeout: 5000 });
    expect(notes[0]).toBe(
      `READY enforcing ${configPath}, generation 1; no ${subnetEnv} yet: no pod-network exclusions until flanneld writes it (watched)`,
    );
    expect(seen).toEqual([null]);

    // flanneld starts: creates /run/flannel, writes .subnet.env and renames it into place.
    mkdirSync(flannelDir, { recursive: true });
    writeFileSync(join(flannelDir, '.subnet.env'), 'FLANNEL_NETWORK=10.244.0.0/16\n');
    renameSync(join(flannelDir, '.subnet.env'), subnetEnv);
    await vi.waitFor(() => expect(seen[seen.length - 1]).toBe('FLANNEL_NETWORK=10.244.0.0/16\n'), {
      timeout: 5000,
    });
    expect(
      lines.some((l) => l.msg === 'pass started' && (l.triggers as string[]).includes('facts')),
    ).toBe(true);
    // No resync happened: the default resync is 60 s.
    expect(lines.some((l) => (l.triggers as string[] | undefined)?.includes('resync'))).toBe(false);
    await vi.waitFor(() =>
      expect(notes[notes.length - 1]).toBe(`STATUS enforcing ${configPath}, generation 2`),
    );
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
  });
});
