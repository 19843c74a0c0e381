/**
 * `ip_masq.prom` for node_exporter's textfile collector, replaced atomically: written to a
 * temp file in the same directory (same file system, so rename(2) is atomic) and renamed over
 * the old one. The collector reads only `*.prom`, so the temp name (`.ip_masq.prom.<random>.tmp`,
 * opened O_EXCL|O_NOFOLLOW: fs/write-atomic.ts) is never half-read.
 *
 * Mode 0644 is set explicitly: the unit runs with UMask=0077, which would leave the file
 * readable by the dynamic user only, and node_exporter runs as another user.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/write-atomic.js';

export const TEXTFILE_NAME = 'ip_masq.prom';

export function textfilePath(dir: string): string {
  return join(dir, TEXTFILE_NAME);
}

/** Replaces `<dir>/ip_masq.prom` with `text`. Throws the fs error (the caller logs it). */
export async function writeTextfile(dir: string, text: string): Promise<void> {
  await writeFileAtomic(textfilePath(dir), text, { mode: 0o644 });
}

/**
 * Removes our file from a directory we no longer write to (textfileDir changed or removed), so
 * node_exporter stops exporting frozen values. Missing is fine.
 */
export async function removeTextfile(dir: string): Promise<void> {
  await unlink(textfilePath(dir)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}
