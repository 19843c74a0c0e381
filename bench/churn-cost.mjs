#!/usr/bin/env node
// B7 (issue 15): what a co-tenant's rule churn costs the daemon, and whether it still reacts.
// Figures, never assertions; root, throwaway network namespaces only:
//   node bench/churn-cost.mjs [--rates 0,1000,4000,10000,40000] [--window 10] [--reps 3]
//        [--latency-rate 4000] [--heals 60] [--readds 30] [--bundle dist/ip-masq.js]
//        [--label after] [--modes off,on] [--no-settle] [--json FILE]
// In each namespace a kube-proxy-like co-tenant (bench/lib/churn.mjs) restores `rate` nat rules
// once a second with iptables-restore while `ip-masq run` (the built bundle) runs. Two nodes:
//   flannel ipMasq off  no flannel MASQUERADE rule anywhere (the recommended end state);
//   flannel ipMasq on   a stand-in flanneld re-adds its MASQUERADE rules every 5 s once they are
//                       missing (flanneld's --iptables-resync), so the daemon keeps deleting them.
// 1. CPU: CPU-seconds per wall second of the daemon's whole process tree — node, its live
//    children and its reaped children (bench/lib/proc-cpu.mjs) — over `window` s, `reps` times,
//    for every rate.
// 2. Under `latency-rate` churn: our table deleted (`nft delete table ip ip-masq`) → restored,
//    both instants from one `nft -j monitor tables` stream; and (ipMasq on) flannel's rules
//    re-added by iptables-restore → deleted, from one `nft -j monitor rules` stream.
// --bundle measures another build (e.g. main before issue 15) with the same harness.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { args, netns, now, REPO, run, sleep, stats } from './lib/common.mjs';
import { killLineChildren, lineChild } from './lib/line-child.mjs';
import { startChurn } from './lib/churn.mjs';
import { treeCpuSeconds } from './lib/proc-cpu.mjs';

const opt = args();
const RATES = String(opt.rates ?? '0,1000,4000,10000,40000')
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const WINDOW_S = Number(opt.window ?? 10);
const REPS = Number(opt.reps ?? 3);
const LATENCY_RATE = Number(opt['latency-rate'] ?? 4000);
const HEALS = Number(opt.heals ?? 60);
const READDS = Number(opt.readds ?? 30);
const BUNDLE = resolve(REPO, opt.bundle ?? 'dist/ip-masq.js');
const LABEL = opt.label ?? 'after';
const MODES = String(opt.modes ?? 'off,on').split(',');
// The node flags the shipped unit gives the daemon (its ExecStart), as bench/daemon-latency.mjs.
const unit = readFileSync(join(REPO, 'systemd/ip-masq.service'), 'utf8');
const NODE_FLAGS = (
  /^ExecStart=\/usr\/bin\/node (.*?) \/usr\/lib\/ip-masq\/ip-masq\.js /m.exec(unit)?.[1] ?? ''
)
  .split(' ')
  .filter(Boolean);
const work = mkdtempSync(join(tmpdir(), 'ipm-bench-churn-'));

// flannel v0.2x's rules (iptables-nft), as flanneld's ipTablesCleanAndBuild writes them.
const POD_NET = '10.244.0.0/16';
const FLANNEL_RULES = [
  `-A FLANNEL-POSTRTG -s ${POD_NET} -d ${POD_NET} -m comment --comment "flanneld masq" -j RETURN`,
  `-A FLANNEL-POSTRTG -s ${POD_NET} ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
  `-A FLANNEL-POSTRTG ! -s ${POD_NET} -d ${POD_NET} -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
];
const SUBNET_ENV = `FLANNEL_NETWORK=${POD_NET}\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`;

/** Whether `pid` has an nft monitor child decoding rule events. */
function ruleMonitorRunning(pid) {
  const r = spawnSync('ps', ['-o', 'args=', '--ppid', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').some((l) => / monitor new rules$/.test(l.trim()));
}

/** flanneld's re-add: -D what is still there, -A all of it, one restore. */
function flannelReadd(ns) {
  const present = new Set(ns.exec(['iptables-save', '-t', 'nat']).stdout.split('\n'));
  ns.exec(['iptables-restore', '--noflush', '-w', '5'], {
    input: [
      '*nat',
      ...FLANNEL_RULES.filter((l) => present.has(l)).map((l) => l.replace(/^-A /, '-D ')),
      ...FLANNEL_RULES,
      'COMMIT',
      '',
    ].join('\n'),
  });
}

/** A stand-in flanneld with --ip-masq: every 5 s, re-creates its rules once one is missing. */
function fakeFlanneld(ns) {
  let stopped = false;
  let paused = false;
  let readds = 0;
  const done = (async () => {
    while (!stopped) {
      await sleep(5000);
      if (stopped || paused) continue;
      const chain = ns.exec(['iptables', '-w', '5', '-t', 'nat', '-S', 'FLANNEL-POSTRTG']).stdout;
      if ((chain.match(/MASQUERADE/g) ?? []).length < 2) {
        flannelReadd(ns);
        readds++;
      }
    }
  })();
  return {
    get readds() {
      return readds;
    },
    pause: (p) => (paused = p),
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function node(mode) {
  const ns = netns(`b7${mode === 'on' ? 'n' : 'f'}`);
  const dir = join(work, mode);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'subnet.env'), SUBNET_ENV);
  writeFileSync(join(dir, 'config.yaml'), `flannel:\n  subnetEnv: ${join(dir, 'subnet.env')}\n`);
  if (mode === 'on') {
    ns.exec(['iptables-restore', '--noflush', '-w', '5'], {
      input: `*nat\n:FLANNEL-POSTRTG - [0:0]\n-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n${FLANNEL_RULES.join('\n')}\nCOMMIT\n`,
    });
  }
  const daemon = lineChild(
    ns.argv(
      process.execPath,
      ...NODE_FLAGS,
      BUNDLE,
      'run',
      '--config',
      join(dir, 'config.yaml'),
      '--state-dir',
      join(dir, 'state'),
    ),
  );
  await daemon.next((l) => l.includes('"msg":"ready"'), 'daemon ready');
  const flanneld = mode === 'on' ? fakeFlanneld(ns) : null;
  // ipMasq off: measure the steady state, after the rule window of the start has closed (the
  // daemon watches rules for 120 s after its start; a build without one has no such child).
  // --no-settle (quick mode) skips that wait and measures with the start window open.
  if (!flanneld && !opt['no-settle'])
    await until(() => !ruleMonitorRunning(daemon.child.pid), 180_000);
  // ipMasq on: measure once flanneld is in its steady fight (a re-add deleted at least once).
  if (flanneld) while (flanneld.readds < 1) await sleep(200);
  await sleep(2000);
  return { ns, daemon, flanneld };
}

async function cpuAt(n, rate) {
  const churn = rate > 0 ? startChurn(n.ns.argv(), { rules: rate }) : null;
  await sleep(2000);
  const reps = [];
  for (let r = 0; r < REPS; r++) {
    const r0 = churn?.stats.restores ?? 0;
    const t0 = now();
    const c0 = treeCpuSeconds(n.daemon.child.pid);
    await sleep(WINDOW_S * 1000);
    const c1 = treeCpuSeconds(n.daemon.child.pid);
    const wallS = (now() - t0) / 1000;
    reps.push({
      cpuPct: ((c1 - c0) / wallS) * 100,
      wallS,
      rulesPerS: churn ? ((churn.stats.restores - r0) * rate) / wallS : 0,
    });
  }
  await churn?.stop();
  return reps;
}

/** Waits (bounded) until `probe()` is true; false on timeout. */
async function until(probe, timeoutMs) {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (probe()) return true;
    await sleep(20);
  }
  return false;
}

const TRIAL_TIMEOUT_MS = 10_000;

async function heals(n, trials) {
  const observer = lineChild(n.ns.argv('nft', '-j', 'monitor', 'tables'));
  await sleep(300);
  const out = [];
  let missed = 0;
  const ours = () =>
    n.ns.exec(['nft', 'list', 'table', 'ip', 'ip-masq'], { ok: [0, 1] }).status === 0;
  for (let i = 0; i < trials && missed < 3; i++) {
    // Both instants from the observer; a busy VM can make even the observer drop netlink
    // events (ENOBUFS), so the deletion falls back to the moment its command returned.
    const gone = observer
      .next(
        (l) => l.startsWith('{"delete": {"table": {"family": "ip", "name": "ip-masq"'),
        'table deleted',
        TRIAL_TIMEOUT_MS,
      )
      .catch(() => null);
    const back = observer
      .next(
        (l) => l.startsWith('{"add": {"table": {"family": "ip", "name": "ip-masq"'),
        'table re-added',
        TRIAL_TIMEOUT_MS,
      )
      .catch(() => null);
    await run(n.ns.argv('nft', 'delete', 'table', 'ip', 'ip-masq'));
    const tCmd = now();
    const tBack = await back;
    const tGone = (await gone) ?? tCmd;
    if (tBack !== null) out.push(tBack - tGone);
    else {
      // Not healed (or not seen) within the timeout: counted, and the table is waited for
      // (the resync restores it) so the next trial starts from a healthy node.
      missed++;
      await until(ours, 90_000);
    }
    await sleep(200 + Math.random() * 200);
  }
  await observer.stop();
  return { ms: out, missed };
}

async function readds(n, trials) {
  n.flanneld.pause(true);
  const observer = lineChild(n.ns.argv('nft', '-j', 'monitor', 'rules'));
  // MASQUERADE additions and deletions in FLANNEL-POSTRTG (handle → arrival), this trial's.
  const added = new Map();
  const deleted = new Map();
  let buf = '';
  observer.child.stdout.on('data', (d) => {
    const t = now();
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.includes('"FLANNEL-POSTRTG"') || !line.includes('MASQUERADE')) continue;
      const ev = JSON.parse(line);
      if (ev.add) added.set(ev.add.rule.handle, t);
      else if (ev.delete) deleted.set(ev.delete.rule.handle, t);
    }
  });
  await sleep(300);
  const out = [];
  let missed = 0;
  for (let i = 0; i < trials; i++) {
    added.clear();
    deleted.clear();
    flannelReadd(n.ns);
    const deadline = now() + TRIAL_TIMEOUT_MS;
    const settled = () => added.size === 2 && [...added.keys()].every((h) => deleted.has(h));
    while (!settled() && now() < deadline) await sleep(1);
    if (!settled()) {
      missed++;
      if (missed >= 3) break;
      continue;
    }
    out.push(Math.max(...deleted.values()) - Math.min(...added.values()));
    await sleep(200 + Math.random() * 200);
  }
  await observer.stop();
  n.flanneld.pause(false);
  return { ms: out, missed };
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} missing: run make build`);
  const results = {
    label: LABEL,
    bundle: BUNDLE,
    nodeFlags: NODE_FLAGS,
    rates: RATES,
    windowS: WINDOW_S,
    reps: REPS,
    latencyRate: LATENCY_RATE,
    loadBefore: loadavg(),
    modes: {},
  };
  for (const mode of MODES) {
    const n = await node(mode);
    const m = { cpu: {} };
    try {
      // Reactions first: the co-tenant's chains stay behind after it stops, so a later phase
      // would run against the biggest nat table of the CPU phases (ascending rates below).
      const churn = startChurn(n.ns.argv(), { rules: LATENCY_RATE });
      try {
        await sleep(1500);
        if (HEALS > 0) {
          const h = await heals(n, HEALS);
          m.heal = h.ms;
          m.healMissed = h.missed;
          const s = stats(m.heal);
          console.log(
            `${LABEL}, ipMasq ${mode}, ${LATENCY_RATE} rules/s: table deleted → restored p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (n=${s.n}; not within ${TRIAL_TIMEOUT_MS / 1000} s: ${h.missed})`,
          );
        }
        if (mode === 'on' && READDS > 0) {
          const r = await readds(n, READDS);
          m.readd = r.ms;
          m.readdMissed = r.missed;
          const s = stats(m.readd);
          console.log(
            `${LABEL}, ipMasq on, ${LATENCY_RATE} rules/s: flannel re-add → deleted p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (n=${s.n}; not within ${TRIAL_TIMEOUT_MS / 1000} s: ${r.missed})`,
          );
        }
      } finally {
        await churn.stop();
      }
      for (const rate of RATES) {
        m.cpu[rate] = await cpuAt(n, rate);
        const s = stats(m.cpu[rate].map((x) => x.cpuPct));
        console.log(
          `${LABEL}, flannel ipMasq ${mode}, ${rate} rules/s (achieved ${stats(m.cpu[rate].map((x) => x.rulesPerS)).p50.toFixed(0)}): daemon tree ${s.p50.toFixed(2)} % of a core (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)}, n=${s.n})`,
        );
      }
    } finally {
      await n.flanneld?.stop();
      await n.daemon.stop();
      n.ns.dispose();
    }
    results.modes[mode] = m;
  }
  results.loadAfter = loadavg();
  if (opt.json) writeFileSync(opt.json, `${JSON.stringify(results, null, 1)}\n`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    killLineChildren();
    rmSync(work, { recursive: true, force: true });
  });
