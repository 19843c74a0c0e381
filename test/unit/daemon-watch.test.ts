import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchConfigDir, type ConfigWatcher } from '../../daemon/src/daemon/watch.js';

// A real directory and real chokidar (its behaviour on rename and directory re-creation is
// exactly what matters); waits poll for the event, no timing is asserted.
describe('watchConfigDir', () => {
  let watcher: ConfigWatcher | null = null;
  afterEach(async () => {
    await watcher?.close();
    watcher = null;
  });

  async function start(dir: string) {
    const events: string[] = [];
    watcher = await watchConfigDir({ path: join(dir, 'config.yaml'), onChange: (e, p) => events.push(`${e} ${p.slice(dir.length)}`) });
    return events;
  }

  it('reports in-place writes, rename-replace and deletion of the file, and ignores other files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'a');
    const events = await start(dir);
    writeFileSync(join(dir, 'other.yaml'), 'x');
    writeFileSync(file, 'b');
    await vi.waitFor(() => expect(events).toContain('change /config.yaml'), { timeout: 5000 });
    events.length = 0;
    writeFileSync(join(dir, '.config.yaml.swp'), 'y');
    writeFileSync(`${file}.tmp`, 'c');
    renameSync(`${file}.tmp`, file);
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(0), { timeout: 5000 });
    expect(events.every((e) => e.endsWith(' /config.yaml'))).toBe(true);
    events.length = 0;
    unlinkSync(file);
    await vi.waitFor(() => expect(events).toContain('unlink /config.yaml'), { timeout: 5000 });
  });

  it('picks up a directory that does not exist yet, and one that is deleted and re-created', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'ip-masq');
    const events = await start(dir);
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.yaml'), 'a');
    // The file may arrive with its directory, before the directory is watched: reported as the directory.
    await vi.waitFor(() => expect(events.some((e) => e === 'addDir ' || e === 'add /config.yaml')).toBe(true), { timeout: 5000 });
    events.length = 0;
    writeFileSync(join(dir, 'config.yaml'), 'a2');
    await vi.waitFor(() => expect(events).toContain('change /config.yaml'), { timeout: 5000 });
    events.length = 0;
    rmSync(dir, { recursive: true });
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(0), { timeout: 5000 });
    events.length = 0;
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.yaml'), 'b');
    await vi.waitFor(() => expect(events.some((e) => e === 'addDir ' || e === 'add /config.yaml')).toBe(true), { timeout: 5000 });
    events.length = 0;
    writeFileSync(join(dir, 'config.yaml'), 'c');
    await vi.waitFor(() => expect(events).toContain('change /config.yaml'), { timeout: 5000 });
  });

  it('waits for several missing levels to appear one after the other', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'etc', 'ip-masq');
    const events = await start(dir);
    mkdirSync(join(parent, 'etc'));
    await new Promise((r) => setTimeout(r, 50));
    mkdirSync(dir);
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(0), { timeout: 5000 });
    writeFileSync(join(dir, 'config.yaml'), 'a');
    await vi.waitFor(() => expect(events).toContain('add /config.yaml'), { timeout: 5000 });
  });

  it('recheck() re-arms when the directory appeared behind its back', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ipm-watch-'));
    const dir = join(parent, 'ip-masq');
    const events = await start(dir);
    mkdirSync(dir);
    await watcher!.recheck();
    writeFileSync(join(dir, 'config.yaml'), 'a');
    await vi.waitFor(() => expect(events).toContain('add /config.yaml'), { timeout: 5000 });
  });
});
