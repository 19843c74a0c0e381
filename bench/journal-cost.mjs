#!/usr/bin/env node
// Issue 14, item 5: what one native journal entry costs the daemon. Figures, never assertions
// about time; the script exits non-zero only when the stand-in journald did not receive every
// entry intact (a correctness check). Root is needed for the `logger` comparison only:
//   node bench/journal-cost.mjs [--n 2000] [--logger-n N] [--no-logger] [--json FILE]
//
// A stand-in journald (perl, core Socket: Node cannot open an AF_UNIX datagram socket) listens
// in a private temp dir. The daemon's own JournalSender (bundled from daemon/src, with its perl
// helper) sends N realistic `applied` entries built by journal-entry.ts, one at a time, each
// waited for until the helper acknowledges it — the daemon's real pattern, events are far apart.
// Per entry: wall time send → ack, the Node process's CPU (process.cpuUsage), the helper's CPU
// (/proc/<pid>/stat utime + stime) and its RSS. Then a burst (all N queued at once) for
// throughput.
//
// The rejected alternative, `logger --journald` spawned once per entry, cannot be pointed at a
// stand-in: its `--socket` is for syslog only, and --journald always sends to
// /run/systemd/journal/socket (libsystemd). So the script re-executes itself in a private mount
// namespace (`unshare --mount`) with a tmpfs on /run and the stand-in's directory bound onto
// /run/systemd/journal: both senders then reach the same listener, and the host's journal is
// never touched. Without root the logger comparison is skipped, and the report says so.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, now, REPO, stats } from './lib/common.mjs';
import { loadDaemonSources } from './lib/daemon-src.mjs';

const opt = args();
const N = Number(opt.n ?? 2000);
const LOGGER_N = Number(opt['logger-n'] ?? N);
const JSON_OUT = typeof opt.json === 'string' ? opt.json : null;
const IN_NS = process.env.IPM_BENCH_JOURNAL_NS === '1';
const TICK_MS = 10; // USER_HZ 100

/** Re-runs this script in a private mount namespace where /run/systemd/journal is ours. */
function reexecInMountNamespace() {
  if (opt['no-logger'] || process.getuid?.() !== 0 || IN_NS) return null;
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
  if (probe.status !== 0) return null;
  const script = [
    'set -e',
    'mount -t tmpfs ipmb-journal /run',
    'mkdir -p /run/systemd/journal',
    'exec "$@"',
  ].join('\n');
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      process.execPath,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, IPM_BENCH_JOURNAL_NS: '1' } },
  );
  return r.status ?? 1;
}

/**
 * The stand-in journald: binds a datagram socket, says "ready", and appends every datagram to
 * `out` as "<length>\n<bytes>" (to a file, not to our stdout: reading it would be Node CPU
 * charged to the sender).
 */
const LISTENER = `use strict; use Socket;
my ($path, $out) = @ARGV;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\\n";
unlink $path; bind($s, pack_sockaddr_un($path)) or die "bind $path: $!\\n";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 8 << 20);
open(my $o, '>', $out) or die "$out: $!\\n"; binmode $o; select((select($o), $| = 1)[0]);
$| = 1; print "ready\\n";
while (1) { my $d; defined(recv($s, $d, 1 << 20, 0)) or die "recv: $!\\n"; print $o length($d), "\\n", $d; }`;

function startListener(dir, socketPath) {
  const out = join(dir, 'received.bin');
  const child = spawn('perl', ['-e', LISTENER, socketPath, out], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`stand-in journald exited ${code}`)));
    child.stdout.setEncoding('utf8').once('data', () => resolve({ child, out }));
  });
}

/** The datagrams the listener wrote so far, as strings. */
function received(out) {
  const buf = readFileSync(out);
  const grams = [];
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(10, at);
    const len = Number(buf.subarray(at, nl).toString('latin1'));
    grams.push(buf.subarray(nl + 1, nl + 1 + len).toString('utf8'));
    at = nl + 1 + len;
  }
  return grams;
}

/** Waits until the listener has written `count` datagrams (or 5 s passed). */
async function receivedAtLeast(out, count) {
  const t0 = now();
  let grams = received(out);
  while (grams.length < count && now() - t0 < 5000) {
    await new Promise((r) => setTimeout(r, 20));
    grams = received(out);
  }
  return grams;
}

/** A pino record of the daemon's `applied` event (controller.ts), generation `g`. */
function appliedRecord(g) {
  const a = (g * 7) % 200;
  return {
    level: 30,
    msg: 'applied ruleset',
    event: 'applied',
    trigger: 'config',
    triggers: ['config'],
    generation: g,
    reason: 'config changed',
    source: '/etc/ip-masq/config.yaml',
    cidrsAdded: [`198.51.100.${a}/32`, `203.0.113.${a}/32`],
    cidrsRemoved: [`192.0.2.${a}/32`],
    flannelRulesDeleted: [],
    transactions: 1,
    durationMs: 12.3,
  };
}

/** The IP_MASQ_GENERATION of a datagram, or NaN. */
const generationOf = (gram) => Number(/(?:^|\n)IP_MASQ_GENERATION=(\d+)\n/.exec(gram)?.[1] ?? NaN);

/**
 * Checks the datagrams against the entries sent: same count, each one the entry's fields in
 * order (FIELD=value lines), and the generations base+1..base+n each exactly once.
 */
function verify(grams, sent, { exact, base = 0 }) {
  const problems = [];
  if (grams.length !== sent.length)
    problems.push(`received ${grams.length} of ${sent.length} entries`);
  const seen = new Set();
  grams.forEach((g, i) => {
    const lines = g.replace(/\n$/, '').split('\n');
    const fields = lines.map((l) => /^([A-Z0-9_]+)=(.*)$/.exec(l));
    if (fields.some((f) => f === null))
      return void problems.push(`entry ${i}: a line is not FIELD=value`);
    const gen = fields.find((f) => f[1] === 'IP_MASQ_GENERATION')?.[2];
    if (gen === undefined || seen.has(gen))
      return void problems.push(`entry ${i}: generation ${gen} missing or repeated`);
    seen.add(gen);
    const want = sent[Number(gen) - base - 1];
    if (!want) return void problems.push(`entry ${i}: generation ${gen} was never sent`);
    // Ours must arrive byte for byte; logger may add fields of its own (SYSLOG_PID, …).
    const ok = exact ? lines.join('\n') === want.join('\n') : want.every((w) => lines.includes(w));
    if (!ok) problems.push(`entry ${i} (generation ${gen}): fields differ from those sent`);
  });
  return { received: grams.length, intact: problems.length === 0, problems: problems.slice(0, 5) };
}

/**
 * utime + stime (ms, in 10 ms ticks), on-CPU time from /proc/<pid>/schedstat (ns: the ticks are
 * too coarse for a few thousand small entries) and RSS (KiB) of a live process.
 */
function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  let schedNs = NaN;
  try {
    schedNs = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // no CONFIG_SCHED_INFO: the ticks alone
  }
  return {
    cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS,
    schedNs,
    rssKiB: rss ? Number(rss[1]) : NaN,
  };
}

/** CPU (ms) of this process's reaped children: cutime + cstime. */
function reapedChildrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function measureHelper(mod, socketPath, out) {
  process.env.IP_MASQ_JOURNAL_SOCKET = socketPath;
  const fallbacks = [];
  const sender = new mod.JournalSender({ fallback: (line) => fallbacks.push(line) });
  // Start the helper with one entry that is not counted (generation 0 is outside 1..N).
  sender.send(mod.journalEntry(appliedRecord(0)), 'warm-up\n');
  await sender.flushed();
  const helperPid = sender.child?.pid;
  const sent = [];
  const lat = [];
  const cpu0 = cpuMs();
  const helper0 = procUsage(helperPid);
  const t0 = now();
  for (let g = 1; g <= N; g++) {
    const s = now();
    const fields = mod.journalEntry(appliedRecord(g));
    sender.send(fields, `<6>{"generation":${g}}\n`);
    await sender.flushed();
    lat.push(now() - s);
    sent.push(fields);
  }
  const wallMs = now() - t0;
  const nodeCpuMs = cpuMs() - cpu0;
  const helper1 = procUsage(helperPid);
  // Burst: N queued at once (maxQueue raised so none overflows to the fallback).
  const burst = new mod.JournalSender({
    fallback: (line) => fallbacks.push(line),
    maxQueue: N + 1,
  });
  burst.send(mod.journalEntry(appliedRecord(0)), 'warm-up\n'); // its helper's start is not timed
  await burst.flushed();
  const b0 = now();
  const burstSent = [];
  for (let g = N + 1; g <= 2 * N; g++) {
    const fields = mod.journalEntry(appliedRecord(g));
    burst.send(fields, `<6>{"generation":${g}}\n`);
    burstSent.push(fields);
  }
  await burst.flushed();
  const burstMs = now() - b0;
  burst.close();
  sender.close();
  // Generation 0 is a warm-up (one per sender), 1..N one at a time, N+1..2N the burst.
  const grams = await receivedAtLeast(out, 2 * N + 2);
  const inRange = (lo, hi) => grams.filter((g) => !(generationOf(g) < lo || generationOf(g) > hi));
  return {
    n: N,
    latencyMs: stats(lat),
    wallPerEntryMs: wallMs / N,
    nodeCpuPerEntryUs: (nodeCpuMs * 1000) / N,
    helperCpuPerEntryUs: ((helper1.cpuMs - helper0.cpuMs) * 1000) / N,
    helperCpuTicks: (helper1.cpuMs - helper0.cpuMs) / TICK_MS,
    helperOnCpuPerEntryUs: (helper1.schedNs - helper0.schedNs) / 1000 / N,
    helperRssKiB: helper1.rssKiB,
    burstEntriesPerS: N / (burstMs / 1000),
    fallbacks: fallbacks.length,
    check: verify(inRange(1, N), sent, { exact: true }),
    burstCheck: verify(inRange(N + 1, 2 * N), burstSent, { exact: true, base: N }),
  };
}

/** One `logger --journald` per entry, as the first version did, against the same listener. */
async function measureLogger(mod, out) {
  // Generations 2N+1..2N+LOGGER_N, after the helpers' 2N + 2 (receivedAtLeast counts them all).
  const base = 2 * N;
  const sent = [];
  const lat = [];
  const cpu0 = cpuMs();
  const kids0 = reapedChildrenCpuMs();
  const t0 = now();
  for (let g = 1; g <= LOGGER_N; g++) {
    const s = now();
    const fields = mod.journalEntry(appliedRecord(base + g));
    await new Promise((resolve, reject) => {
      const child = spawn('logger', ['--journald'], { stdio: ['pipe', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`logger exited ${code}`)),
      );
      child.stdin.end(`${fields.join('\n')}\n`);
    });
    lat.push(now() - s);
    sent.push(fields);
  }
  const wallMs = now() - t0;
  const nodeCpuMs = cpuMs() - cpu0;
  const kidsMs = reapedChildrenCpuMs() - kids0;
  const grams = (await receivedAtLeast(out, base + 2 + LOGGER_N)).filter(
    (gram) => generationOf(gram) > base,
  );
  return {
    n: LOGGER_N,
    latencyMs: stats(lat),
    wallPerEntryMs: wallMs / LOGGER_N,
    nodeCpuPerEntryUs: (nodeCpuMs * 1000) / LOGGER_N,
    childCpuPerEntryUs: (kidsMs * 1000) / LOGGER_N,
    check: verify(grams, sent, { exact: false, base }),
  };
}

async function main() {
  const status = reexecInMountNamespace();
  if (status !== null) {
    process.exitCode = status;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ipm-bench-journal-'));
  const socketPath = IN_NS ? '/run/systemd/journal/socket' : join(dir, 'socket');
  let listener;
  let bundle;
  try {
    const { mod, outfile } = await loadDaemonSources();
    bundle = outfile;
    listener = await startListener(dir, socketPath);
    const helper = await measureHelper(mod, socketPath, listener.out);
    const logger = IN_NS
      ? await measureLogger(mod, listener.out)
      : {
          skipped:
            'needs root and unshare: logger --journald always sends to /run/systemd/journal/socket (its --socket is for syslog only)',
        };
    const result = {
      socket: IN_NS ? `${socketPath} (private mount namespace)` : socketPath,
      perlVersion: spawnSync('perl', ['-e', 'print $^V'], { encoding: 'utf8' }).stdout,
      helper,
      logger,
      command: `node bench/journal-cost.mjs --n ${N}`,
      cwd: REPO,
    };
    print(result);
    if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 1)}\n`);
    const broken = [helper.check, helper.burstCheck].filter((c) => !c.intact);
    if (broken.length > 0 || helper.fallbacks > 0) {
      console.error(
        `journal-cost: the stand-in journald did not receive every entry intact: ${JSON.stringify(broken.flatMap((c) => c.problems))}; ${helper.fallbacks} went to the fallback`,
      );
      process.exitCode = 1;
    }
  } finally {
    listener?.child.removeAllListeners('exit');
    listener?.child.kill();
    rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(bundle, { force: true });
  }
}

function print(r) {
  const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const h = r.helper;
  console.log(`journal-cost: stand-in journald at ${r.socket}, perl ${r.perlVersion}`);
  console.log(
    `  JournalSender (one perl helper), ${h.n} entries one at a time: send → ack p50 ${f(h.latencyMs.p50, 3)} ms, p99 ${f(h.latencyMs.p99, 3)} ms, max ${f(h.latencyMs.max, 2)} ms`,
  );
  console.log(
    `    CPU per entry: node ${f(h.nodeCpuPerEntryUs, 1)} µs, helper ${f(h.helperCpuPerEntryUs, 1)} µs by utime+stime (${h.helperCpuTicks} ticks of 10 ms), ${f(h.helperOnCpuPerEntryUs, 1)} µs on CPU by schedstat; helper RSS ${f(h.helperRssKiB / 1024, 1)} MiB; burst ${Math.round(h.burstEntriesPerS)} entries/s`,
  );
  console.log(
    `    received intact: ${h.check.received}/${h.n} (${h.check.intact ? 'ok' : h.check.problems.join('; ')}), burst ${h.burstCheck.received}/${h.n} (${h.burstCheck.intact ? 'ok' : h.burstCheck.problems.join('; ')})`,
  );
  const l = r.logger;
  if (l.skipped) console.log(`  logger --journald per entry: skipped (${l.skipped})`);
  else {
    console.log(
      `  logger --journald per entry, ${l.n} entries: spawn → exit p50 ${f(l.latencyMs.p50, 3)} ms, p99 ${f(l.latencyMs.p99, 3)} ms`,
    );
    console.log(
      `    CPU per entry: node ${f(l.nodeCpuPerEntryUs, 1)} µs, logger ${f(l.childCpuPerEntryUs, 1)} µs; received ${l.check.received}/${l.n} (${l.check.intact ? 'ok' : l.check.problems.join('; ')})`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
