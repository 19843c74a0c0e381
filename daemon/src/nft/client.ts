/**
 * The only code that runs `nft`. Spawns it with an argv array (never a shell), passes batches
 * on stdin, and turns every failure into an NftError with a stable code:
 *   NFT_NOT_FOUND (binary missing), NFT_NO_JSON (built without JSON), NFT_PERMISSION
 *   (no CAP_NET_ADMIN), NFT_FAILED (anything else, with nft's stderr).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftError } from '../errors.js';
import type { NftBackend, NftEventHandlers, NftEventStream, NftProbe } from './backend.js';
import { NftMonitor } from './monitor.js';
import type { NftBatch, NftListing, NftObject } from './types.js';

export type { NftProbe } from './backend.js';

export interface NftClientOptions {
  /** argv that runs nft, e.g. ['nft'], ['/usr/sbin/nft'] or ['ip','netns','exec','x','nft']. */
  argv?: readonly string[];
}

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

// nft prints this warning on stderr for every listing that touches an iptables-nft table;
// it is not an error and stdout stays valid JSON.
const IPTABLES_MANAGED_WARNING =
  /^# Warning: table \S+ \S+ is managed by iptables-nft, do not touch!$/;

export class NftClient implements NftBackend {
  readonly argv: readonly string[];

  constructor(options: NftClientOptions = {}) {
    this.argv = options.argv && options.argv.length > 0 ? options.argv : ['nft'];
  }

  /** A human-readable form of how nft is run, for messages. */
  describe(args: readonly string[] = []): string {
    return [...this.argv, ...args].join(' ');
  }

  private spawnNft(args: readonly string[], stdinFd: number | null): Promise<RunResult> {
    const [cmd, ...prefix] = this.argv as [string, ...string[]];
    const argv = [...this.argv, ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, [...prefix, ...args], {
        stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (d: Buffer) => out.push(d));
      child.stderr?.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') {
          reject(
            new NftError(
              'NFT_NOT_FOUND',
              `nft not found: ${cmd} (install the nftables package, or pass --nft PATH)`,
              {
                argv,
                exitStatus: null,
                stderr: '',
                cause: e,
              },
            ),
          );
        } else if (e.code === 'EACCES') {
          reject(
            new NftError('NFT_PERMISSION', `cannot execute ${cmd}: permission denied`, {
              argv,
              exitStatus: null,
              stderr: '',
              cause: e,
            }),
          );
        } else {
          reject(
            new NftError('NFT_FAILED', `cannot run ${cmd}: ${e.message}`, {
              argv,
              exitStatus: null,
              stderr: '',
              cause: e,
            }),
          );
        }
      });
      child.on('close', (status) => {
        resolve({
          status,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  /**
   * Runs nft with `data` as its standard input. `nft -f -` opens /dev/stdin by path, which
   * fails with ENXIO on the socketpair Node uses for a 'pipe' stdio, and Node cannot make a
   * pipe(2). So the batch goes into an anonymous file: created 0600 in the temp directory,
   * unlinked at once, and handed to nft as fd 0 (its own read offset starts at 0).
   */
  private async spawnWithStdin(args: readonly string[], data: string): Promise<RunResult> {
    const path = join(tmpdir(), `ip-masq-batch-${process.pid}-${randomBytes(6).toString('hex')}`);
    const writer = await open(path, 'wx', 0o600);
    let reader;
    try {
      reader = await open(path, 'r');
      await unlink(path);
      await writer.writeFile(data, 'utf8');
    } catch (e) {
      await reader?.close();
      await unlink(path).catch(() => undefined);
      throw new NftError(
        'NFT_FAILED',
        `cannot stage the nft batch in ${tmpdir()}: ${(e as Error).message}`,
        { argv: [...this.argv, ...args], exitStatus: null, stderr: '', cause: e },
      );
    } finally {
      await writer.close();
    }
    try {
      return await this.spawnNft(args, reader.fd);
    } finally {
      await reader.close();
    }
  }

  /** Runs nft with `args`; resolves with stdout, rejects with a classified NftError. */
  async run(args: readonly string[], stdin?: string): Promise<string> {
    const r =
      stdin === undefined
        ? await this.spawnNft(args, null)
        : await this.spawnWithStdin(args, stdin);
    const stderr = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !IPTABLES_MANAGED_WARNING.test(l))
      .join('\n');
    if (r.status === 0) return r.stdout;
    throw classifyFailure([...this.argv, ...args], r.status, stderr, stdin);
  }

  /**
   * Applies one transaction with `nft -j -f -` (or only checks it with `-c`). The kernel
   * applies all of it or none of it. Exit status 0 is not proof on nft 1.0.6 (it ignores some
   * bad input and still exits 0): callers verify by reading back.
   */
  async applyBatch(batch: NftBatch, options: { check?: boolean } = {}): Promise<void> {
    const args = options.check ? ['-c', '-j', '-f', '-'] : ['-j', '-f', '-'];
    await this.run(args, JSON.stringify(batch));
  }

  /**
   * `nft -j list <what…>` (e.g. ['table','ip','ip-masq']) without the metainfo entry, or null
   * when the object does not exist.
   */
  async list(what: readonly string[]): Promise<NftListing | null> {
    try {
      const out = await this.run(['-j', 'list', ...what]);
      return parseListing(out, this.describe(['-j', 'list', ...what]));
    } catch (e) {
      if (e instanceof NftError && e.isNotFound) return null;
      throw e;
    }
  }

  /**
   * Startup probe: the binary runs, reports its version, has JSON support, and we may read
   * the ruleset (CAP_NET_ADMIN). Each failure has its own code and exit status.
   */
  async probe(): Promise<NftProbe> {
    const versionOut = await this.run(['--version']);
    const version = /v?(\d+\.\d+(?:\.\d+)*)/.exec(versionOut)?.[1] ?? 'unknown';
    const out = await this.run(['-j', 'list', 'tables']);
    parseListing(out, this.describe(['-j', 'list', 'tables']));
    return { version };
  }

  /** `nft -j monitor` with the same argv (so it runs in the same network namespace). */
  monitor(handlers: NftEventHandlers): NftEventStream {
    return new NftMonitor({ argv: this.argv, ...handlers });
  }
}

function classifyFailure(
  argv: string[],
  status: number | null,
  stderr: string,
  input: string | undefined,
): NftError {
  const first = stderr.split('\n').find((l) => l.trim() !== '') ?? '';
  const details = { argv, exitStatus: status, stderr, ...(input === undefined ? {} : { input }) };
  if (
    /JSON support not compiled-in|unrecognized option '--json'|invalid option -- 'j'/.test(stderr)
  ) {
    return new NftError(
      'NFT_NO_JSON',
      `nft was built without JSON support (${first.trim()}); install a distribution nftables package`,
      details,
    );
  }
  if (/Operation not permitted|you must be root/.test(stderr)) {
    return new NftError(
      'NFT_PERMISSION',
      `nft: permission denied (needs CAP_NET_ADMIN; run as root or via the ip-masq service): ${first.trim()}`,
      details,
    );
  }
  return new NftError(
    'NFT_FAILED',
    `nft failed with exit code ${status}: ${argv.slice(-4).join(' ')}: ${first.trim() || '(no output)'}`,
    details,
  );
}

function parseListing(out: string, what: string): NftListing {
  let parsed: unknown;
  try {
    parsed = JSON.parse(out);
  } catch (e) {
    throw new NftError(
      'NFT_NO_JSON',
      `${what} did not print JSON; is nft built with JSON support?`,
      {
        argv: what.split(' '),
        exitStatus: 0,
        stderr: out.slice(0, 200),
        cause: e,
      },
    );
  }
  const list = (parsed as { nftables?: unknown }).nftables;
  if (!Array.isArray(list)) {
    throw new NftError('NFT_FAILED', `${what}: unexpected output (no "nftables" array)`, {
      argv: what.split(' '),
      exitStatus: 0,
      stderr: '',
    });
  }
  return (list as NftObject[]).filter((o) => !('metainfo' in o));
}
