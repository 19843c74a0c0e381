/**
 * `ip_masq.prom` for node_exporter's textfile collector, replaced atomically: written to a
 * temp file in the same directory (same file system, so rename(2) is atomic) and renamed over
 * the old one. The collector reads only `*.prom`, so the temp name (`.ip_masq.prom.<pid>.tmp`)
 * is never half-read.
 *
 * Mode 0644 is set explicitly: the unit runs with UMask=0077, which would leave the file
 * readable by the dynamic user only, and node_exporter runs as another user.
 */
import { chmod, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const TEXTFILE_NAME = 'ip_masq.prom';

export function textfilePath(dir: string): string {
  return join(dir, TEXTFILE_NAME);
}

/** Replaces `<dir>/ip_masq.prom` with `text`. Throws the fs error (the caller logs it). */
export async function writeTextfile(dir: string, text: string): Promise<void> {
  const target = textfilePath(dir);
  const tmp = join(dir, `.${TEXTFILE_NAME}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
    } finally {
      await fh.close();
    }
    await chmod(tmp, 0o644);
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
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
