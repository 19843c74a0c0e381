/**
 * The daemon persists its last good config as text and re-validates it after a restart. With
 * drop-ins that text stands for several files: a JSON snapshot of every file that says
 * something. Without drop-ins it is config.yaml's own text, as before drop-ins existed.
 */
import { ConfigError } from '../errors.js';
import { mergeConfigFiles, type ConfigFileText } from './merge.js';
import type { Config } from './schema.js';

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
  if (!isSnapshot(text)) return mergeConfigFiles([{ path: label, text }]).config;
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
  return mergeConfigFiles(
    files.map((f) => ({ path: `${f.path} (saved in ${label})`, text: f.text })),
  ).config;
}
