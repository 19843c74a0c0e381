#!/usr/bin/env node
// B6 (issue 12): flannel's subnet.env written → the pod-network rules live. Figures, never
// assertions. The built bundle dist/ip-masq.js runs as `ip-masq run` inside a throwaway network
// namespace (root needed; `make build` first):
//   node bench/facts-latency.mjs [--writes 200] [--json FILE]
// The daemon starts before the lease file's directory exists (the boot order: ip-masq before
// flanneld). The first sample is flanneld's start: mkdir /run/flannel, write `.subnet.env`,
// rename it to `subnet.env`. Every further sample is a new lease written the same way (a new
// FLANNEL_NETWORK), one every ~250 ms. "Live" is the instant `nft -j monitor` in the namespace
// reports a rule of table ip ip-masq carrying the new network; resyncInterval is 1h, so only
// the watch can explain a fast figure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
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
const WRITES = Number(arg('writes', 200));
const JSON_OUT = arg('json', null);

const NS = `ipmbenchf${process.pid}`;
const work = mkdtempSync(join(tmpdir(), 'ipm-bench-facts-'));
const confPath = join(work, 'etc', 'config.yaml');
const flannelDir = join(work, 'run', 'flannel');
const subnetEnv = join(flannelDir, 'subnet.env');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function sh(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] };
}

/** flanneld's WriteSubnetFile: a dot-file next to the lease, renamed into place. */
function flanneldWrites(i) {
  const net = `10.${100 + (i % 150)}.0.0`;
  const text = `FLANNEL_NETWORK=${net}/16\nFLANNEL_SUBNET=10.${100 + (i % 150)}.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`;
  writeFileSync(join(flannelDir, '.subnet.env'), text);
  renameSync(join(flannelDir, '.subnet.env'), subnetEnv);
  return net;
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} missing: run make build`);
  sh(['ip', 'netns', 'add', NS]);
  sh(['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  mkdirSync(join(work, 'etc'), { recursive: true });
  mkdirSync(join(work, 'run'), { recursive: true });
  writeFileSync(
    confPath,
    `nonMasqueradeCIDRs: [192.168.0.0/16]\nresyncInterval: 1h\nflannel:\n  subnetEnv: ${subnetEnv}\n`,
  );
  const monitor = lineChild(['ip', 'netns', 'exec', NS, 'nft', '-j', 'monitor']);
  await sleep(200);
  const daemon = lineChild([
    'ip',
    'netns',
    'exec',
    NS,
    process.execPath,
    BUNDLE,
    'run',
    '--config',
    confPath,
    '--state-dir',
    join(work, 'state'),
  ]);
  await daemon.next((l) => l.includes('"msg":"ready"'), 'ready');
  await sleep(300);

  const samples = [];
  let lateDirMs = null;
  for (let i = 0; i < WRITES; i++) {
    const net = `10.${100 + (i % 150)}.0.0`;
    const live = monitor.next(
      (l) => l.includes('"rule"') && l.includes('"ip-masq"') && l.includes(`"addr": "${net}"`),
      `pod network ${net} live`,
    );
    const t0 = now();
    if (i === 0) mkdirSync(flannelDir);
    flanneldWrites(i);
    const ms = (await live) - t0;
    if (i === 0) lateDirMs = ms;
    samples.push(ms);
    await sleep(200 + Math.random() * 100);
  }
  daemon.child.kill('SIGTERM');
  monitor.child.kill();
  const results = {
    machine: `${process.platform} ${process.arch}, node ${process.version}, ${(await import('node:os')).cpus().length} cores`,
    factsLatency: stats(samples),
    lateDirMs,
    samples: samples.map((x) => Math.round(x * 100) / 100),
  };
  const st = results.factsLatency;
  console.log(
    `subnet.env written → pod-network rules live: p50 ${st.p50.toFixed(1)} ms, p95 ${st.p95.toFixed(1)} ms, p99 ${st.p99.toFixed(1)} ms, max ${st.max.toFixed(1)} ms (n=${st.n}); first write into a late /run/flannel ${lateDirMs.toFixed(1)} ms`,
  );
  if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(results, null, 2)}\n`);
}

runBench(main, () => dropSandbox(NS, work));
