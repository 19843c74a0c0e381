/**
 * Replaces a file atomically: written to a temp file in the same directory (same file system,
 * so rename(2) is atomic) and renamed over the target. The temp name is random and opened with
 * O_EXCL|O_NOFOLLOW: in a directory someone else can write to (a textfile collector directory),
 * a symlink or file planted at a predictable name cannot redirect or pre-empt our write.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's mode, set on the descriptor (not subject to the umask). */
  mode: number;
  /** fsync the file before the rename and the directory after it (survives a power cut). */
  durable?: boolean;
}

/** The temp name for `target`: hidden, random, never matching `*.prom`/`*.json`. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
}

export async function writeFileAtomic(
  target: string,
  data: string,
  options: AtomicWriteOptions,
): Promise<void> {
  const tmp = tempNameFor(target);
  try {
    const fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      options.mode,
    );
    try {
      await fh.writeFile(data, 'utf8');
      await fh.chmod(options.mode);
      if (options.durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    // Name the target, not the random temp file: the same failure reads the same every time.
    const err = e as NodeJS.ErrnoException;
    if (typeof err.message === 'string') err.message = err.message.split(tmp).join(target);
    throw err;
  }
  if (options.durable) {
    // The rename is durable only once the directory entry is on disk.
    const dh = await open(dirname(target), 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
