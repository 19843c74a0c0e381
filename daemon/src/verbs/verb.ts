/**
 * The contract between the CLI dispatcher (cli.ts) and each verb. A verb is a function of its
 * parsed arguments and injected I/O, so tests drive it in-process.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CommonOption } from '../cli-args.js';
import type { NftBackend } from '../nft/backend.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); used by long-running verbs. */
  signals?: NodeJS.EventEmitter;
  /** All of standard input (verbs reading `-`); default: the process's stdin. */
  stdin?: () => Promise<string>;
  /** Writes one warning to the journal (syslog); absent where there is none (tests). */
  journal?: (message: string) => Promise<void>;
}

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface VerbContext {
  values: OptionValues;
  positionals: string[];
  io: CliIo;
  /** --config, or the default /etc/ip-masq/config.yaml. */
  configPath: string;
  /**
   * --config named a file other than the default: a missing file is then a mistake, not a
   * request for the defaults (which the default path's absence is, as documented).
   */
  configExplicit: boolean;
  /** An nft client honouring --nft. */
  nft(): NftBackend;
}

export interface Verb {
  name: string;
  /** One line for the verb list in `ip-masq --help`. */
  summary: string;
  /** Usage line(s) and option help for `ip-masq <verb> --help`. */
  usage: string;
  /** The common options (--config, --nft) this verb uses; its help lists only these. */
  common: readonly CommonOption[];
  options: NonNullable<ParseArgsConfig['options']>;
  /** Whether positional arguments are accepted. */
  allowPositionals?: boolean;
  run(ctx: VerbContext): Promise<number>;
}
