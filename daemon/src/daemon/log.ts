/**
 * The daemon's logger: pino NDJSON written synchronously to fd 1 (no transports, no worker
 * threads: the bundle stays one file and a crash loses no line).
 *
 * Under systemd, journald stores every stdout line at PRIORITY=6 unless the line starts with a
 * `<N>` syslog prefix (SyslogLevelPrefix=yes is the default), so without it
 * `journalctl -u ip-masq -p warning` finds nothing. We add the prefix only when fd 1 really is
 * the journal (JOURNAL_STREAM=<dev>:<ino> matches fstat(1), systemd.exec(5)); a terminal or a
 * test reading the pipe gets plain NDJSON.
 */
import { fstatSync } from 'node:fs';
import pino, { type DestinationStream, type Level, type Logger, type StreamEntry } from 'pino';
import { journalEntry, priorityOf } from './journal-entry.js';
import type { JournalSender } from './journal-sender.js';

export type { Logger } from 'pino';

/** pino level → syslog severity, as pino-syslog's levelToSeverity maps them. */
const SYSLOG_PRIORITY: ReadonlyArray<readonly [Level, number]> = [
  ['trace', 7],
  ['debug', 7],
  ['info', 6],
  ['warn', 4],
  ['error', 3],
  ['fatal', 2],
];

/** True when file descriptor `fd` is the journal stream systemd connected (JOURNAL_STREAM). */
export function isJournalStream(env: NodeJS.ProcessEnv, fd = 1): boolean {
  const value = env.JOURNAL_STREAM;
  if (!value) return false;
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

export interface LoggerOptions {
  /** Prefix lines with `<N>` for journald. */
  journal: boolean;
  /** Minimum level; default 'info'. */
  level?: Level;
  /** Where lines go; default: fd 1, synchronously. Tests pass a collector. */
  write?: (line: string) => void;
  /**
   * With `journal`: send each record as a native journal entry (a sentence in MESSAGE, the data
   * in IP_MASQ_* fields; journal-entry.ts) instead of a `<N>`-prefixed NDJSON line.
   */
  native?: JournalSender;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? 'info';
  const sink: DestinationStream = options.write
    ? { write: options.write }
    : pino.destination({ fd: 1, sync: true });
  if (!options.journal) {
    return pino({ level, base: { pid: process.pid } }, sink);
  }
  const native = options.native;
  if (native) {
    const toJournal: DestinationStream = {
      write(line: string) {
        const record = JSON.parse(line) as Record<string, unknown>;
        const level = typeof record.level === 'number' ? record.level : 30;
        native.send(journalEntry(record), `<${priorityOf(level)}>${line}`);
      },
    };
    return pino({ level, base: undefined, timestamp: false }, toJournal);
  }
  // One stream per level, each adding its prefix; dedupe sends a line only to the stream of the
  // highest matching level, so every line is written once.
  const streams: StreamEntry[] = SYSLOG_PRIORITY.map(([lvl, priority]) => ({
    level: lvl,
    stream: { write: (line: string) => sink.write(`<${priority}>${line}`) },
  }));
  // journald records _PID, _HOSTNAME and the timestamp itself.
  return pino(
    { level, base: undefined, timestamp: false },
    pino.multistream(streams, { dedupe: true }),
  );
}

/**
 * Rate-limits identical repeated messages (nft failing every backoff step, a broken config
 * re-read on every resync): the first occurrence of a key is logged, then at most one per
 * window, carrying how many were suppressed in between.
 */
export class RepeatLimiter {
  private readonly seen = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns null when this occurrence should be suppressed, else the suppressed count since the last emitted one. */
  admit(key: string): { suppressed: number } | null {
    const t = this.now();
    const entry = this.seen.get(key);
    if (entry && t - entry.lastAt < this.windowMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    // Keys are messages: bounded in practice, but never let a stream of distinct ones grow it.
    if (!entry && this.seen.size >= 1000) this.seen.clear();
    this.seen.set(key, { lastAt: t, suppressed: 0 });
    return { suppressed };
  }

  /** Forgets every key (the condition cleared: the next occurrence is news again). */
  reset(): void {
    this.seen.clear();
  }
}
