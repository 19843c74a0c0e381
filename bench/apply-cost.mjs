#!/usr/bin/env node
// B1 apply cost vs N and B5 steady-state resync cost (figures, never assertions). Root needed.
//   node bench/apply-cost.mjs [--n 1,64,1000,10000,100000] [--reps 10] [--noop 20] [--json FILE]
// Re-runs itself inside one throwaway network namespace (so nft and iptables run there exactly
// as the daemon and the agent run them on a node, without `ip netns exec` on every call). Per N:
//   ours     — reconcile() from daemon/src (esbuild) with a changed config each time (the list
//              shifted by one CIDR, alternating): read live tables, plan, one `nft -j -f`
//              transaction, read back + verify, flannel pass. Timed in process, split into phases,
//              plus config parse time, plus `node dist/ip-masq.js apply` wall time (a one-shot CLI
//              run: Node start-up + load + parse + probe + reconcile) and the "[N ms]" it prints.
//   noop     — reconcile() with an unchanged config: nft write transactions counted by a wrapped
//              client (must be 0) and the pass timed.
//   baseline — ip-masq-agent's sync: iptables -N, -C (-A), iptables-restore --noflush of the
//              IP-MASQ-AGENT chain with the same CIDRs (bench/baseline/ip-masq-agent.mjs).
// Our table and the iptables nat table are deleted between the two, so neither slows the other.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restoreText, sync } from './baseline/ip-masq-agent.mjs';
import { args, cidrList, netns, now, REPO, run, sh, stats } from './lib/common.mjs';
import { loadDaemonSources, timedClient } from './lib/daemon-src.mjs';

const opt = args();
const NS_LIST = String(opt.n ?? '1,64,1000,10000,100000').split(',').map(Number);
const REPS = Number(opt.reps ?? 10);
const NOOP = Number(opt.noop ?? 20);
const CLI_REPS = Number(opt['cli-reps'] ?? Math.min(REPS, 5));
const BUNDLE = join(REPO, 'dist/ip-masq.js');

const yaml = (cidrs) => `nonMasqueradeCIDRs:\n${cidrs.map((c) => `  - ${c}\n`).join('')}`;

/** Splits one reconcile's recorded nft calls into phases (ms). */
function phases(calls, t0, t1) {
  const ours = (c) => c.method === 'list' && /^table ip6? ip-masq$/.test(c.what);
  const batchIdx = calls.findIndex((c) => c.method === 'applyBatch');
  const before = calls.filter((c, i) => ours(c) && (batchIdx < 0 || i < batchIdx));
  const after = batchIdx < 0 ? [] : calls.filter((c, i) => ours(c) && i > batchIdx);
  const end = (xs) => Math.max(...xs.map((c) => c.t1));
  const start = (xs) => Math.min(...xs.map((c) => c.t0));
  const readEnd = end(before);
  const p = { facts: start(before) - t0, readLive: readEnd - start(before) };
  if (batchIdx >= 0) {
    const b = calls[batchIdx];
    p.plan = b.t0 - readEnd;
    p.transaction = b.t1 - b.t0;
    p.readBack = end(after) - b.t1;
    p.flannel = t1 - end(after);
  } else {
    p.flannel = t1 - readEnd;
  }
  return p;
}

async function worker() {
  const { mod, outfile } = await loadDaemonSources();
  const { reconcile, flannelHooks, NftClient, parseConfigText } = mod;
  const work = mkdtempSync(join(tmpdir(), 'ipm-bench-apply-'));
  const results = { reps: REPS, perN: {} };
  try {
    for (const n of NS_LIST) {
      const lists = [cidrList(n, 0), cidrList(n, 1)];
      const texts = lists.map(yaml);
      const files = texts.map((t, i) => {
        const f = join(work, `config-${n}-${i}.yaml`);
        writeFileSync(f, t);
        return f;
      });
      const r = { ours: { reconcile: [], parse: [], phases: [], cli: [], cliReported: [] }, noop: {}, baseline: { total: [], restore: [], ensure: [] } };
      const { client, calls, reset } = timedClient(NftClient, { argv: ['nft'] });
      const deps = { client, flannel: flannelHooks() };
      let k = 0;
      const configs = texts.map((t) => parseConfigText(t, 'bench.yaml'));
      await reconcile(deps, configs[k++ % 2]); // creation + warm-up, not counted
      for (let i = 0; i < REPS; i++) {
        const text = texts[k % 2];
        const p0 = now();
        const config = parseConfigText(text, 'bench.yaml');
        r.ours.parse.push(now() - p0);
        reset();
        const t0 = now();
        const res = await reconcile(deps, config);
        const t1 = now();
        if (!res.changed || res.transactions !== 1) throw new Error(`N=${n}: expected one transaction, got changed=${res.changed} transactions=${res.transactions}`);
        r.ours.reconcile.push(t1 - t0);
        r.ours.phases.push(phases(calls, t0, t1));
        k++;
      }
      for (let i = 0; i < CLI_REPS; i++) {
        const out = await run([process.execPath, BUNDLE, 'apply', '--config', files[k % 2]]);
        if (out.status !== 0 || !out.stdout.startsWith('applied')) throw new Error(`ip-masq apply (N=${n}): ${out.stdout}${out.stderr}`);
        r.ours.cli.push(out.ms);
        r.ours.cliReported.push(Number(/\[(\d+(?:\.\d+)?) ms\]\s*$/.exec(out.stdout.trim())?.[1]));
        k++;
      }
      // B5: unchanged config → no write at all.
      const same = configs[(k + 1) % 2];
      await reconcile(deps, same);
      reset();
      const noopMs = [];
      let transactions = 0;
      for (let i = 0; i < NOOP; i++) {
        const t0 = now();
        const res = await reconcile(deps, same);
        noopMs.push(now() - t0);
        transactions += res.transactions;
      }
      r.noop = { passes: NOOP, ms: noopMs, transactionsReported: transactions, nftWrites: calls.filter((c) => c.method === 'applyBatch').length, nftReads: calls.filter((c) => c.method === 'list').length };
      const elems = JSON.parse(sh(['nft', '-j', 'list', 'set', 'ip', 'ip-masq', 'nomasq']).stdout).nftables.find((o) => o.set).set.elem?.length ?? 0;
      r.ours.setElements = elems;
      sh(['nft', 'delete', 'table', 'ip', 'ip-masq']);

      // Baseline: the agent's sync, same CIDRs, alternating lists as well.
      await sync(lists[1]); // creates the chain and the jump, not counted
      for (let i = 0; i < REPS; i++) {
        const t0 = now();
        const t = await sync(lists[i % 2]);
        r.baseline.total.push(now() - t0);
        r.baseline.restore.push(t.restoreMs);
        r.baseline.ensure.push(t.ensureChainMs + t.ensureRuleMs);
      }
      r.baseline.chainRules = sh(['iptables', '-t', 'nat', '-S', 'IP-MASQ-AGENT']).stdout.split('\n').filter((l) => l.startsWith('-A')).length;
      r.baseline.restoreBytes = Buffer.byteLength(restoreText(lists[0]));
      sh(['nft', 'delete', 'table', 'ip', 'nat']);
      results.perN[n] = r;
      const m = (xs) => stats(xs).p50.toFixed(1);
      process.stderr.write(`  B1 N=${n}: ours reconcile ${m(r.ours.reconcile)} ms (cli ${m(r.ours.cli)} ms), baseline sync ${m(r.baseline.total)} ms; noop ${m(noopMs)} ms, ${r.noop.nftWrites} writes\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(outfile, { force: true });
  }
  return results;
}

async function main() {
  if (opt.worker) {
    process.stdout.write(JSON.stringify(await worker()));
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const ns = netns('apply');
  try {
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, self, '--worker', ...process.argv.slice(2).filter((a) => a !== '--json' && a !== opt.json)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`apply-cost worker exited ${r.status}`);
    const results = JSON.parse(r.stdout);
    if (opt.json) writeFileSync(opt.json, `${JSON.stringify(results, null, 1)}\n`);
    else console.log(JSON.stringify(results, null, 1));
  } finally {
    ns.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
