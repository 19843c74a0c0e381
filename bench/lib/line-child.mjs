// A child process read line by line, for the daemon benches (daemon-latency, facts-latency,
// churn-cost): waiters resolve with the ARRIVAL time of the first future line they match, so a
// latency is measured where the line was read, not where the waiting code resumed.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { now } from './common.mjs';

/** Every child still running, so a bench can kill them all on its way out. */
const running = new Set();

/**
 * `keepLines` keeps every stdout line in `.lines` (the daemon's log, to count its passes);
 * leave it off for monitors, which may print thousands of lines a second under churn.
 */
export function lineChild(argv, { env = process.env, keepLines = false, timeoutMs = 10_000 } = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const waiters = [];
  const lines = [];
  let buf = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  child.stdout.setEncoding('utf8').on('data', (d) => {
    const t = now();
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (keepLines) lines.push(line);
      for (const w of [...waiters])
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(t);
        }
    }
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    /** Resolves with the arrival time of the first future line matching pred. */
    next(pred, what, ms = timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; stderr: ${stderr.slice(-500)}`)),
          ms,
        );
        waiters.push({ pred, resolve: (t) => (clearTimeout(timer), resolve(t)) });
      });
    },
    stop() {
      child.kill('SIGTERM');
      return new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

/** SIGKILLs every line child still running. */
export function killLineChildren() {
  for (const c of running) c.kill('SIGKILL');
}

/** Kills the line children and whatever else runs in `ns`, deletes it and the work dir. */
export function dropSandbox(ns, work) {
  killLineChildren();
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').filter(Boolean)) spawnSync('kill', ['-9', pid]);
  spawnSync('ip', ['netns', 'del', ns]);
  rmSync(work, { recursive: true, force: true });
}

/** Runs a bench's main and always drops its sandbox; a failure sets exit code 1. */
export function runBench(main, drop) {
  main().then(
    () => drop(),
    (e) => {
      console.error(e);
      drop();
      process.exitCode = 1;
    },
  );
}
