/**
 * The last good config, kept in the state directory: saved after every pass that enforced a
 * valid file (only when its text changed), and read once at start when the file is invalid, so
 * a bad config never removes working rules even across a restart.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from './log.js';
import type { PersistedConfig } from './state.js';

/** The config being enforced and where it came from. */
export interface Enforced {
  config: Config;
  origin: 'file' | 'absent' | 'persisted';
  text: string;
  source: string;
}

export interface LastGoodDeps {
  /** Validates persisted text (throws ConfigError). */
  parse: (text: string, file: string) => Config;
  defaults: () => Config;
  state: {
    readonly file: string;
    load(onCorrupt?: (reason: string) => void): Promise<PersistedConfig | null>;
    save(value: PersistedConfig): Promise<void>;
  };
  log: Logger;
  now: () => number;
}

export class LastGoodConfig {
  private saved: { origin: string; text: string } | null = null;
  /** undefined: not read yet; null: none usable. */
  private read: Enforced | null | undefined = undefined;

  constructor(private readonly deps: LastGoodDeps) {}

  /** The persisted last good config, read once (only needed before anything is enforced). */
  async candidate(): Promise<Enforced | null> {
    if (this.read === undefined) this.read = await this.load();
    return this.read;
  }

  /** Saves `e` unless it came from the state itself or is what was saved last; may throw. */
  async save(e: Enforced): Promise<void> {
    if (e.origin === 'persisted') return;
    if (this.saved && this.saved.origin === e.origin && this.saved.text === e.text) return;
    await this.deps.state.save({
      origin: e.origin,
      source: e.source,
      text: e.text,
      savedAt: new Date(this.deps.now()).toISOString(),
    });
    this.saved = { origin: e.origin, text: e.text };
  }

  private async load(): Promise<Enforced | null> {
    const { state, log } = this.deps;
    let p: PersistedConfig | null;
    try {
      p = await state.load((reason) =>
        log.warn({ file: state.file }, `ignoring the persisted config: ${reason}`),
      );
    } catch (e) {
      log.warn({ file: state.file }, (e as Error).message);
      return null;
    }
    if (!p) return null;
    let config: Config;
    try {
      config =
        p.origin === 'absent'
          ? this.deps.defaults()
          : this.deps.parse(p.text, `${state.file} (copy of ${p.source})`);
    } catch (e) {
      log.warn(
        { file: state.file, error: (e as Error).message },
        'ignoring the persisted config: it is no longer valid',
      );
      return null;
    }
    this.saved = { origin: p.origin, text: p.text };
    log.warn(
      { file: state.file, source: p.source, savedAt: p.savedAt },
      `config file invalid at start; applying the last good config saved ${p.savedAt} from ${p.source}`,
    );
    return {
      config,
      origin: 'persisted',
      text: p.text,
      source: `${state.file} (last good copy of ${p.source})`,
    };
  }
}
