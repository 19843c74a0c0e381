/**
 * `ip-masq <verb> [options]`: argv → verb → exit code. A function with injected I/O, so tests
 * call it in-process; main.ts is the only place that touches process.*.
 */
import { parseArgs } from 'node:util';
import { ExitCode, IpMasqError, ConfigError } from './errors.js';
import { NftClient } from './nft/client.js';
import { VERBS } from './verbs/index.js';
import type { CliIo, Verb } from './verbs/verb.js';
import { VERSION } from './version.js';

export const DEFAULT_CONFIG_PATH = '/etc/ip-masq/config.yaml';

const COMMON_OPTIONS = {
  config: { type: 'string' },
  nft: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

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

Usage: ip-masq <verb> [--config PATH] [--nft PATH] [options]

Verbs:
${VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n')}

Common options:
  --config PATH  config file (default ${DEFAULT_CONFIG_PATH})
  --nft PATH     nft binary (default: nft from PATH)
  -h, --help     help for ip-masq or a verb
  --version      print the version

${EXIT_CODES}
`;
}

function verbHelp(verb: Verb): string {
  return `${verb.usage.trimEnd()}

Common options:
  --config PATH  config file (default ${DEFAULT_CONFIG_PATH})
  --nft PATH     nft binary (default: nft from PATH)
  -h, --help     this help

${EXIT_CODES}
`;
}

/** Runs one CLI invocation; never throws, returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? io.stderr : io.stdout)(mainHelp());
    return first === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    io.stdout(`ip-masq ${VERSION}\n`);
    return ExitCode.OK;
  }
  const verb = VERBS.find((v) => v.name === first);
  if (!verb) {
    io.stderr(`ip-masq: unknown verb "${first}"; run "ip-masq --help" for the list\n`);
    return ExitCode.USAGE;
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...COMMON_OPTIONS, ...verb.options },
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
