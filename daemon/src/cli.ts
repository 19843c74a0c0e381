/**
 * `ip-masq <verb> [options]`: argv → verb → exit code. A function with injected I/O, so tests
 * call it in-process; main.ts is the only place that touches process.*.
 */
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, splitArgv, unknownVerbMessage, type CommonOption } from './cli-args.js';
import { ExitCode, IpMasqError, ConfigError } from './errors.js';
import { NftClient } from './nft/client.js';
import { VERBS } from './verbs/index.js';
import type { CliIo, Verb } from './verbs/verb.js';
import { VERSION } from './version.js';

export const DEFAULT_CONFIG_PATH = '/etc/ip-masq/config.yaml';

const COMMON_HELP: Record<CommonOption, string> = {
  config: `  --config PATH  config file (default ${DEFAULT_CONFIG_PATH})`,
  nft: '  --nft PATH     nft binary (default: nft from /usr/sbin, /sbin, /usr/bin or /bin, never PATH)',
};

const EXIT_CODES = `Exit codes (every verb):
  0  ok
  1  failure (nft rejected the ruleset, verification failed, …)
  2  usage error
  4  permission denied (nft needs CAP_NET_ADMIN)
  5  nft unusable (not installed, or built without JSON support)
  6  config invalid or unreadable`;

function mainHelp(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return `ip-masq ${VERSION}: node-level egress SNAT policy with nftables (the ip-masq-agent successor)

Usage: ip-masq [--config PATH] [--nft PATH] <verb> [options]

Verbs:
${VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n')}

Common options (before or after the verb; "ip-masq <verb> --help" says which it uses):
${COMMON_HELP.config}
${COMMON_HELP.nft}
  -h, --help     help for ip-masq or a verb
  --version      print the version

${EXIT_CODES}
`;
}

/** A verb's help names only the options that verb accepts. */
function verbHelp(verb: Verb): string {
  return `${verb.usage.trimEnd()}

Common options:
${verb.common.map((o) => `${COMMON_HELP[o]}\n`).join('')}  -h, --help     this help

${EXIT_CODES}
`;
}

/** The common options a verb uses, in parseArgs form. */
function verbCommonOptions(verb: Verb): Record<string, (typeof COMMON_OPTIONS)[CommonOption]> {
  return Object.fromEntries(verb.common.map((o) => [o, COMMON_OPTIONS[o]]));
}

/** Runs one CLI invocation; never throws, returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const split = splitArgv(argv, (name) => VERBS.find((v) => v.name === name)?.common ?? []);
  if (split.kind === 'help') {
    (split.toStderr ? io.stderr : io.stdout)(mainHelp());
    return split.toStderr ? ExitCode.USAGE : ExitCode.OK;
  }
  if (split.kind === 'version') {
    io.stdout(`ip-masq ${VERSION}\n`);
    return ExitCode.OK;
  }
  if (split.kind === 'usage') {
    io.stderr(`ip-masq: ${split.message}\n`);
    return ExitCode.USAGE;
  }
  const verb = VERBS.find((v) => v.name === split.verb);
  if (!verb) {
    io.stderr(
      `ip-masq: ${unknownVerbMessage(
        split.verb,
        VERBS.map((v) => v.name),
      )}\n`,
    );
    return ExitCode.USAGE;
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: split.args,
      options: {
        ...verbCommonOptions(verb),
        ...verb.options,
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: verb.allowPositionals ?? false,
      strict: true,
    });
  } catch (e) {
    io.stderr(`ip-masq ${verb.name}: ${(e as Error).message}; see "ip-masq ${verb.name} --help"\n`);
    return ExitCode.USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(verbHelp(verb));
    return ExitCode.OK;
  }

  const configPath = typeof values.config === 'string' ? values.config : DEFAULT_CONFIG_PATH;
  const nftPath = typeof values.nft === 'string' ? values.nft : undefined;
  try {
    return await verb.run({
      values,
      positionals,
      io,
      configPath,
      configExplicit: typeof values.config === 'string' && values.config !== DEFAULT_CONFIG_PATH,
      nft: () => new NftClient(nftPath ? { argv: [nftPath] } : {}),
    });
  } catch (e) {
    return reportError(verb.name, e, io);
  }
}

/** Prints an error the operator can act on and maps it to the exit-code table. */
export function reportError(verbName: string, e: unknown, io: CliIo): number {
  if (e instanceof ConfigError) {
    io.stderr(`${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof IpMasqError) {
    io.stderr(`ip-masq ${verbName}: ${e.message}\n`);
    return e.exitCode;
  }
  io.stderr(
    `ip-masq ${verbName}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  return ExitCode.FAILURE;
}
