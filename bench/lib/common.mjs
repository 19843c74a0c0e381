// Small helpers every benchmark script shares: running commands, throwaway network namespaces,
// and quantiles. Nothing here touches the root namespace's ruleset.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

/** Runs argv synchronously; throws with stderr on a non-zero exit unless `ok` lists the status. */
export function sh(argv, { input, ok = [0] } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), {
    input: input ?? '',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (!ok.includes(r.status))
    throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(0, 2000)}`);
  return r;
}

/** Runs argv asynchronously (stdin as a string), resolving with {status, stdout, stderr, ms}. */
export function run(argv, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, ms: now() - t0 }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

const live = new Set();
let trapped = false;
/** On Ctrl-C or SIGTERM, delete every namespace still alive before exiting (no leftovers). */
function trapSignals() {
  if (trapped) return;
  trapped = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      for (const ns of [...live]) ns.dispose();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** A network namespace named ipmb<label><pid>, with lo up; dispose() deletes it and kills what runs in it. */
export function netns(label) {
  const name = `ipmb${label}${process.pid}`;
  trapSignals();
  sh(['ip', 'netns', 'add', name]);
  const ns = {
    name,
    argv: (...argv) => ['ip', 'netns', 'exec', name, ...argv],
    exec: (argv, opts) => sh(['ip', 'netns', 'exec', name, ...argv], opts),
    dispose() {
      live.delete(ns);
      const pids =
        spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
          .stdout?.split('\n')
          .filter(Boolean) ?? [];
      for (const pid of pids) spawnSync('kill', ['-9', pid]);
      spawnSync('ip', ['netns', 'del', name]);
    },
  };
  live.add(ns);
  sh(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  return ns;
}

/** Quantiles of a sample (nearest rank). */
export function stats(xs) {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { n: 0, p50: NaN, p95: NaN, p99: NaN, min: NaN, max: NaN };
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, min: s[0], p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] };
}

/** Command-line flags: --name value, --flag. */
export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = true;
    else {
      out[a.slice(2)] = next;
      i++;
    }
  }
  return out;
}

/** N distinct, non-adjacent, non-overlapping IPv4 prefixes inside 10.0.0.0/8 (collapse keeps all N): 10.x/28 every 32 addresses, shifted by `offset` slots. */
export function cidrList(n, offset = 0) {
  const out = [];
  for (let i = offset; i < n + offset; i++) {
    const a = 0x0a000000 + i * 32;
    out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/28`);
  }
  return out;
}
