/**
 * The only code that runs `nft`. Spawns it with an argv array (never a shell), with a deadline
 * (proc/deadlines.ts), passes batches on stdin, and turns every failure into an NftError with a
 * stable code: NFT_NOT_FOUND (binary missing), NFT_NO_JSON (built without JSON), NFT_PERMISSION
 * (no CAP_NET_ADMIN), NFT_TIMEOUT (killed at its deadline), NFT_STAGE_FAILED (the batch could
 * not be staged), NFT_FAILED (anything else, with nft's stderr).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftError } from '../errors.js';
import type { NftBackend, NftEventHandlers, NftEventStream, NftProbe } from './backend.js';
import { NftMonitor } from './monitor.js';
import { NftSession, type NftListSession } from './session.js';
import { NFT_READ_MS, nftWriteDeadlineMs } from '../proc/deadlines.js';
import { runBounded } from '../proc/run-bounded.js';
import { resolveSystemBinary } from '../proc/system-binary.js';
import type { NftBatch, NftListing, NftObject } from './types.js';

export type { NftProbe } from './backend.js';

export interface NftClientOptions {
  /**
   * argv that runs nft, e.g. ['/usr/sbin/nft'] or ['ip','netns','exec','x','nft']. Default: nft
   * from the system directories (proc/system-binary.ts), never from PATH.
   */
  argv?: readonly string[];
  /** Deadline overrides (tests); default proc/deadlines.ts. */
  readTimeoutMs?: number;
  writeTimeoutMs?: (batchBytes: number) => number;
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
  private readonly readTimeoutMs: number;
  private readonly writeTimeoutMs: (batchBytes: number) => number;

  constructor(options: NftClientOptions = {}) {
    this.argv =
      options.argv && options.argv.length > 0 ? options.argv : [resolveSystemBinary('nft')];
    this.readTimeoutMs = options.readTimeoutMs ?? NFT_READ_MS;
    this.writeTimeoutMs = options.writeTimeoutMs ?? nftWriteDeadlineMs;
  }

  /** A human-readable form of how nft is run, for messages. */
  describe(args: readonly string[] = []): string {
    return [...this.argv, ...args].join(' ');
  }

  private async spawnNft(
    args: readonly string[],
    stdinFd: number | null,
    timeoutMs: number,
  ): Promise<RunResult> {
    const cmd = this.argv[0] as string;
    const argv = [...this.argv, ...args];
    const r = await runBounded({
      argv,
      timeoutMs,
      ...(stdinFd === null ? {} : { stdinFd }),
    });
    const details = { argv, exitStatus: null, stderr: '' };
    switch (r.kind) {
      case 'exited':
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
      case 'timeout':
        throw new NftError(
          'NFT_TIMEOUT',
          `nft did not finish within ${r.timeoutMs / 1000} s and was killed: ${args.join(' ')}; is the kernel or nft hung?`,
          { ...details, stderr: r.stderr },
        );
      case 'output-too-large':
        throw new NftError(
          'NFT_FAILED',
          `nft printed more than ${r.maxOutputBytes} bytes and was killed: ${args.join(' ')}`,
          { ...details, stderr: r.stderr },
        );
      case 'spawn-error': {
        const e = r.error;
        if (e.code === 'ENOENT')
          throw new NftError(
            'NFT_NOT_FOUND',
            `nft not found: ${cmd} (install the nftables package, or pass --nft PATH)`,
            { ...details, cause: e },
          );
        if (e.code === 'EACCES')
          throw new NftError('NFT_PERMISSION', `cannot execute ${cmd}: permission denied`, {
            ...details,
            cause: e,
          });
        throw new NftError('NFT_FAILED', `cannot run ${cmd}: ${e.message}`, {
          ...details,
          cause: e,
        });
      }
    }
  }

  /**
   * Runs nft with `data` as its standard input. `nft -f -` opens /dev/stdin by path, which
   * fails with ENXIO on the socketpair Node uses for a 'pipe' stdio, and Node cannot make a
   * pipe(2). So the batch goes into an anonymous file: created with a random name, O_EXCL and
   * O_NOFOLLOW, mode 0600, unlinked at once, written with positional writes (the descriptor's
   * own offset stays 0) and that same descriptor handed to nft as fd 0. Nothing reopens the
   * file by name, so nobody can swap it in between.
   */
  private async spawnWithStdin(args: readonly string[], data: string): Promise<RunResult> {
    const bytes = Buffer.from(data, 'utf8');
    const file = await stageBatch(bytes).catch((e: unknown) => {
      throw new NftError(
        'NFT_STAGE_FAILED',
        `cannot stage the nft batch in ${tmpdir()}: ${(e as Error).message}; set TMPDIR to a writable directory`,
        { argv: [...this.argv, ...args], exitStatus: null, stderr: '', cause: e },
      );
    });
    try {
      return await this.spawnNft(args, file.fd, this.writeTimeoutMs(bytes.length));
    } finally {
      await file.close();
    }
  }

  /** Runs nft with `args`; resolves with stdout, rejects with a classified NftError. */
  async run(args: readonly string[], stdin?: string): Promise<string> {
    const r =
      stdin === undefined
        ? await this.spawnNft(args, null, this.readTimeoutMs)
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

  /** `nft -j -i` with the same argv, kept for repeated listings. */
  openSession(): NftListSession {
    return new NftSession({ argv: this.argv, timeoutMs: this.readTimeoutMs });
  }

  /** `nft -j monitor` with the same argv (so it runs in the same network namespace). */
  monitor(handlers: NftEventHandlers): NftEventStream {
    return new NftMonitor({ argv: this.argv, ...handlers });
  }
}

/** The batch in an unlinked 0600 file at offset 0 (see spawnWithStdin). */
export async function stageBatch(bytes: Buffer, dir: string = tmpdir()): Promise<FileHandle> {
  const path = join(dir, `ip-masq-batch-${randomBytes(12).toString('hex')}`);
  const fh = await open(
    path,
    constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await unlink(path);
    for (let at = 0; at < bytes.length;) {
      const { bytesWritten } = await fh.write(bytes, at, bytes.length - at, at);
      at += bytesWritten;
    }
    return fh;
  } catch (e) {
    await fh.close();
    await unlink(path).catch(() => undefined);
    throw e;
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
