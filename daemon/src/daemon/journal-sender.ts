/**
 * Hands native journal entries to journald through one long-lived helper process.
 *
 * Why a helper: journald's native protocol is a datagram on /run/systemd/journal/socket, and
 * Node cannot open an AF_UNIX datagram socket (node:dgram is UDP only; node:net is stream only).
 * The stdout stream journald already reads carries text lines only, no fields.
 *
 * Why long-lived: journald files an entry under a unit (`journalctl -u ip-masq`) by reading the
 * sender's /proc/PID/cgroup when the datagram arrives. A sender that exits at once (`logger
 * --journald`, one process per entry) is often gone by then: the booted e2e saw half of such
 * entries lose _SYSTEMD_UNIT. So one helper stays up for the daemon's life: perl with its core
 * Socket module (perl-base is Essential on Debian), reading blank-line-separated entries on
 * stdin, sending each, and answering "ok" or the error on stdout, one at a time (order kept).
 *
 * If the helper cannot start or fails, that entry and every later one go to stdout as before
 * (`<N>` + NDJSON): nothing is lost, and one line says why.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeSync } from 'node:fs';

/**
 * Reads entries ended by a blank line (an exact "\n\n" separator: perl's paragraph mode would
 * wait for the next entry before returning this one); sends each; acks each with one line.
 */
const PERL_SENDER = `use strict; use Socket;
$| = 1; $/ = "\n\n";
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\\n";
my $to = pack_sockaddr_un($ENV{IP_MASQ_JOURNAL_SOCKET} || "/run/systemd/journal/socket");
while (my $e = <STDIN>) { $e =~ s/\\n+\\z/\\n/; if (defined send($s, $e, 0, $to)) { print "ok\\n" } else { print "error: $!\\n" } }`;

export interface JournalSenderOptions {
  /** argv of the helper; default: perl running PERL_SENDER. */
  helper?: readonly string[];
  /** Where the fallback lines go; default fd 1, synchronously. */
  fallback?: (line: string) => void;
  /** How many entries may wait before the oldest go to the fallback. Default 1000. */
  maxQueue?: number;
}

interface Pending {
  entry: string;
  /** The `<N>`-prefixed NDJSON line, for the fallback. */
  fallbackLine: string;
}

export class JournalSender {
  private readonly helper: readonly string[];
  private readonly fallback: (line: string) => void;
  private readonly maxQueue: number;
  private readonly queue: Pending[] = [];
  private child: ChildProcessWithoutNullStreams | null = null;
  /** The entry written to the helper and not acknowledged yet. */
  private inFlight: Pending | null = null;
  private buffered = '';
  private broken: string | null = null;
  private idle: Array<() => void> = [];

  constructor(options: JournalSenderOptions = {}) {
    this.helper = options.helper ?? ['perl', '-e', PERL_SENDER];
    this.fallback = options.fallback ?? ((line) => void writeSync(1, line));
    this.maxQueue = options.maxQueue ?? 1000;
    // A record still queued at exit is written the old way rather than lost.
    // The entry in flight is already in the helper's pipe: it still goes out after we exit.
    process.once('exit', () => this.drainToFallback(false));
  }

  send(fields: readonly string[], fallbackLine: string): void {
    if (this.broken !== null) {
      this.fallback(fallbackLine);
      return;
    }
    this.queue.push({ entry: `${fields.join('\n')}\n\n`, fallbackLine });
    while (this.queue.length > this.maxQueue) this.fallback(this.queue.shift()!.fallbackLine);
    this.next();
  }

  /** Resolves when every queued entry has been handed over (tests, shutdown). */
  flushed(): Promise<void> {
    if (this.inFlight === null && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops the helper (after the last entry); later records go to the fallback. */
  close(): void {
    this.child?.stdin.end();
  }

  private next(): void {
    if (this.inFlight !== null || this.broken !== null) return;
    const p = this.queue.shift();
    if (!p) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.inFlight = p;
    this.ensureChild().stdin.write(p.entry);
  }

  private ensureChild(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const [cmd, ...args] = this.helper as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => this.onOutput(d));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => this.fail(`${cmd}: ${e.message}`));
    child.on('close', (code) =>
      this.fail(`${cmd} exited ${code}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`),
    );
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    this.child = child;
    return child;
  }

  private onOutput(data: string): void {
    this.buffered += data;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) !== -1) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line !== 'ok') {
        this.fail(`journal socket: ${line}`);
        return;
      }
      this.inFlight = null;
      this.next();
    }
  }

  private fail(why: string): void {
    if (this.broken !== null) return;
    this.broken = why;
    if (this.inFlight === null && this.queue.length === 0 && this.child?.stdin.writableEnded) {
      // The helper was closed on purpose (shutdown): nothing was lost.
      return;
    }
    this.fallback(
      `<4>${JSON.stringify({ level: 40, msg: `journal fields unavailable (${why}); logging NDJSON to stdout instead` })}\n`,
    );
    this.drainToFallback();
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private drainToFallback(withInFlight = true): void {
    if (this.inFlight && withInFlight) this.fallback(this.inFlight.fallbackLine);
    this.inFlight = null;
    for (const p of this.queue.splice(0)) this.fallback(p.fallbackLine);
  }
}
