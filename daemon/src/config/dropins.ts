/**
 * config.yaml plus its drop-in directory (`<dir of config.yaml>/config.d/*.yaml`) → one Config.
 *
 * Azure's ip-masq-agent-v2 exists because a provisioning tool and a human both need to own part
 * of the non-masquerade list; drop-ins give each its own file. Which names count, like systemd's
 * and sudo's drop-in directories: `*.yaml`, `*.yml` and `*.json`, not starting with a dot (editor
 * swap and lock files such as `.x.yaml.swp`, `.#x.yaml`), in byte order of the name (C locale).
 * Backups (`x.yaml~`, `x.yaml.bak`, `.dpkg-old`, `.rpmnew`) do not end in a counted suffix.
 * Entries that are not regular files (after following symlinks: Kubernetes-style `..data`
 * mounts are symlinks) are skipped and reported by `check`.
 *
 * The merge rules are in merge.ts. Reading each file has the same checks as config.yaml itself
 * (load.ts): a dangling symlink, a binary or oversized file is an error naming the file.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';
import { DROPIN_DIR_NAME } from './defaults.js';
import { readConfigText, type LoadedConfig } from './load.js';
import { mergeConfigFragments, type CidrSource, type SettingSource } from './merge.js';
import { parseConfigFragment } from './parse.js';
import type { Config } from './schema.js';

const COUNTED_SUFFIXES = ['.yaml', '.yml', '.json'];

/** A file that was read, with its text. */
export interface ConfigFileText {
  path: string;
  text: string;
}

export interface LoadedConfigTree extends LoadedConfig {
  /** `<dir of path>/config.d`. */
  dropInDir: string;
  /** Every file read, main file first (when present), then the drop-ins in order. */
  files: ConfigFileText[];
  /** Entries of config.d that look like drop-ins but were skipped, and why. */
  ignored: Array<{ path: string; reason: string }>;
  /** Which file each nonMasqueradeCIDRs entry came from (null file: the default list). */
  cidrSources: () => CidrSource[];
  /** Which file sets each other setting. */
  settingSources: Map<string, SettingSource>;
}

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

function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e
    ? String((e as { code: unknown }).code)
    : undefined;
}

function unreadable(path: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError(
    [{ file: path, line: 0, col: 0, path: '', message }],
    'CONFIG_UNREADABLE',
    { cause },
  );
}

/** The drop-in files, in order, and the skipped entries. Throws ConfigError CONFIG_UNREADABLE. */
async function readDropIns(
  dir: string,
): Promise<{ files: ConfigFileText[]; ignored: Array<{ path: string; reason: string }> }> {
  let names: string[];
  try {
    names = await readdir(dir);
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
  for (const name of names.filter(isDropInName).sort(byteOrder)) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st !== null && !st.isFile()) {
      ignored.push({ path, reason: st.isDirectory() ? 'a directory' : 'not a regular file' });
      continue;
    }
    // A dangling symlink or a file we may not read is an error (readConfigText says which);
    // a file deleted between the listing and the read is simply not there any more.
    const text = await readConfigText(path);
    if (text !== null) files.push({ path, text });
  }
  return { files, ignored };
}

/**
 * Reads config.yaml and its drop-ins and merges them.
 * - neither exists → the defaults, origin 'absent';
 * - any file unreadable → ConfigError CONFIG_UNREADABLE naming it;
 * - any problem in any file → ConfigError CONFIG_INVALID with every issue, each naming its file.
 *
 * `text` (what the daemon persists as the last good config and re-parses with
 * `parseConfigSnapshot`) is the main file's text when no drop-in adds anything, so a node
 * without drop-ins behaves exactly as before; otherwise a JSON snapshot of every file.
 */
export async function loadConfigTree(path: string): Promise<LoadedConfigTree> {
  const mainText = await readConfigText(path);
  const dropInDir = dropInDirOf(path);
  const dropIns = await readDropIns(dropInDir);
  const files: ConfigFileText[] =
    mainText === null ? [...dropIns.files] : [{ path, text: mainText }, ...dropIns.files];
  const merged = mergeConfigFragments(files.map((f) => parseConfigFragment(f.text, f.path)));
  return {
    config: merged.config,
    origin: files.length === 0 ? 'absent' : 'file',
    text: dropIns.files.length === 0 ? mainText : snapshotText(files),
    path,
    dropInDir,
    files,
    ignored: dropIns.ignored,
    cidrSources: merged.cidrSources,
    settingSources: merged.settingSources,
  };
}

const SNAPSHOT_KEY = 'ipMasqSnapshot';

/**
 * One text standing for several files. Blank files add nothing, so they are left out; when
 * nothing is left the text is '' (the daemon treats that like an emptied config file), and when
 * only config.yaml is left it is config.yaml's text.
 */
export function snapshotText(files: readonly ConfigFileText[]): string {
  const meaningful = files.filter((f) => f.text.trim() !== '');
  if (meaningful.length === 0) return '';
  const only = meaningful.length === 1 ? meaningful[0] : undefined;
  if (only !== undefined && only === files[0] && !isSnapshot(only.text)) return only.text;
  return JSON.stringify({
    [SNAPSHOT_KEY]: 1,
    files: meaningful.map((f) => ({ path: f.path, text: f.text })),
  });
}

function isSnapshot(text: string): boolean {
  return text.startsWith(`{"${SNAPSHOT_KEY}":`);
}

/**
 * Validates a text from `loadConfigTree` (a single file's text, or a snapshot of several):
 * what the daemon uses for its persisted last good config. Throws ConfigError.
 */
export function parseConfigSnapshot(text: string, label: string): Config {
  if (!isSnapshot(text)) return mergeConfigFragments([parseConfigFragment(text, label)]).config;
  let files: ConfigFileText[];
  try {
    const parsed = JSON.parse(text) as { files?: unknown };
    if (
      !Array.isArray(parsed.files) ||
      !parsed.files.every((f) => typeof f?.path === 'string' && typeof f?.text === 'string')
    ) {
      throw new Error('unexpected content');
    }
    files = parsed.files as ConfigFileText[];
  } catch (e) {
    throw new ConfigError([
      {
        file: label,
        line: 0,
        col: 0,
        path: '',
        message: `not a valid snapshot of the config files: ${(e as Error).message}`,
      },
    ]);
  }
  return mergeConfigFragments(
    files.map((f) => parseConfigFragment(f.text, `${f.path} (saved in ${label})`)),
  ).config;
}
