import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchConfigDir, type ConfigWatcher } from '../../daemon/src/daemon/watch.js';

// A real directory and real inotify: its behaviour on rename, symlinks and directory
// re-creation is exactly what matters. Waits poll for the event; no timing is asserted.
describe('watchConfigDir', () => {
  let watcher: ConfigWatcher | null = null;
  afterEach(() => {
    watcher?.close();
    watcher = null;
  });

  function start(dir: string) {
    const events: string[] = [];
    watcher = watchConfigDir({
      path: join(dir, 'config.yaml'),
      onChange: (_e, p) => events.push(p.slice(dir.length) || '<dir>'),
    });
    return events;
  }

  /** Runs `act` and waits until it produced an event naming `expected`. */
  async function expectEvent(events: string[], act: () => void, expected = '/config.yaml') {
    events.length = 0;
    act();
    await vi.waitFor(() => expect(events).toContain(expected), { timeout: 5000 });
  }

  it('reports in-place writes, rename-replace, deletion, symlink swaps and symlink loops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'a');
    const events = start(dir);
    await expectEvent(events, () => writeFileSync(file, 'b'));
    await expectEvent(events, () => {
      writeFileSync(`${file}.tmp`, 'c');
      renameSync(`${file}.tmp`, file);
    });
    await expectEvent(events, () => unlinkSync(file));
    await expectEvent(events, () => symlinkSync(file, file));
    await expectEvent(events, () => {
      unlinkSync(file);
      symlinkSync(join(dir, 'nope'), file);
    });
    await expectEvent(events, () => {
      writeFileSync(`${file}.tmp`, 'd');
      renameSync(`${file}.tmp`, file);
    });
    // Kubernetes-style: config.yaml -> ..data/config.yaml, updated by swapping ..data.
    await expectEvent(
      events,
      () => {
        mkdirSync(join(dir, '..v2'));
        writeFileSync(join(dir, '..v2', 'config.yaml'), 'e');
        symlinkSync('..v2', join(dir, '..data_tmp'));
        renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      },
      '/..data',
    );
  });

  it('picks up a directory that does not exist yet, and one that is deleted and re-created', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'ip-masq');
    const events = start(dir);
    await expectEvent(events, () => mkdirSync(dir), '<dir>');
    await expectEvent(events, () => writeFileSync(join(dir, 'config.yaml'), 'a'));
    events.length = 0;
    rmSync(dir, { recursive: true });
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(0), { timeout: 5000 });
    await expectEvent(events, () => mkdirSync(dir), '<dir>');
    await expectEvent(events, () => writeFileSync(join(dir, 'config.yaml'), 'b'));
  });

  it('follows the path, not the inode, when the directory is renamed away and replaced', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'ip-masq');
    mkdirSync(dir);
    const events = start(dir);
    renameSync(dir, `${dir}.old`);
    mkdirSync(dir);
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(0), { timeout: 5000 });
    watcher!.recheck();
    await expectEvent(events, () => writeFileSync(join(dir, 'config.yaml'), 'a'));
  });

  it('waits for several missing levels to appear one after the other', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'etc', 'ip-masq');
    const events = start(dir);
    mkdirSync(join(parent, 'etc'));
    await new Promise((r) => setTimeout(r, 50));
    await expectEvent(events, () => mkdirSync(dir), '<dir>');
    await expectEvent(events, () => writeFileSync(join(dir, 'config.yaml'), 'a'));
  });

  it('recheck() re-arms when the directory appeared behind its back', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'ip-masq');
    const events = start(dir);
    mkdirSync(dir);
    watcher!.recheck();
    await expectEvent(events, () => writeFileSync(join(dir, 'config.yaml'), 'a'));
  });
});
