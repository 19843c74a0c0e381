#!/usr/bin/env node
// B1 apply cost vs N and B5 steady-state resync cost (figures, never assertions). Root needed.
//   node bench/apply-cost.mjs [--n 1,64,1000,10000,100000] [--reps 10] [--cli-reps 5] [--noop 20]
//                             [--big-reps 3] [--json FILE]
// (--big-reps: repetitions of every kind for N ≥ 100,000, where one baseline sync takes seconds.)
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
const NS_LIST = String(opt.n ?? '1,64,1000,10000,100000')
  .split(',')
  .map(Number);
const REPS = Number(opt.reps ?? 10);
const NOOP = Number(opt.noop ?? 20);
const CLI_REPS = Number(opt['cli-reps'] ?? Math.min(REPS, 5));
const BIG_REPS = Number(opt['big-reps'] ?? 3);
const BUNDLE = join(REPO, 'dist/ip-masq.js');

const yaml = (cidrs) => `nonMasqueradeCIDRs:\n${cidrs.map((c) => `  - ${c}\n`).join('')}`;

/**
 * Splits one reconcile into phases (ms) from the recorded nft calls and the timed flannel hooks:
 * facts (flannel facts) · read (nft list of our tables) · compare (normalize + diff + build the
 * batch, JS) · transaction (nft -j -f) · readBack (nft list) · verify (normalize + diff, JS) ·
 * flannel (the removal pass: list candidate chains, legacy report).
 */
function phases(calls, hooks, t0, t1) {
  const ours = (c) => c.method === 'list' && /^table ip6? ip-masq$/.test(c.what);
  const batchIdx = calls.findIndex((c) => c.method === 'applyBatch');
  const before = calls.filter((c, i) => ours(c) && (batchIdx < 0 || i < batchIdx));
  const after = batchIdx < 0 ? [] : calls.filter((c, i) => ours(c) && i > batchIdx);
  const end = (xs) => Math.max(...xs.map((c) => c.t1));
  const start = (xs) => Math.min(...xs.map((c) => c.t0));
  const readEnd = end(before);
  const removeStart = hooks.remove?.t0 ?? t1;
  const p = {
    facts: start(before) - t0,
    read: readEnd - start(before),
    flannel: hooks.remove ? hooks.remove.t1 - hooks.remove.t0 : 0,
  };
  if (batchIdx >= 0) {
    const b = calls[batchIdx];
    p.compare = b.t0 - readEnd;
    p.transaction = b.t1 - b.t0;
    p.readBack = end(after) - start(after);
    p.verify = removeStart - end(after);
  } else {
    p.compare = removeStart - readEnd;
  }
  return p;
}

/** flannelHooks() with each call's start/end recorded into `hooks`. */
function timedHooks(flannelHooks, hooks) {
  const h = flannelHooks();
  return {
    facts: async (...a) => h.facts(...a),
    remove: async (...a) => {
      const rec = { t0: now(), t1: NaN };
      hooks.remove = rec;
      try {
        return await h.remove(...a);
      } finally {
        rec.t1 = now();
      }
    },
  };
}

async function worker() {
  const { mod, outfile } = await loadDaemonSources();
  const { reconcile, flannelHooks, NftClient, parseConfigText } = mod;
  const work = mkdtempSync(join(tmpdir(), 'ipm-bench-apply-'));
  const results = { reps: REPS, perN: {} };
  try {
    for (const n of NS_LIST) {
      const big = n >= 100_000;
      const reps = big ? Math.min(REPS, BIG_REPS) : REPS;
      const cliReps = big ? Math.min(CLI_REPS, BIG_REPS) : CLI_REPS;
      const noopReps = big ? Math.min(NOOP, BIG_REPS) : NOOP;
      const lists = [cidrList(n, 0), cidrList(n, 1)];
      const texts = lists.map(yaml);
      const files = texts.map((t, i) => {
        const f = join(work, `config-${n}-${i}.yaml`);
        writeFileSync(f, t);
        return f;
      });
      const r = {
        ours: { reconcile: [], parse: [], phases: [], cli: [], cliReported: [] },
        noop: {},
        baseline: { total: [], restore: [], ensure: [] },
      };
      const { client, calls, reset } = timedClient(NftClient, { argv: ['nft'] });
      const hooks = {};
      const deps = { client, flannel: timedHooks(flannelHooks, hooks) };
      let k = 0;
      const configs = texts.map((t) => parseConfigText(t, 'bench.yaml'));
      await reconcile(deps, configs[k++ % 2]); // creation + warm-up, not counted
      for (let i = 0; i < reps; i++) {
        const text = texts[k % 2];
        const p0 = now();
        const config = parseConfigText(text, 'bench.yaml');
        r.ours.parse.push(now() - p0);
        reset();
        delete hooks.remove;
        const t0 = now();
        const res = await reconcile(deps, config);
        const t1 = now();
        if (!res.changed || res.transactions !== 1)
          throw new Error(
            `N=${n}: expected one transaction, got changed=${res.changed} transactions=${res.transactions}`,
          );
        r.ours.reconcile.push(t1 - t0);
        r.ours.phases.push(phases(calls, hooks, t0, t1));
        k++;
      }
      for (let i = 0; i < cliReps; i++) {
        const out = await run([process.execPath, BUNDLE, 'apply', '--config', files[k % 2]]);
        if (out.status !== 0 || !out.stdout.startsWith('applied'))
          throw new Error(`ip-masq apply (N=${n}): ${out.stdout}${out.stderr}`);
        r.ours.cli.push(out.ms);
        r.ours.cliReported.push(Number(/\[(\d+(?:\.\d+)?) ms\]\s*$/.exec(out.stdout.trim())?.[1]));
        k++;
      }
      // B5: unchanged config → no write at all.
      const same = configs[(k + 1) % 2];
      await reconcile(deps, same);
      reset();
      const noopMs = [];
      const noopPhases = [];
      let transactions = 0;
      for (let i = 0; i < noopReps; i++) {
        const from = calls.length;
        delete hooks.remove;
        const t0 = now();
        const res = await reconcile(deps, same);
        const t1 = now();
        noopMs.push(t1 - t0);
        noopPhases.push(phases(calls.slice(from), hooks, t0, t1));
        transactions += res.transactions;
      }
      r.noop = {
        passes: noopReps,
        ms: noopMs,
        phases: noopPhases,
        transactionsReported: transactions,
        nftWrites: calls.filter((c) => c.method === 'applyBatch').length,
        nftReads: calls.filter((c) => c.method === 'list').length,
      };
      const elems =
        JSON.parse(
          sh(['nft', '-j', 'list', 'set', 'ip', 'ip-masq', 'nomasq']).stdout,
        ).nftables.find((o) => o.set).set.elem?.length ?? 0;
      r.ours.setElements = elems;
      sh(['nft', 'delete', 'table', 'ip', 'ip-masq']);

      // Baseline: the agent's sync, same CIDRs, alternating lists as well.
      await sync(lists[1]); // creates the chain and the jump, not counted
      for (let i = 0; i < reps; i++) {
        const t0 = now();
        const t = await sync(lists[i % 2]);
        r.baseline.total.push(now() - t0);
        r.baseline.restore.push(t.restoreMs);
        r.baseline.ensure.push(t.ensureChainMs + t.ensureRuleMs);
      }
      r.baseline.chainRules = sh(['iptables', '-t', 'nat', '-S', 'IP-MASQ-AGENT'])
        .stdout.split('\n')
        .filter((l) => l.startsWith('-A')).length;
      r.baseline.restoreBytes = Buffer.byteLength(restoreText(lists[0]));
      sh(['nft', 'delete', 'table', 'ip', 'nat']);
      results.perN[n] = r;
      const m = (xs) => stats(xs).p50.toFixed(1);
      process.stderr.write(
        `  B1 N=${n}: ours reconcile ${m(r.ours.reconcile)} ms (cli ${m(r.ours.cli)} ms), baseline sync ${m(r.baseline.total)} ms; noop ${m(noopMs)} ms, ${r.noop.nftWrites} writes\n`,
      );
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
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        process.execPath,
        self,
        '--worker',
        ...process.argv.slice(2).filter((a) => a !== '--json' && a !== opt.json),
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 * 1024 * 1024,
      },
    );
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
