/**
 * Is the config safe to trust? Whoever can write config.yaml, a drop-in, or a directory that
 * holds one decides the node's SNAT policy (`nonMasqueradeCIDRs: [0.0.0.0/0]` switches
 * masquerade off). Like sshd's StrictModes and sudo's sudoers checks, each of these must be
 * owned by root (or by the daemon's own uid) and not writable by group or others:
 *
 *   - config.yaml and its directory;
 *   - config.d and each drop-in;
 *   - for a symlink (at any of those), its target and the target's directory.
 *
 * A directory with the sticky bit (such as /tmp) may be writable by others: they cannot
 * replace our file in it, and anything they add there is theirs, so it is refused by the owner
 * rule. An untrusted config is invalid (ConfigError CONFIG_INVALID, exit 6): the daemon keeps
 * the last good one. Each message names the path, its owner and mode, and the chown/chmod fix.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConfigIssue } from '../errors.js';

interface Owned {
  uid: number;
  mode: number;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

export interface TrustFs {
  lstat(path: string): Promise<Owned>;
  stat(path: string): Promise<Owned>;
  realpath(path: string): Promise<string>;
}

const realTrustFs: TrustFs = { lstat, stat, realpath };

const GROUP_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

/** Why `path` (stat `st`) must not be trusted, or null. Pure. */
export function untrusted(path: string, st: Owned, selfUid: number): string | null {
  const badOwner = st.uid !== 0 && st.uid !== selfUid;
  const writable = (st.mode & GROUP_OTHER_WRITE) !== 0;
  const badMode = writable && !(st.isDirectory() && (st.mode & STICKY) !== 0);
  if (!badOwner && !badMode) return null;
  const what = st.isDirectory() ? 'directory' : 'file';
  const who = [
    badOwner ? `owned by uid ${st.uid}, not root` : null,
    badMode
      ? `writable by ${(st.mode & 0o020) !== 0 ? 'group' : ''}${(st.mode & 0o022) === 0o022 ? ' and ' : ''}${(st.mode & 0o002) !== 0 ? 'others' : ''}`
      : null,
  ]
    .filter((x) => x !== null)
    .join(' and ');
  const fix = [badOwner ? `chown root:root ${path}` : null, badMode ? `chmod go-w ${path}` : null]
    .filter((x) => x !== null)
    .join(' && ');
  return `untrusted ${what} (mode ${octal(st.mode)}, uid ${st.uid}): ${who}, so someone other than root could change the node's SNAT policy; fix: ${fix}`;
}

/**
 * Checks every path the config was read from (see the list above). Paths that do not exist
 * are skipped (absence is the loader's business). Returns one issue per untrusted path.
 */
export async function configTrustIssues(
  configPath: string,
  dropInDir: string,
  dropIns: readonly string[],
  options: { fs?: TrustFs; selfUid?: number } = {},
): Promise<ConfigIssue[]> {
  const fs = options.fs ?? realTrustFs;
  const self = options.selfUid ?? process.getuid?.() ?? 0;
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const check = async (path: string, follow: boolean): Promise<void> => {
    if (seen.has(path)) return;
    seen.add(path);
    let st: Owned;
    try {
      st = await fs.lstat(path);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) {
      if (!follow) return;
      let target: string;
      try {
        target = await fs.realpath(path);
      } catch {
        return;
      }
      await check(target, false);
      await check(dirname(target), false);
      return;
    }
    const why = untrusted(path, st, self);
    if (why !== null) issues.push({ file: path, line: 0, col: 0, path: '', message: why });
  };
  for (const file of [configPath, ...dropIns]) {
    let exists = true;
    await fs.lstat(file).catch(() => (exists = false));
    if (!exists) continue;
    await check(dirname(file), true);
    await check(file, true);
  }
  if (dropIns.length > 0) {
    await check(dirname(dropInDir), true);
    await check(dropInDir, true);
  }
  return issues;
}
