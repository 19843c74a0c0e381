/**
 * The one way ip-masq reads a file it does not own (flannel's subnet.env, CNI configs, /proc
 * files, its state files): opened non-blocking (a FIFO or a device cannot stall the open),
 * regular files only (checked on the open descriptor, so nothing can be swapped in after the
 * check), and never more than a size cap (20 MB of NULs must not become 470 MB of heap).
 * Errors keep their errno `code` (ENOENT stays ENOENT for callers that treat absence as
 * normal); the two refusals of our own are `ENOTREG` and `EFBIG`.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export interface BoundedReadOptions {
  /** Refuse files larger than this many bytes. */
  maxBytes: number;
}

export class BoundedReadError extends Error {
  constructor(
    readonly code: 'ENOTREG' | 'EFBIG',
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'BoundedReadError';
  }
}

function kindOf(stat: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function human(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

/** Reads `path` as UTF-8 text under the rules above; throws on anything else. */
export async function readBounded(path: string, options: BoundedReadOptions): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stat = await fh.stat();
    if (!stat.isFile())
      throw new BoundedReadError(
        'ENOTREG',
        `${path} is ${kindOf(stat)}, expected a regular file`,
        path,
      );
    // /proc files report size 0: the size is checked by reading, up to one byte past the cap.
    if (stat.size > options.maxBytes) throw tooLarge(path, options.maxBytes);
    const buf = Buffer.alloc(Math.min(options.maxBytes + 1, Math.max(stat.size + 1, 4096)));
    let used = 0;
    let chunk = buf;
    for (;;) {
      if (used === chunk.length) {
        if (used > options.maxBytes) throw tooLarge(path, options.maxBytes);
        const bigger = Buffer.alloc(Math.min(options.maxBytes + 1, chunk.length * 2));
        chunk.copy(bigger, 0, 0, used);
        chunk = bigger;
      }
      const { bytesRead } = await fh.read(chunk, used, chunk.length - used, null);
      if (bytesRead === 0) break;
      used += bytesRead;
      if (used > options.maxBytes) throw tooLarge(path, options.maxBytes);
    }
    return chunk.toString('utf8', 0, used);
  } finally {
    await fh.close();
  }
}

function tooLarge(path: string, maxBytes: number): BoundedReadError {
  return new BoundedReadError(
    'EFBIG',
    `${path} is larger than ${human(maxBytes)}, more than it can legitimately hold`,
    path,
  );
}

/** Caps for the files we read (documented in ip-masq(8)). */
export const READ_CAPS = {
  /** flanneld's subnet.env: six short lines. */
  subnetEnv: 64 * 1024,
  /** One CNI config file. */
  cniConfig: 1024 * 1024,
  /** /proc/net files (ip_tables_names; dev, one line per interface, on a node with many pods). */
  procNames: 16 * 1024 * 1024,
  /** Our state files (the persisted config is JSON-escaped config text). */
  state: 64 * 1024 * 1024,
  /** A systemd unit file (doctor's ordering check). */
  unit: 1024 * 1024,
} as const;
