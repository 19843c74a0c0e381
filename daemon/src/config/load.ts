/**
 * Reads one config file's text (with dropins.ts's directory listing, the only I/O of config/):
 * absent → null, anything unreadable → one clear ConfigError line naming the file.
 *
 * The file is opened once and everything is decided on that descriptor (fstat, bounded
 * read), so a file swapped between checks cannot slip past the size limit. Checks on the file
 * itself (its kind, size, owner or mode) belong in `readBounded`, on that descriptor's fstat.
 */
import { constants as fsConstants } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { MAX_CONFIG_BYTES } from './defaults.js';

/**
 * The file system calls the loader makes. Production uses node:fs; tests inject failures they
 * cannot provoke for real (EACCES as root).
 */
export interface ConfigFs {
  open(path: string, flags: number): Promise<FileHandle>;
  lstat(path: string): Promise<{ isSymbolicLink(): boolean }>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ isFile(): boolean; isDirectory(): boolean }>;
}

export const realFs: ConfigFs = {
  open: (p, flags) => open(p, flags),
  lstat: (p) => lstat(p),
  readlink: (p) => readlink(p),
  readdir: (p) => readdir(p),
  stat: (p) => stat(p),
};

/** The one-line error for a file or directory that cannot be used at all. */
export function unreadable(path: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError(
    [{ file: path, line: 0, col: 0, path: '', message }],
    'CONFIG_UNREADABLE',
    { cause },
  );
}

export function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e
    ? String((e as { code: unknown }).code)
    : undefined;
}

function permissionMessage(): string {
  const uid = process.getuid?.();
  if (uid === 0)
    return 'permission denied even for root (check the mode, ACLs and AppArmor/SELinux)';
  return `permission denied for uid ${uid ?? '?'} (the ip-masq service runs as an unprivileged dynamic user: make the file and its directories readable by others, e.g. chmod 0644)`;
}

/** Offset of the first byte that breaks UTF-8, or -1. Only called after a decode failed. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i] as number;
    const need =
      b < 0x80
        ? 0
        : b >= 0xc2 && b <= 0xdf
          ? 1
          : b >= 0xe0 && b <= 0xef
            ? 2
            : b >= 0xf0 && b <= 0xf4
              ? 3
              : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    // Overlong 3/4-byte forms, UTF-16 surrogates and code points above U+10FFFF.
    const c1 = bytes[i + 1] as number;
    if (
      (b === 0xe0 && c1 < 0xa0) ||
      (b === 0xed && c1 >= 0xa0) ||
      (b === 0xf0 && c1 < 0x90) ||
      (b === 0xf4 && c1 >= 0x90)
    )
      return i;
    i += need + 1;
  }
  return -1;
}

/** Bytes → text, or the reason the bytes are not a text file. */
function decode(bytes: Uint8Array): { text: string } | { problem: string } {
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { problem: 'is UTF-16 (little-endian BOM); save it as UTF-8' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return { problem: 'is UTF-16 (big-endian BOM); save it as UTF-8' };
  const nul = bytes.indexOf(0);
  if (nul !== -1)
    return { problem: `contains binary data (NUL byte at offset ${nul}); is this the right file?` };
  try {
    // fatal: reject invalid sequences instead of turning them into U+FFFD; the UTF-8 BOM is
    // dropped (ignoreBOM false), as editors on other systems like to add one.
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    return {
      problem: `is not valid UTF-8 (invalid byte at offset ${at}); is this the right file?`,
    };
  }
}

/** Why opening failed, in one line, or null when the file is simply absent. */
async function openFailure(path: string, e: unknown, fs: ConfigFs): Promise<string | null> {
  switch (errnoOf(e)) {
    case 'ENOENT': {
      // open() follows symlinks: a link to nowhere looks absent. It is almost certainly a
      // broken deployment, not a request for defaults, so say so instead of loading them.
      const link = await fs.lstat(path).catch(() => null);
      if (link === null || !link.isSymbolicLink()) return null;
      const target = await fs.readlink(path).catch(() => '?');
      return `is a dangling symlink (points to ${JSON.stringify(target)}, which does not exist)`;
    }
    case 'EACCES':
    case 'EPERM':
      return permissionMessage();
    case 'ELOOP':
      return 'is a symlink loop (too many levels of symbolic links)';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    default:
      return `cannot be opened: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * The text of a config file (BOM removed), or null when it is absent (ENOENT, also when its
 * directory is missing). Throws ConfigError CONFIG_UNREADABLE (one line) for a directory, a
 * non-regular file, a dangling symlink, a loop, no permission, more than 4 MiB, binary or
 * non-UTF-8 content.
 */
export async function readConfigText(path: string, fs: ConfigFs): Promise<string | null> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer appears;
    // it has no effect on regular files.
    handle = await fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const problem = await openFailure(path, e, fs);
    if (problem === null) return null;
    throw unreadable(path, problem, e);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(handle, path);
  } finally {
    await handle.close().catch(() => undefined);
  }
  const decoded = decode(bytes);
  if ('problem' in decoded) throw unreadable(path, decoded.problem);
  return decoded.text;
}

async function readBounded(handle: FileHandle, path: string): Promise<Uint8Array> {
  let stat;
  try {
    stat = await handle.stat();
  } catch (e) {
    throw unreadable(path, `cannot be inspected: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (stat.isDirectory()) throw unreadable(path, 'is a directory, not a file');
  if (!stat.isFile()) throw unreadable(path, `is not a regular file (${fileKind(stat)})`);
  if (stat.size > MAX_CONFIG_BYTES)
    throw unreadable(path, `${stat.size} bytes is larger than the 4 MiB limit`);

  // The size from fstat can be stale (the file grows) or 0 (procfs-like files), so read up to
  // one byte past the limit and decide on what was actually read.
  const buffer = Buffer.alloc(Math.min(MAX_CONFIG_BYTES + 1, Math.max(stat.size + 1, 64 * 1024)));
  let total = 0;
  let chunk = buffer;
  for (;;) {
    if (total === chunk.length) {
      if (chunk.length > MAX_CONFIG_BYTES) break;
      const bigger = Buffer.alloc(Math.min(MAX_CONFIG_BYTES + 1, chunk.length * 2));
      chunk.copy(bigger, 0, 0, total);
      chunk = bigger;
    }
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(chunk, total, chunk.length - total, null));
    } catch (e) {
      const errno = errnoOf(e);
      if (errno === 'EISDIR') throw unreadable(path, 'is a directory, not a file', e);
      throw unreadable(path, `cannot be read: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    if (bytesRead === 0) break;
    total += bytesRead;
  }
  if (total > MAX_CONFIG_BYTES)
    throw unreadable(path, `is larger than the 4 MiB limit (more than ${MAX_CONFIG_BYTES} bytes)`);
  return chunk.subarray(0, total);
}

function fileKind(stat: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'not a file';
}
