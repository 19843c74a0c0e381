#!/usr/bin/env node
// Figures (not assertions) for flannel removal, in throwaway network namespaces (root needed):
//   node bench/flannel.mjs [--trials N]
// 1. One removal pass (list the candidate chains + match + one delete batch) on the mixed node
//    (kube-proxy, docker, ip-masq-agent, CNI bridge chain, current flannel), after flanneld's
//    re-add each time, split into list / match / delete.
// 2. The running daemon (`ip-masq run`, dist/ip-masq.js): time from flanneld re-adding its
//    rules (iptables-restore --noflush, as ipTablesCleanAndBuild does) to their deletion, both
//    instants taken from one `nft -j monitor rules` stream (the add and delete events).
// Prints median / p90 / worst per figure. Uses the TypeScript sources through esbuild.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TRIALS = Number(process.argv[process.argv.indexOf('--trials') + 1] || 50) || 50;
const work = mkdtempSync(join(tmpdir(), 'ipm-bench-flannel-'));
const NS = `ipmbenchfl${process.pid}`;
const children = [];

function sh(argv, stdin) {
  const r = spawnSync(argv[0], argv.slice(1), { input: stdin ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inNs = (argv, stdin) => sh(['ip', 'netns', 'exec', NS, ...argv], stdin);
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms, worst ${s[s.length - 1].toFixed(1)} ms (n=${s.length})`;
};

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const lib = join(work, 'flannel-lib.mjs');
  await build({
    stdin: {
      contents: [
        "export { removeFlannelMasquerade, listFlannelCandidates } from './daemon/src/flannel/remove.ts';",
        "export { findFlannelMasquerade, deleteRulesBatch } from './daemon/src/flannel/match.ts';",
        "export { resolveFlannelFacts } from './daemon/src/flannel/subnet-env.ts';",
        "export { NftClient } from './daemon/src/nft/client.ts';",
        "export { SCENARIOS, restoreText } from './test/fixtures/flannel/scenarios.ts';",
      ].join('\n'),
      resolveDir: REPO,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: lib,
    logLevel: 'warning',
  });
  const {
    removeFlannelMasquerade,
    listFlannelCandidates,
    findFlannelMasquerade,
    deleteRulesBatch,
    resolveFlannelFacts,
    NftClient,
    SCENARIOS,
    restoreText,
  } = await import(pathToFileURL(lib).href);

  sh(['ip', 'netns', 'add', NS]);
  inNs(['ip', 'link', 'set', 'lo', 'up']);
  const scenario = SCENARIOS.find((s) => s.name === 'mixed-node');
  for (const step of scenario.steps) {
    if (step.ip) inNs(['iptables-restore', '--noflush', '--wait'], restoreText(step.ip));
    if (step.ip6) inNs(['ip6tables-restore', '--noflush', '--wait'], restoreText(step.ip6));
  }
  const flannelStep = scenario.steps.find((s) => s.ip?.natChains?.includes('FLANNEL-POSTRTG')).ip;
  const flannelLines = flannelStep.nat.map((l) => l.replace(/^M /, ''));
  // flanneld's ipTablesCleanAndBuild: -D every rule still there, -A all, one restore.
  const readd = () => {
    const present = new Set(inNs(['iptables-save', '-t', 'nat']).split('\n'));
    inNs(
      ['iptables-restore', '--noflush', '--wait'],
      [
        '*nat',
        ...flannelLines.filter((l) => present.has(l)).map((l) => l.replace(/^-A /, '-D ')),
        ...flannelLines,
        'COMMIT',
        '',
      ].join('\n'),
    );
  };
  const { facts } = resolveFlannelFacts(
    { clusterCIDR: [], nodeSubnet: [] },
    { text: scenario.subnetEnv, path: 'subnet.env' },
  );
  const client = new NftClient({ argv: ['ip', 'netns', 'exec', NS, 'nft'] });
  const opts = { enableIPv6: false };

  // 1. removal pass
  const total = [];
  const list = [];
  const match = [];
  const del = [];
  await removeFlannelMasquerade(client, facts, opts); // warm-up
  for (let i = 0; i < TRIALS; i++) {
    readd();
    const t0 = performance.now();
    const listings = await listFlannelCandidates(client, opts);
    const t1 = performance.now();
    const refs = findFlannelMasquerade(listings, facts, opts);
    const t2 = performance.now();
    await client.applyBatch(deleteRulesBatch(refs));
    const t3 = performance.now();
    if (refs.length !== 2) throw new Error(`expected 2 flannel rules, found ${refs.length}`);
    list.push(t1 - t0);
    match.push(t2 - t1);
    del.push(t3 - t2);
    total.push(t3 - t0);
  }
  const nftRules = JSON.parse(inNs(['nft', '-j', 'list', 'ruleset'])).nftables.filter(
    (o) => o.rule,
  ).length;
  console.log(
    `removal pass on the mixed node (${nftRules} rules in the netns), ${TRIALS} trials, incl. ip netns exec + nft process start:`,
  );
  console.log(`  total  ${stats(total)}`);
  console.log(`  list   ${stats(list)}   (3 chains, in parallel)`);
  console.log(`  match  ${stats(match)}`);
  console.log(`  delete ${stats(del)}   (one nft -j -f batch)`);

  // 2. daemon: re-add → deletion
  writeFileSync(join(work, 'subnet.env'), scenario.subnetEnv);
  writeFileSync(join(work, 'config.yaml'), `flannel:\n  subnetEnv: ${join(work, 'subnet.env')}\n`);
  const daemon = spawn(
    'ip',
    [
      'netns',
      'exec',
      NS,
      process.execPath,
      join(REPO, 'dist/ip-masq.js'),
      'run',
      '--config',
      join(work, 'config.yaml'),
      '--state-dir',
      join(work, 'state'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(daemon);
  const monitor = spawn('ip', ['netns', 'exec', NS, 'nft', '-j', 'monitor', 'rules'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(monitor);
  /** The trial in flight: MASQUERADE handles added by flanneld's re-add, and their deletions. */
  let current = null;
  let buf = '';
  monitor.stdout.setEncoding('utf8').on('data', (d) => {
    const now = performance.now();
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const ev = JSON.parse(line);
      const rule = ev.add?.rule ?? ev.delete?.rule;
      if (
        !current ||
        !rule ||
        rule.chain !== 'FLANNEL-POSTRTG' ||
        !JSON.stringify(rule.expr ?? []).includes('MASQUERADE')
      )
        continue;
      if (ev.add) current.added.set(rule.handle, now);
      else if (current.added.has(rule.handle)) {
        current.deleted.set(rule.handle, now - current.added.get(rule.handle));
        if (current.deleted.size === 2) current.resolve(Math.max(...current.deleted.values()));
      }
    }
  });
  // Ready: the daemon logged its first pass (which deleted the mixed node's leftovers).
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('daemon did not start')), 15_000);
    daemon.stdout.setEncoding('utf8').on('data', (d) => {
      if (/flannel|applied|unchanged|reconcile/i.test(d)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 500));
  const latencies = [];
  for (let i = 0; i < TRIALS; i++) {
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`trial ${i}: re-added rules not deleted within 10 s`)),
        10_000,
      );
      current = {
        added: new Map(),
        deleted: new Map(),
        resolve: (ms) => (clearTimeout(timer), resolve(ms)),
      };
    });
    readd();
    latencies.push(await done);
    current = null;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(
    `daemon (ip-masq run, nft monitor trigger): flannel re-add → its MASQUERADE rules deleted, ${TRIALS} trials:`,
  );
  console.log(`  ${stats(latencies)}   (per trial the later of the two rules)`);
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  spawnSync('ip', ['netns', 'del', NS]);
  rmSync(work, { recursive: true, force: true });
}
