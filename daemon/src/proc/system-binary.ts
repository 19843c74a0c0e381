/**
 * nft and iptables are looked up in the system directories only, never on the caller's PATH:
 * a PATH entry someone else can write to must not decide which binary gets CAP_NET_ADMIN.
 * `--nft PATH` still names any binary explicitly.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

export const SYSTEM_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'] as const;

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of `name` in the first system directory that has it as an executable
 * file; when none has it, the path in the first directory (so the "not found" error names a
 * real place to install it).
 */
export function resolveSystemBinary(
  name: string,
  dirs: readonly string[] = SYSTEM_BIN_DIRS,
  isExecutable: (path: string) => boolean = isExecutableFile,
): string {
  for (const dir of dirs) {
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  return join(dirs[0] ?? '/usr/sbin', name);
}
