/**
 * The last good configuration, persisted so that a restart (or a reboot) with a broken file
 * still applies what last worked instead of leaving the node without SNAT policy.
 *
 * Written atomically (temp file + fsync + rename + fsync of the directory): after a crash or a
 * power cut the file is either the old or the new version, never a torn one.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { IpMasqError } from '../errors.js';
import { READ_CAPS, readBounded } from '../fs/read-bounded.js';
import { writeFileAtomic } from '../fs/write-atomic.js';

export const DEFAULT_STATE_DIR = '/var/lib/ip-masq';
const STATE_FILE = 'last-good-config.json';
/**
 * The state file's format. A file without `version` was written by 0.1 (same fields) and is
 * read as version 1; a newer or unknown version is ignored with a warning, never applied.
 */
export const STATE_FORMAT_VERSION = 1;

/**
 * `--state-dir`, else $STATE_DIRECTORY (systemd's StateDirectory=; a colon-separated list when
 * several are configured: the first is ours), else /var/lib/ip-masq.
 */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  const first = env.STATE_DIRECTORY?.split(':').find((d) => d !== '');
  return first ?? DEFAULT_STATE_DIR;
}

/** What was applied last time, and where it came from. */
export interface PersistedConfig {
  /** 'absent': the config file did not exist and the defaults were applied. */
  origin: 'file' | 'absent';
  /** The config file path the text was read from. */
  source: string;
  /** The file's text ('' for 'absent'). */
  text: string;
  /** ISO time of the apply. */
  savedAt: string;
}

export class StateStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, STATE_FILE);
  }

  /**
   * The persisted config, or null when there is none. A file we cannot parse (truncated by a
   * full disk, edited by hand) is reported through `onCorrupt` and treated as none.
   */
  async load(onCorrupt?: (reason: string) => void): Promise<PersistedConfig | null> {
    let raw: string;
    try {
      raw = await readBounded(this.file, { maxBytes: READ_CAPS.state });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new IpMasqError('STATE_FAILED', `cannot read ${this.file}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      const parsed = JSON.parse(raw) as Partial<PersistedConfig> & { version?: unknown };
      const version = 'version' in parsed ? parsed.version : 1;
      if (version !== STATE_FORMAT_VERSION) {
        onCorrupt?.(
          `${this.file}: format version ${JSON.stringify(version)}, this ip-masq reads version ${STATE_FORMAT_VERSION} (written by a newer ip-masq?)`,
        );
        return null;
      }
      if (
        (parsed.origin === 'file' || parsed.origin === 'absent') &&
        typeof parsed.source === 'string' &&
        typeof parsed.text === 'string' &&
        typeof parsed.savedAt === 'string'
      ) {
        return {
          origin: parsed.origin,
          source: parsed.source,
          text: parsed.text,
          savedAt: parsed.savedAt,
        };
      }
      onCorrupt?.(`${this.file}: unexpected content`);
    } catch (e) {
      onCorrupt?.(`${this.file}: ${(e as Error).message}`);
    }
    return null;
  }

  /** Replaces the persisted config atomically; throws IpMasqError('STATE_FAILED'). */
  async save(value: PersistedConfig): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(
        this.file,
        `${JSON.stringify({ version: STATE_FORMAT_VERSION, ...value })}\n`,
        { mode: 0o600, durable: true },
      );
    } catch (e) {
      throw new IpMasqError(
        'STATE_FAILED',
        `cannot save the last good config to ${this.file}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
}
