import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  readRuntimeStatus,
  RUNTIME_STATUS_FILE,
  runtimeStatusWriter,
} from '../../daemon/src/daemon/runtime-status.js';
import { FlannelReaddTracker } from '../../daemon/src/flannel/episodes.js';

describe('runtime status (daemon → ip-masq status)', () => {
  it('writes the re-add counters when they change, and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-rt-'));
    expect(await readRuntimeStatus(dir)).toBeNull();
    const tracker = new FlannelReaddTracker();
    let now = 1_000_000;
    const write = runtimeStatusWriter(dir, () => tracker.snapshot(now));

    tracker.record(2, now); // leftovers at start
    await write();
    expect((await readRuntimeStatus(dir))?.flannel).toMatchObject({
      leftoverRules: 2,
      readds: 0,
      episodes: 0,
    });
    const first = statSync(join(dir, RUNTIME_STATUS_FILE)).ino;

    await write(); // nothing changed: the file is not rewritten (same inode: no rename)
    expect(statSync(join(dir, RUNTIME_STATUS_FILE)).ino).toBe(first);

    now += 5_000;
    tracker.record(2, now);
    await write();
    expect((await readRuntimeStatus(dir))?.flannel).toMatchObject({
      readds: 1,
      readdRules: 2,
      episodes: 1,
      episodeActive: true,
      lastReaddAt: now,
    });
    expect((await readRuntimeStatus(dir))?.pid).toBe(process.pid);
  });
});
