/**
 * Every child process ip-masq starts (nft, iptables*, iptables-save, systemd-notify) runs
 * through here, with a deadline. The child leads its own process group (`detached`), so on
 * expiry the whole group gets SIGKILL: a wrapper such as `ip netns exec … nft` or a shell
 * script that forks is killed with everything it started, and no grandchild keeps our pipes
 * open. The deadlines themselves are chosen by the callers (see ./deadlines.ts).
 */
import { spawn } from 'node:child_process';

export interface BoundedRunOptions {
  /** argv[0] is the binary (never a shell). */
  argv: readonly string[];
  /** Kill the process group after this long. */
  timeoutMs: number;
  /** An open fd to use as the child's stdin; default /dev/null. */
  stdinFd?: number;
  /** stdout beyond this many bytes is a failure (the child is killed). Default 256 MiB. */
  maxOutputBytes?: number;
}

export type BoundedRunResult =
  | {
      kind: 'exited';
      status: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      stderr: string;
    }
  | { kind: 'timeout'; timeoutMs: number; stdout: string; stderr: string }
  | { kind: 'output-too-large'; maxOutputBytes: number; stderr: string }
  | { kind: 'spawn-error'; error: NodeJS.ErrnoException };

const DEFAULT_MAX_OUTPUT = 256 * 1024 * 1024;
/** How long a killed group may take to close our pipes before we stop waiting for it. */
const CLOSE_GRACE_MS = 1000;

/** Kills the child's whole process group; a group that is already gone is fine. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left to kill.
  }
}

/** Runs argv to completion or to its deadline; never rejects. */
export function runBounded(options: BoundedRunOptions): Promise<BoundedRunResult> {
  const [cmd, ...args] = options.argv as [string, ...string[]];
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: BoundedRunResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(grace);
      resolve(r);
    };
    const child = spawn(cmd, args, {
      stdio: [options.stdinFd ?? 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let limit: 'timeout' | 'output-too-large' | null = null;
    let grace: NodeJS.Timeout | undefined;
    const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');
    const limited = (): BoundedRunResult =>
      limit === 'timeout'
        ? { kind: 'timeout', timeoutMs: options.timeoutMs, stdout: text(out), stderr: text(err) }
        : { kind: 'output-too-large', maxOutputBytes: maxOutput, stderr: text(err) };
    const stop = (why: 'timeout' | 'output-too-large'): void => {
      if (limit !== null) return;
      limit = why;
      killGroup(child.pid);
      // A grandchild that left the group (setsid) may hold the pipes open: do not wait for it.
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(limited());
      }, CLOSE_GRACE_MS);
    };
    const deadline = setTimeout(() => stop('timeout'), options.timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > maxOutput) return stop('output-too-large');
      out.push(d);
    });
    // stderr is only ever read for a message: keep its first 64 KiB.
    child.stderr?.on('data', (d: Buffer) => {
      if (errBytes < 65536) err.push(d);
      errBytes += d.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish({ kind: 'spawn-error', error: e });
    });
    child.on('close', (status, signal) => {
      if (limit !== null) return finish(limited());
      finish({ kind: 'exited', status, signal, stdout: text(out), stderr: text(err) });
    });
  });
}
