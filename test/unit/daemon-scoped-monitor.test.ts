import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MonitorEvent } from '../../daemon/src/nft/monitor.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { ScopedMonitor, type ScopedMonitorOptions } from '../../daemon/src/nft/scoped-monitor.js';

/**
 * A fake nft that records its arguments (one file per live child, removed when it is killed)
 * and prints one event naming its filter, so a test can see which monitors run.
 */
function fakeNft(): { open: ScopedMonitorOptions['open']; live: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ipm-scoped-'));
  const script = join(dir, 'fake-nft.mjs');
  writeFileSync(
    script,
    `import { writeFileSync, rmSync } from 'node:fs';
const args = process.argv.slice(2).join(' ');
const file = ${JSON.stringify(dir)} + '/live-' + process.pid;
writeFileSync(file, args);
process.on('SIGTERM', () => { rmSync(file, { force: true }); process.exit(0); });
const table = args.endsWith('rules') ? 'nat' : 'ip-masq';
process.stdout.write(JSON.stringify({ add: { chain: { family: 'ip', table, name: args } } }) + '\\n');
setInterval(() => {}, 1000);`,
  );
  const live = () =>
    readdirSync(dir)
      .filter((f) => f.startsWith('live-'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .sort();
  const client = new NftClient({ argv: [process.execPath, script] });
  return { open: (handlers) => client.monitor(handlers), live };
}

describe('ScopedMonitor', () => {
  let monitor: ScopedMonitor | null = null;
  afterEach(async () => {
    await monitor?.stop();
    monitor = null;
  });

  it('always watches chains only; rules only inside a window opened by watchRules()', async () => {
    const nft = fakeNft();
    const events: MonitorEvent[] = [];
    monitor = new ScopedMonitor({
      open: nft.open,
      ruleWindowMs: 1500,
      onEvent: (e) => events.push(e),
    });
    monitor.start();
    await vi.waitFor(() => expect(nft.live()).toEqual(['-j monitor chains']), { timeout: 5000 });
    expect(monitor.watchingRules).toBe(false);

    monitor.watchRules();
    expect(monitor.watchingRules).toBe(true);
    await vi.waitFor(
      () => expect(nft.live()).toEqual(['-j monitor chains', '-j monitor new rules']),
      { timeout: 5000 },
    );
    await vi.waitFor(() => expect(events.map((e) => e.table).sort()).toEqual(['ip-masq', 'nat']), {
      timeout: 5000,
    });

    // The window closes on its own: the rule-level child goes, the chain monitor stays.
    await vi.waitFor(() => expect(monitor!.watchingRules).toBe(false), { timeout: 5000 });
    await vi.waitFor(() => expect(nft.live()).toEqual(['-j monitor chains']), { timeout: 5000 });

    await monitor.stop();
    await vi.waitFor(() => expect(nft.live()).toEqual([]), { timeout: 5000 });
  });

  it('watchRules() while the window is open extends it and starts no second child', async () => {
    const nft = fakeNft();
    monitor = new ScopedMonitor({ open: nft.open, ruleWindowMs: 1000, onEvent: () => undefined });
    monitor.start();
    monitor.watchRules();
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 300));
      monitor.watchRules();
    }
    // 3 s after the first call, three windows: still open, still one rule monitor.
    expect(monitor.watchingRules).toBe(true);
    await vi.waitFor(
      () => expect(nft.live()).toEqual(['-j monitor chains', '-j monitor new rules']),
      { timeout: 5000 },
    );
  });

  it('watchRules() after stop() starts nothing', async () => {
    const nft = fakeNft();
    monitor = new ScopedMonitor({ open: nft.open, onEvent: () => undefined });
    monitor.start();
    await monitor.stop();
    monitor.watchRules();
    expect(monitor.watchingRules).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(nft.live()).toEqual([]);
  });
});
