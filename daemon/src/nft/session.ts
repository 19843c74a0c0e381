/**
 * A long-lived `nft -j -i` (interactive mode, commands on stdin, one JSON document per line on
 * stdout, flushed per command) for listings asked for many times a second: the poll of flannel's
 * chains while a co-tenant's churn floods the rule monitor (daemon/watch-ruleset.ts).
 *
 * Why not one `nft -j list` per poll: forking nft from Node costs ≈ 2 ms of the daemon's CPU
 * plus ≈ 4 ms of nft's start-up each time, ≈ 1.2 % of a core at two polls a second; a command to
 * a running session costs ≈ 0.1 ms in Node and ≈ 0.2 ms in nft (docs/ARCHITECTURE.md).
 *
 * One command at a time. The reply is the next stdout line; a command that fails prints only
 * on stderr (`Error: …`, the command, a `^^^` marker line), so an error is settled at its marker
 * line, or once stderr has been quiet for a moment when there is none.
 * Warnings on stderr (nft 1.1 prints `# Warning: table ip nat is managed by iptables-nft` for
 * every listing of an iptables table) do not count. Every command has a deadline; a child that
 * misses it, dies or prints garbage is killed and the next command starts a new one. The child
 * leaves after `idleMs` without a command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NftError } from '../errors.js';
import { NFT_READ_MS } from '../proc/deadlines.js';
import { killGroup } from '../proc/run-bounded.js';
import type { NftListing, NftObject } from './types.js';

/** Words a listing may name: nft identifiers, never anything that ends or chains a command. */
const WORD = /^[A-Za-z0-9_.\-]{1,256}$/;
/** The last line of nft's error for a command: `^`s (and `~`s) under the words it refers to. */
const ERROR_MARKER = /^[ \t~]*\^[\^~ \t]*\n/m;
/** stderr quiet for this long after an `Error:` without that marker settles it as failed. */
const ERROR_SETTLE_MS = 20;
const DEFAULT_IDLE_MS = 10_000;
const PROMPT = /^(?:nft> )+/;
/** What system users get as a home (/etc/passwd): nothing there to read, nowhere to write. */
const NO_HOME = '/nonexistent';
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export interface NftListSession {
  /** `nft -j list <what…>` without the metainfo entry, or null when the object does not exist. */
  list(what: readonly string[]): Promise<NftListing | null>;
  /** Ends the child (if any); a later list() starts a new one. */
  close(): void;
}

interface Pending {
  what: string;
  resolve: (listing: NftListing | null) => void;
  reject: (e: NftError) => void;
  deadline: NodeJS.Timeout;
  errorTimer: NodeJS.Timeout | null;
}

export interface NftSessionOptions {
  /** argv that runs nft (NftClient.argv); `-j -i` is appended. */
  argv: readonly string[];
  timeoutMs?: number;
  idleMs?: number;
}

export class NftSession implements NftListSession {
  private child: ChildProcess | null = null;
  private stdout = '';
  private stderr = '';
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: NftSessionOptions) {}

  list(what: readonly string[]): Promise<NftListing | null> {
    const run = this.queue.then(() => this.send(what));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const child = this.child;
    this.child = null;
    if (child) {
      child.stdin?.end();
      killGroup(child.pid);
    }
    this.settle((p) => p.reject(this.failure('NFT_FAILED', p.what, 'session closed')));
  }

  private describe(what: string): string {
    return `${this.options.argv.join(' ')} -j -i: list ${what}`;
  }

  private send(words: readonly string[]): Promise<NftListing | null> {
    const what = words.join(' ');
    if (words.length === 0 || !words.every((w) => WORD.test(w)))
      return Promise.reject(this.failure('NFT_FAILED', what, `not a listing: "${what}"`));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const child = this.child ?? this.spawnChild();
    return new Promise<NftListing | null>((resolve, reject) => {
      const timeoutMs = this.options.timeoutMs ?? NFT_READ_MS;
      const deadline = setTimeout(() => {
        this.settle((p) =>
          p.reject(this.failure('NFT_TIMEOUT', what, `no reply within ${timeoutMs} ms`)),
        );
        this.close();
      }, timeoutMs);
      this.pending = { what, resolve, reject, deadline, errorTimer: null };
      this.stdout = '';
      this.stderr = '';
      child.stdin!.write(`list ${what}\n`);
    });
  }

  private spawnChild(): ChildProcess {
    const [cmd, ...prefix] = this.options.argv as [string, ...string[]];
    const child = spawn(cmd, [...prefix, '-j', '-i'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      // Interactive nft keeps a command history in $HOME/.nft.history (libedit): not ours to
      // read or write.
      env: { ...process.env, HOME: NO_HOME },
    });
    this.child = child;
    child.stdin!.on('error', () => undefined);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.onStdout(child, d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => this.onStderr(child, d));
    child.on('error', (e: NodeJS.ErrnoException) => this.onGone(child, `cannot run: ${e.message}`));
    child.on('exit', (code, signal) => this.onGone(child, `exited (${signal ?? `code ${code}`})`));
    return child;
  }

  private onStdout(child: ChildProcess, d: string): void {
    if (child !== this.child || !this.pending) return;
    this.stdout += d;
    const nl = this.stdout.indexOf('\n');
    if (nl < 0) {
      if (this.stdout.length > MAX_REPLY_BYTES) this.broken('reply too large');
      return;
    }
    // An nft built with GNU readline instead of libedit prints its prompt even to a pipe.
    const line = this.stdout.slice(0, nl).replace(PROMPT, '');
    let listing: NftListing;
    try {
      const list = (JSON.parse(line) as { nftables?: unknown }).nftables;
      if (!Array.isArray(list)) throw new Error('no "nftables" array');
      listing = (list as NftObject[]).filter((o) => !('metainfo' in o));
    } catch (e) {
      return this.broken(`unexpected output (${e instanceof Error ? e.message : String(e)})`);
    }
    this.settle((p) => p.resolve(listing));
  }

  private onStderr(child: ChildProcess, d: string): void {
    if (child !== this.child || !this.pending) return;
    this.stderr += d;
    if (this.stderr.length > 64 * 1024) this.stderr = this.stderr.slice(-64 * 1024);
    // nft writes "Error: " and the reason in two writes: wait for the whole line.
    if (!/^Error:[^\n]*\n/m.test(this.stderr)) return;
    const p = this.pending;
    if (p.errorTimer) clearTimeout(p.errorTimer);
    const done = (): void => {
      const stderr = this.stderr;
      const missing = /No such file or directory/.test(stderr);
      this.settle((q) =>
        missing ? q.resolve(null) : q.reject(this.failure('NFT_FAILED', q.what, stderr)),
      );
    };
    // A command error ends with the command echoed and a marker line under the culprit
    // (`                  ^^^^`): complete. Anything else waits for stderr to go quiet.
    if (ERROR_MARKER.test(this.stderr)) done();
    else p.errorTimer = setTimeout(done, ERROR_SETTLE_MS);
  }

  private onGone(child: ChildProcess, why: string): void {
    if (child !== this.child) return;
    this.child = null;
    killGroup(child.pid);
    const stderr = this.stderr.trim();
    this.settle((p) =>
      p.reject(this.failure('NFT_FAILED', p.what, `${why}${stderr ? `: ${stderr}` : ''}`)),
    );
  }

  /** The child said something that is not a reply: start over with a new one. */
  private broken(why: string): void {
    this.settle((p) => p.reject(this.failure('NFT_FAILED', p.what, why)));
    this.close();
  }

  private settle(how: (p: Pending) => void): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.deadline);
    if (p.errorTimer) clearTimeout(p.errorTimer);
    how(p);
    if (this.child) {
      this.idleTimer = setTimeout(() => this.close(), this.options.idleMs ?? DEFAULT_IDLE_MS);
      this.idleTimer.unref?.();
    }
  }

  private failure(code: 'NFT_FAILED' | 'NFT_TIMEOUT', what: string, why: string): NftError {
    const first = why.split('\n').find((l) => l.trim() !== '') ?? why;
    return new NftError(code, `${this.describe(what)}: ${first.trim()}`, {
      argv: [...this.options.argv, '-j', '-i'],
      exitStatus: null,
      stderr: why,
    });
  }
}
