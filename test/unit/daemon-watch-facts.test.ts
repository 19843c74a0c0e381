import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FactsWatcher } from '../../daemon/src/daemon/watch-facts.js';

// Real directories and real inotify, laid out like a booting node: /run/flannel does not
// exist yet when the daemon starts. Waits poll for the event; no timing is asserted.
describe('FactsWatcher (flannel subnet.env)', () => {
  let watcher: FactsWatcher | null = null;
  afterEach(() => {
    watcher?.close();
    watcher = null;
  });

  function start(path: string): string[] {
    const events: string[] = [];
    watcher = new FactsWatcher({ onChange: (_e, p) => events.push(p) });
    watcher.follow(path);
    return events;
  }

  async function expectEvent(events: string[], act: () => void, expected: string): Promise<void> {
    events.length = 0;
    act();
    await vi.waitFor(() => expect(events).toContain(expected), { timeout: 5000 });
  }

  /** flanneld's WriteSubnetFile: a dot-file in the same directory, renamed into place. */
  function flanneldWrites(dir: string, text: string): void {
    writeFileSync(join(dir, '.subnet.env'), text);
    renameSync(join(dir, '.subnet.env'), join(dir, 'subnet.env'));
  }

  it('sees the directory appear late, the file renamed into place, rewritten and deleted', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ipm-facts-'));
    const run = join(root, 'run');
    mkdirSync(run);
    const dir = join(run, 'flannel');
    const file = join(dir, 'subnet.env');
    const events = start(file);
    // Boot: flanneld creates /run/flannel, then renames its lease file into it.
    await expectEvent(events, () => mkdirSync(dir), dir);
    await expectEvent(events, () => flanneldWrites(dir, 'FLANNEL_NETWORK=10.244.0.0/16\n'), file);
    // A new lease (rewrite in place, then by rename again) and a deletion.
    await expectEvent(events, () => writeFileSync(file, 'FLANNEL_NETWORK=10.245.0.0/16\n'), file);
    await expectEvent(events, () => flanneldWrites(dir, 'FLANNEL_NETWORK=10.246.0.0/16\n'), file);
    await expectEvent(events, () => unlinkSync(file), file);
    // The directory removed and re-created (a tmpfs /run after flannel's pod restarts).
    rmSync(dir, { recursive: true });
    watcher!.recheck();
    await expectEvent(events, () => mkdirSync(dir), dir);
    await expectEvent(events, () => flanneldWrites(dir, 'FLANNEL_NETWORK=10.244.0.0/16\n'), file);
  });

  it('ignores other files of the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-facts-'));
    const file = join(dir, 'subnet.env');
    const events = start(file);
    writeFileSync(join(dir, 'other.env'), 'x');
    // The lease file written afterwards: its event arrives, and the other file's never did.
    await expectEvent(events, () => writeFileSync(file, 'x'), file);
    expect(events.every((p) => p === file)).toBe(true);
  });

  it('follows a new path when the config moves the lease file', async () => {
    const a = mkdtempSync(join(tmpdir(), 'ipm-facts-'));
    const b = mkdtempSync(join(tmpdir(), 'ipm-facts-'));
    const events = start(join(a, 'subnet.env'));
    watcher!.follow(join(b, 'subnet.env'));
    expect(watcher!.watching).toBe(join(b, 'subnet.env'));
    writeFileSync(join(a, 'subnet.env'), 'x');
    await expectEvent(
      events,
      () => writeFileSync(join(b, 'subnet.env'), 'x'),
      join(b, 'subnet.env'),
    );
    expect(events).not.toContain(join(a, 'subnet.env'));
  });
});
