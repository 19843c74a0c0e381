#!/usr/bin/env node
// Figures (never assertions) for `ip-masq run` (issue 4 §6), the built bundle dist/ip-masq.js
// run as a child inside a throwaway network namespace (root needed; `make build` first):
//   node bench/daemon-latency.mjs [--edits 200] [--drifts 200] [--reconciles 1000] [--starts 20] [--json FILE]
// 1. Reload latency: config file written (rename-replace, as editors do) → the new set element
//    reported live by the kernel (`nft -j monitor` in the namespace), one edit every ~250 ms.
// 2. Drift heal: `nft delete table ip ip-masq` by someone else → our table re-added, both
//    instants taken from the same monitor stream.
// 3. Footprint: RSS of the daemon after READY, and after ≥ 1,000 reconcile passes (SIGHUP-
//    triggered full passes, on top of the edits and heals above); a bare `node` for reference.
// 4. Start → READY: process spawned → READY=1 handed to systemd-notify (a stand-in on PATH that
//    records it), from an empty ruleset each time (the boot case).
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropSandbox, lineChild, runBench } from './lib/line-child.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(REPO, 'dist/ip-masq.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const EDITS = Number(arg('edits', 200));
const DRIFTS = Number(arg('drifts', 200));
const HOSTILE_DRIFTS = Number(arg('hostile-drifts', arg('drifts', 200)));
const RECONCILES = Number(arg('reconciles', 1000));
const STARTS = Number(arg('starts', 20));
const JSON_OUT = arg('json', null);
// The daemon runs with the node flags the shipped unit gives it (its ExecStart), so the figures
// are those of the service; --node-flags "…" overrides them (--node-flags "" for none).
function unitNodeFlags() {
  const unit = readFileSync(new URL('../systemd/ip-masq.service', import.meta.url), 'utf8');
  const exec = /^ExecStart=\/usr\/bin\/node (.*?) \/usr\/lib\/ip-masq\/ip-masq\.js /m.exec(unit);
  return exec ? exec[1] : '';
}
const NODE_FLAGS = arg('node-flags', unitNodeFlags()).split(' ').filter(Boolean);
const IDLE_MS = Number(arg('idle-ms', 15_000));

const NS = `ipmbenchd${process.pid}`;
const work = mkdtempSync(join(tmpdir(), 'ipm-bench-daemon-'));
const confDir = join(work, 'etc');
const confPath = join(confDir, 'config.yaml');
const stateDir = join(work, 'state');
const binDir = join(work, 'bin');
const notifyLog = join(work, 'notify.log');
const results = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function sh(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inNs = (...argv) => sh(['ip', 'netns', 'exec', NS, ...argv]);

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] };
}
const fmt = (st) =>
  `p50 ${st.p50.toFixed(1)} ms, p95 ${st.p95.toFixed(1)} ms, p99 ${st.p99.toFixed(1)} ms, max ${st.max.toFixed(1)} ms (n=${st.n})`;

function writeConfig(text) {
  writeFileSync(`${confPath}.tmp`, text);
  renameSync(`${confPath}.tmp`, confPath);
}
const configWith = (cidr) => `nonMasqueradeCIDRs: [${cidr}, 198.18.0.0/15]\nresyncInterval: 1h\n`;

function startDaemon() {
  return lineChild(
    [
      'ip',
      'netns',
      'exec',
      NS,
      process.execPath,
      ...NODE_FLAGS,
      BUNDLE,
      'run',
      '--config',
      confPath,
      '--state-dir',
      stateDir,
      '--log-level',
      'debug',
    ],
    {
      env: {
        ...process.env,
        PATH: `${binDir}:${process.env.PATH}`,
        NOTIFY_SOCKET: '/run/bench/notify',
      },
      keepLines: true,
    },
  );
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function stopDaemon(d) {
  d.child.kill('SIGTERM');
  await new Promise((r) => (d.child.exitCode !== null ? r() : d.child.once('exit', r)));
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} missing: run make build`);
  sh(['ip', 'netns', 'add', NS]);
  inNs('ip', 'link', 'set', 'lo', 'up');
  mkdirSync(confDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, 'systemd-notify'), `#!/bin/sh\necho "$*" >> ${notifyLog}\n`);
  chmodSync(join(binDir, 'systemd-notify'), 0o755);
  results.machine = `${process.platform} ${process.arch}, node ${process.version}, ${(await import('node:os')).cpus().length} cores`;
  results.nodeFlags = NODE_FLAGS;

  // 4. start → READY (first: it also warms the page cache for the others)
  const starts = [];
  writeConfig(configWith('192.0.2.0/24'));
  for (let i = 0; i < STARTS; i++) {
    inNs('nft', 'flush', 'ruleset');
    rmSync(notifyLog, { force: true });
    const t0 = now();
    const d = startDaemon();
    for (;;) {
      if (existsSync(notifyLog) && readFileSync(notifyLog, 'utf8').includes('READY=1')) break;
      if (d.child.exitCode !== null) throw new Error(`daemon exited: ${d.stderr()}`);
      await sleep(1);
    }
    starts.push(now() - t0);
    await stopDaemon(d);
  }
  results.startToReady = stats(starts);
  results.startToReadySamples = starts.map((x) => Math.round(x * 100) / 100);

  // The long-running daemon for 1–3, with its own monitor of the namespace.
  const monitor = lineChild(['ip', 'netns', 'exec', NS, 'nft', '-j', 'monitor']);
  await sleep(200);
  inNs('nft', 'flush', 'ruleset');
  const daemon = startDaemon();
  await daemon.next((l) => l.includes('"msg":"ready"'), 'ready');
  await sleep(300);
  results.rssAfterReadyMiB = rssKiB(daemon.child.pid) / 1024;

  // 1. reload latency
  const reloads = [];
  for (let i = 0; i < EDITS; i++) {
    const addr = `10.${(i >> 8) & 255}.${i & 255}.0`;
    const live = monitor.next(
      (l) => l.includes('"element"') && l.includes('"ip-masq"') && l.includes(`"addr": "${addr}"`),
      `element ${addr}`,
    );
    const t0 = now();
    writeConfig(configWith(`${addr}/24`));
    reloads.push((await live) - t0);
    await sleep(200 + Math.random() * 100);
  }
  results.reload = stats(reloads);
  results.reloadSamples = reloads.map((x) => Math.round(x * 100) / 100);

  // 2. drift heal
  // `n` times: our table deleted by someone else → re-added, both instants from the monitor.
  const healTrials = async (n) => {
    const heals = [];
    for (let i = 0; i < n; i++) {
      const gone = monitor.next(
        (l) => l.startsWith('{"delete": {"table": {"family": "ip", "name": "ip-masq"'),
        'table deleted',
      );
      const back = monitor.next(
        (l) => l.startsWith('{"add": {"table": {"family": "ip", "name": "ip-masq"'),
        'table re-added',
      );
      inNs('nft', 'delete', 'table', 'ip', 'ip-masq');
      const tGone = await gone;
      heals.push((await back) - tGone);
      await sleep(150 + Math.random() * 100);
    }
    return heals;
  };
  const heals = await healTrials(DRIFTS);
  results.driftHeal = stats(heals);
  results.driftHealSamples = heals.map((x) => Math.round(x * 100) / 100);

  // 2b. drift heal with a hostile 30,000-key drop-in in config.d (issue #10): every pass reads
  // it again and must reject it fast, so healing is not delayed.
  const hostile = join(confDir, 'config.d', '99-hostile.yaml');
  mkdirSync(join(confDir, 'config.d'), { recursive: true });
  writeFileSync(hostile, Array.from({ length: 30_000 }, (_, i) => `key${i}: ${i}`).join('\n'));
  await daemon.next((l) => l.includes('"code":"CONFIG_INVALID"'), 'hostile drop-in rejected');
  const hostileHeals = await healTrials(HOSTILE_DRIFTS);
  results.driftHealHostileDropIn = stats(hostileHeals);
  results.driftHealHostileDropInSamples = hostileHeals.map((x) => Math.round(x * 100) / 100);
  rmSync(hostile, { force: true });

  // 3. RSS after ≥ 1,000 reconciles
  let passes = daemon.lines.filter((l) => l.includes('"msg":"pass done"')).length;
  while (passes < RECONCILES) {
    const done = daemon.next((l) => l.includes('"msg":"pass done"'), 'pass done');
    daemon.child.kill('SIGHUP');
    await done;
    passes++;
  }
  await sleep(500);
  results.reconcilePasses = daemon.lines.filter((l) => l.includes('"msg":"pass done"')).length;
  results.applies = daemon.lines.filter((l) => l.includes('"msg":"applied ruleset"')).length;
  results.rssAfterReconcilesMiB = rssKiB(daemon.child.pid) / 1024;
  // V8 shrinks an idle heap on its own (memory reducer): the footprint of a daemon at rest.
  await sleep(IDLE_MS);
  results.rssAfterIdleMiB = rssKiB(daemon.child.pid) / 1024;
  const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)']);
  await sleep(500);
  results.bareNodeRssMiB = rssKiB(bare.pid) / 1024;
  bare.kill();

  await stopDaemon(daemon);
  monitor.child.kill();

  console.log(
    `ip-masq run — ${results.machine}; bundle ${(statSync(BUNDLE).size / 1024).toFixed(0)} KiB`,
  );
  console.log(`reload latency (file written → new set live), ${fmt(results.reload)}`);
  console.log(`drift heal (table deleted → re-added),      ${fmt(results.driftHeal)}`);
  console.log(
    `  … with a 30,000-key drop-in in config.d,   ${fmt(results.driftHealHostileDropIn)}`,
  );
  console.log(`start → READY=1 (empty ruleset),            ${fmt(results.startToReady)}`);
  console.log(
    `RSS after READY ${results.rssAfterReadyMiB.toFixed(1)} MiB; after ${results.reconcilePasses} reconcile passes (${results.applies} applies) ${results.rssAfterReconcilesMiB.toFixed(1)} MiB, ${(IDLE_MS / 1000).toFixed(0)} s later ${results.rssAfterIdleMiB.toFixed(1)} MiB; bare node ${results.bareNodeRssMiB.toFixed(1)} MiB${NODE_FLAGS.length ? ` (node ${NODE_FLAGS.join(' ')})` : ''}`,
  );
  console.log(
    `load average during the run: ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(results, null, 2)}\n`);
}

runBench(main, () => dropSandbox(NS, work));
