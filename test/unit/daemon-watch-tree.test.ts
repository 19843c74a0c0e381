/**
 * watchConfigTree on a real temp directory: events for config.yaml's directory and for
 * config.d/, which may appear, be deleted and re-created while the watcher runs. Waits poll for
 * the expected event; nothing asserts a duration.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchConfigTree } from '../../daemon/src/daemon/watch-tree.js';
import type { ConfigWatcher } from '../../daemon/src/daemon/watch.js';

let root: string;
let events: string[];
let watcher: ConfigWatcher | null;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ipm-watch-tree-'));
  events = [];
  watcher = null;
});
afterEach(() => {
  watcher?.close();
  rmSync(root, { recursive: true, force: true });
});

async function seen(path: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!events.includes(path)) {
    if (Date.now() > deadline)
      throw new Error(`no event for ${path}; got ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watchConfigTree', () => {
  it('reports config.yaml edits and drop-ins added, edited, renamed and removed, config.d created late, deleted and re-created', async () => {
    const config = join(root, 'config.yaml');
    const dropDir = join(root, 'config.d');
    watcher = watchConfigTree({ path: config, onChange: (_e, p) => events.push(p) });

    writeFileSync(config, 'masqLinkLocal: true\n');
    await seen(config);

    mkdirSync(dropDir);
    await seen(dropDir);
    const a = join(dropDir, '10-a.yaml');
    writeFileSync(a, 'nonMasqueradeCIDRs: [192.0.2.0/24]\n');
    await seen(a);

    events.length = 0;
    writeFileSync(a, 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    await seen(a);
    renameSync(a, join(dropDir, '10-a.yaml.off'));
    await seen(join(dropDir, '10-a.yaml.off'));
    rmSync(join(dropDir, '10-a.yaml.off'));

    rmSync(dropDir, { recursive: true });
    await seen(dropDir);
    events.length = 0;
    mkdirSync(dropDir);
    await seen(dropDir);
    const b = join(dropDir, '20-b.yaml');
    writeFileSync(b, 'masqLinkLocalIPv6: true\n');
    await seen(b);

    // config.yaml's directory still reported after all that.
    events.length = 0;
    writeFileSync(config, 'masqLinkLocal: false\n');
    await seen(config);
    expect(events).toContain(config);
  });

  it('a config.d/ that exists at start is watched from the start', async () => {
    const dropDir = join(root, 'config.d');
    mkdirSync(dropDir);
    watcher = watchConfigTree({
      path: join(root, 'config.yaml'),
      onChange: (_e, p) => events.push(p),
    });
    writeFileSync(join(dropDir, 'x.yaml'), '{}\n');
    await seen(join(dropDir, 'x.yaml'));
  });
});
