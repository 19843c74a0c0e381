/**
 * sd_notify without native code: Node has no AF_UNIX datagram sockets, so messages go through
 * the `systemd-notify` binary (execFile, no shell). Since systemd 246 it waits until PID 1 has
 * read the message, and with NotifyAccess=all the unit accepts it from our child. Nothing is
 * sent when NOTIFY_SOCKET is unset (CLI use, tests).
 */
import { SYSTEMD_NOTIFY_MS } from '../proc/deadlines.js';
import { runBounded } from '../proc/run-bounded.js';

export type NotifyExec = (file: string, args: string[]) => Promise<void>;

export interface Notifier {
  /** True when NOTIFY_SOCKET is set and messages are really sent. */
  readonly enabled: boolean;
  /** WATCHDOG_USEC/2 in ms when systemd expects keep-alive pings for us, else null. */
  readonly watchdogIntervalMs: number | null;
  ready(status: string): void;
  status(status: string): void;
  watchdog(): void;
  stopping(status: string): void;
  /** Resolves when every message queued so far has been handed to systemd. */
  flush(): Promise<void>;
}

/**
 * systemd-notify with a deadline: a PID 1 that does not read its socket must not stall the
 * message chain (and with it every later STATUS) forever. Looked up on PATH: it is not given
 * any capability of ours that matters (it only writes to $NOTIFY_SOCKET).
 */
export const defaultNotifyExec: NotifyExec = async (file, args) => {
  const r = await runBounded({ argv: [file, ...args], timeoutMs: SYSTEMD_NOTIFY_MS });
  if (r.kind === 'spawn-error') throw r.error;
  if (r.kind === 'timeout') throw new Error(`no answer within ${r.timeoutMs / 1000} s (killed)`);
  if (r.kind === 'output-too-large') throw new Error('printed too much (killed)');
  if (r.status !== 0)
    throw new Error(
      `exit ${r.status ?? r.signal}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`,
    );
};

export interface NotifierOptions {
  env: NodeJS.ProcessEnv;
  exec?: NotifyExec;
  /** Called once per distinct failure of systemd-notify (missing binary, …). */
  onError?: (message: string) => void;
  pid?: number;
}

/** STATUS= is one line; systemctl status shows it verbatim. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').slice(0, 1000);
}

export function createNotifier(options: NotifierOptions): Notifier {
  const env = options.env;
  const enabled = !!env.NOTIFY_SOCKET;
  const exec = options.exec ?? defaultNotifyExec;
  const pid = options.pid ?? process.pid;
  const usec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : pid;
  const watchdogIntervalMs =
    enabled && Number.isFinite(usec) && usec > 0 && watchdogPid === pid
      ? Math.max(1, Math.floor(usec / 2000))
      : null;
  let chain: Promise<void> = Promise.resolve();
  let lastError = '';
  let lastStatus = '';

  // Messages are sent one at a time, in order: READY must not overtake the STATUS before it.
  const send = (fields: string[]): void => {
    if (!enabled) return;
    chain = chain.then(() =>
      exec('systemd-notify', fields).catch((e: unknown) => {
        const why = (e as Error).message;
        if (why !== lastError)
          options.onError?.(`systemd-notify ${fields[0] ?? ''} failed: ${why}`);
        lastError = why;
      }),
    );
  };

  return {
    enabled,
    watchdogIntervalMs,
    ready(status) {
      lastStatus = oneLine(status);
      send(['READY=1', `STATUS=${lastStatus}`]);
    },
    status(status) {
      const line = oneLine(status);
      if (line === lastStatus) return;
      lastStatus = line;
      send([`STATUS=${line}`]);
    },
    watchdog() {
      send(['WATCHDOG=1']);
    },
    stopping(status) {
      lastStatus = oneLine(status);
      send(['STOPPING=1', `STATUS=${lastStatus}`]);
    },
    flush() {
      return chain;
    },
  };
}
