/**
 * The config loader: config.yaml and the drop-ins of config.d/ next to it → one validated
 * Config, with where each setting came from. Every verb and the daemon load through here.
 *
 *   read each file (load.ts) → parse each (parse.ts) → merge (merge.ts) → Config
 *
 * - neither config.yaml nor a drop-in exists → the defaults, origin 'absent';
 * - any file unreadable → ConfigError CONFIG_UNREADABLE naming it;
 * - any problem in any file → ConfigError CONFIG_INVALID with every issue, each naming its file.
 */
import { ConfigError } from '../errors.js';
import { dropInDirOf, readDropIns } from './dropins.js';
import { readConfigText, realFs, type ConfigFs } from './load.js';
import {
  mergeConfigFiles,
  type CidrSource,
  type ConfigFileText,
  type SettingSource,
} from './merge.js';
import type { Config, SettingKey } from './schema.js';
import { snapshotText } from './snapshot.js';
import { configTrustIssues } from './trust.js';

/** A loaded, validated configuration: what the daemon enforces and remembers. */
export interface LoadedConfig {
  config: Config;
  /** 'absent': no file at all (not even a dangling symlink), so the defaults apply. */
  origin: 'file' | 'absent';
  /**
   * What the daemon persists as the last good config and re-validates with
   * `parseConfigSnapshot` (snapshot.ts); null when absent.
   */
  text: string | null;
  /** The main file's path as given by the caller. */
  path: string;
}

/** `LoadedConfig` plus what `check` shows about the files. */
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
  /** Where each entry of a concatenated list (other than nonMasqueradeCIDRs) came from. */
  listSources: (key: SettingKey) => SettingSource[];
}

/**
 * Reads config.yaml and its drop-ins and merges them. `text` is the main file's text (BOM
 * removed) when no drop-in adds anything, so a node without drop-ins behaves exactly as
 * before drop-ins existed; otherwise a JSON snapshot of every file (snapshot.ts).
 */
export async function loadConfigTree(
  path: string,
  fs: ConfigFs = realFs,
): Promise<LoadedConfigTree> {
  const mainText = await readConfigText(path, fs);
  const dropInDir = dropInDirOf(path);
  const dropIns = await readDropIns(dropInDir, fs);
  const files: ConfigFileText[] =
    mainText === null ? [...dropIns.files] : [{ path, text: mainText }, ...dropIns.files];
  // Only a config nobody else could have written is applied (trust.ts).
  const untrusted = await configTrustIssues(
    path,
    dropInDir,
    dropIns.files.map((f) => f.path),
  );
  if (untrusted.length > 0) throw new ConfigError(untrusted, 'CONFIG_INVALID');
  const merged = mergeConfigFiles(files);
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
    listSources: merged.listSources,
  };
}
