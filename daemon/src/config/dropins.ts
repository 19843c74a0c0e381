/**
 * The drop-in directory (`<dir of config.yaml>/config.d/*.yaml`): which entries count, in which
 * order.
 *
 * Azure's ip-masq-agent-v2 exists because a provisioning tool and a human both need to own part
 * of the non-masquerade list; drop-ins give each its own file. Which names count, like systemd's
 * and sudo's drop-in directories: `*.yaml`, `*.yml` and `*.json`, not starting with a dot (editor
 * swap and lock files such as `.x.yaml.swp`, `.#x.yaml`), in byte order of the name (C locale).
 * Backups (`x.yaml~`, `x.yaml.bak`, `.dpkg-old`, `.rpmnew`) do not end in a counted suffix.
 * Entries that are not regular files (after following symlinks: Kubernetes-style `..data`
 * mounts are symlinks) are skipped and reported by `check`.
 *
 * The merge rules are in merge.ts, the loader that reads all of it in tree.ts. Reading each
 * file has the same checks as config.yaml itself (load.ts): a dangling symlink, a binary or
 * oversized file is an error naming the file.
 */
import { join, dirname } from 'node:path';
import { DROPIN_DIR_NAME } from './defaults.js';
import { MAX_DROPINS_TOTAL_BYTES } from './limits.js';
import { errnoOf, readConfigText, unreadable, type ConfigFs } from './load.js';
import type { ConfigFileText } from './merge.js';

const COUNTED_SUFFIXES = ['.yaml', '.yml', '.json'];

/** The drop-in directory of a config file. */
export function dropInDirOf(configPath: string): string {
  return join(dirname(configPath), DROPIN_DIR_NAME);
}

/** Does this directory entry name count as a drop-in? */
export function isDropInName(name: string): boolean {
  if (name.startsWith('.')) return false;
  return COUNTED_SUFFIXES.some((suffix) => name.length > suffix.length && name.endsWith(suffix));
}

/** Byte order of the UTF-8 names (what `ls` shows with LC_ALL=C), independent of the locale. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The drop-in files, in order, and the skipped entries. Throws ConfigError CONFIG_UNREADABLE. */
export async function readDropIns(
  dir: string,
  fs: ConfigFs,
): Promise<{ files: ConfigFileText[]; ignored: Array<{ path: string; reason: string }> }> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    const errno = errnoOf(e);
    // No directory: no drop-ins (the normal case). A missing parent is the same thing.
    if (errno === 'ENOENT') return { files: [], ignored: [] };
    if (errno === 'ENOTDIR')
      throw unreadable(
        dir,
        'is not a directory (drop-in files go in a directory of this name); remove or rename it',
        e,
      );
    if (errno === 'EACCES' || errno === 'EPERM') {
      throw unreadable(
        dir,
        'cannot be listed: permission denied (the service runs as an unprivileged user: chmod 0755 the directory)',
        e,
      );
    }
    throw unreadable(dir, `cannot be listed: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const files: ConfigFileText[] = [];
  const ignored: Array<{ path: string; reason: string }> = [];
  let total = 0;
  for (const name of [...names].sort(byteOrder)) {
    const path = join(dir, name);
    if (!isDropInName(name)) {
      // Said by `check` as a warning: a `10-vpc.conf` or a `.dpkg-old` copy would otherwise be
      // silently not applied. Hidden names (editor swap and lock files) are left out.
      if (!name.startsWith('.'))
        ignored.push({ path, reason: 'the name does not end in .yaml, .yml or .json' });
      continue;
    }
    const st = await fs.stat(path).catch(() => null);
    if (st !== null && !st.isFile()) {
      ignored.push({ path, reason: st.isDirectory() ? 'a directory' : 'not a regular file' });
      continue;
    }
    // A dangling symlink or a file we may not read is an error (readConfigText says which);
    // a file deleted between the listing and the read is simply not there any more.
    const text = await readConfigText(path, fs);
    if (text === null) continue;
    // Each file has its own 4 MiB cap; together they have one too (limits.ts).
    total += Buffer.byteLength(text);
    if (total > MAX_DROPINS_TOTAL_BYTES)
      throw unreadable(
        dir,
        `its drop-ins hold more than ${MAX_DROPINS_TOTAL_BYTES / (1024 * 1024)} MiB together (at ${name}); a drop-in directory holds a few small files`,
      );
    files.push({ path, text });
  }
  return { files, ignored };
}
