/**
 * Hands native journal entries to journald through `logger --journald` (util-linux), one short
 * process per entry, one at a time so the journal keeps their order.
 *
 * Why a helper: journald's native protocol is a datagram on /run/systemd/journal/socket, and
 * Node cannot open an AF_UNIX datagram socket (node:dgram is UDP only; node:net is stream only).
 * The stdout stream journald already reads carries text lines only, no fields. `logger` ships
 * with every systemd distribution (Debian's bsdutils is Essential; util-linux on RPM systems),
 * and entries are rare — one per change or problem, never per packet — so a process per entry
 * costs little (measured in docs/ARCHITECTURE.md). It runs in the unit's cgroup, so journald
 * files it under ip-masq.service like the daemon's own lines.
 *
 * If the helper is missing or fails, that entry and every later one go to stdout as before
 * (`<N>` + NDJSON): nothing is lost, and one line says why.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';

export interface JournalSenderOptions {
  /** argv of the helper; default ['logger', '--journald']. */
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
  private sending = false;
  private broken: string | null = null;
  private idle: Array<() => void> = [];

  constructor(options: JournalSenderOptions = {}) {
    this.helper = options.helper ?? ['logger', '--journald'];
    this.fallback = options.fallback ?? ((line) => void writeSync(1, line));
    this.maxQueue = options.maxQueue ?? 1000;
    // A record still queued at exit is written the old way rather than lost.
    process.once('exit', () => this.drainToFallback());
  }

  send(fields: readonly string[], fallbackLine: string): void {
    if (this.broken !== null) {
      this.fallback(fallbackLine);
      return;
    }
    this.queue.push({ entry: `${fields.join('\n')}\n`, fallbackLine });
    while (this.queue.length > this.maxQueue) this.fallback(this.queue.shift()!.fallbackLine);
    if (!this.sending) void this.pump();
  }

  /** Resolves when every queued entry has been handed over (tests, shutdown). */
  flushed(): Promise<void> {
    if (!this.sending && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async pump(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      const failure = await this.runHelper(next.entry);
      this.queue.shift();
      if (failure !== null) {
        this.broken = failure;
        this.fallback(
          `<4>${JSON.stringify({ level: 40, msg: `journal fields unavailable (${failure}); logging NDJSON to stdout instead` })}\n`,
        );
        this.fallback(next.fallbackLine);
        this.drainToFallback();
      }
    }
    this.sending = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private drainToFallback(): void {
    for (const p of this.queue.splice(0)) this.fallback(p.fallbackLine);
  }

  /** null when the helper took the entry, else why not. */
  private runHelper(entry: string): Promise<string | null> {
    const [cmd, ...args] = this.helper as [string, ...string[]];
    return new Promise((resolve) => {
      let stderr = '';
      const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (e) => resolve(`${this.helper.join(' ')}: ${e.message}`));
      child.on('close', (code) =>
        resolve(
          code === 0
            ? null
            : `${this.helper.join(' ')} exited ${code}: ${stderr.trim().split('\n')[0] ?? ''}`,
        ),
      );
      child.stdin.on('error', () => undefined);
      child.stdin.end(entry);
    });
  }
}
