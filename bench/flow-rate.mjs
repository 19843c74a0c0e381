#!/usr/bin/env node
// B2 per-new-flow cost vs N (figures, never assertions). Root needed; hping3 (make system-deps).
//   node bench/flow-rate.mjs [--n 64,1000,10000] [--reps 3] [--window 3] [--warmup 1] [--json FILE]
//                            [--split N]   (also: ours with N entries split between both lists,
//                            N/2 nonMasqueradeCIDRs /28s and N/2 masqueradeCIDRs /30s nested in
//                            them, so the set is their longest-prefix difference)
//                            [--fixed-source]   (experiment: one source address, so source ports
//                            wrap after 65,536 packets and later packets hit existing conntrack
//                            entries, skipping nat: NOT a new-flow figure; shows why --rand-source)
// Three throwaway namespaces: src (10.244.1.2, a "pod") → rtr (the node: 10.244.1.1 |
// 198.18.0.1, forwarding) → sink (198.18.0.2, "outside"; drops everything at netdev ingress so
// it costs nothing). `hping3 --udp --flood --rand-source` in src makes every packet a new flow
// (random source address, incrementing source port), so every packet traverses rtr's nat
// POSTROUTING hook. None of the N CIDRs contains 198.18.0.2: every packet walks the whole
// policy and is masqueraded, the worst and the common case. The figure is packets/s received by
// the sink's veth (/proc/net/dev delta over the window after a 1 s warm-up), i.e. new flows/s
// the router NATed. Policies, one at a time in rtr:
//   ours     — `ip-masq apply` (dist/ip-masq.js): interval set + 1 lookup
//   baseline — ip-masq-agent's IP-MASQ-AGENT chain via iptables-restore (one rule per CIDR)
//   none     — no nat rule at all (reference: the generator + forwarding limit, no conntrack)
//   masq     — one unconditional masquerade rule (reference: the floor every SNAT policy pays,
//              conntrack entry + NAT binding per flow; the policy's own cost is on top of it)
// Conntrack: rtr's nf_conntrack_udp_timeout is set to 1 s (a per-namespace sysctl) so the table
// (nf_conntrack_max is global here and read-only inside a namespace; it is not changed) is
// recycled; early drop evicts unreplied entries when it fills. The count is reported.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sync } from './baseline/ip-masq-agent.mjs';
import { args, cidrList, netns, REPO, sh, sleep, stats } from './lib/common.mjs';

const opt = args();
const N_LIST = String(opt.n ?? '64,1000,10000')
  .split(',')
  .map(Number);
const REPS = Number(opt.reps ?? 3);
const WINDOW_S = Number(opt.window ?? 3);
const WARMUP_S = Number(opt.warmup ?? 1);
const BUNDLE = join(REPO, 'dist/ip-masq.js');
const SPLIT = opt.split === undefined ? null : Number(opt.split);

/**
 * N entries split between both lists: N/2 nonMasqueradeCIDRs /28s and, inside each, a /30
 * masqueradeCIDRs exception (the /28 minus its /30 is 2 prefixes: the set holds N of them).
 * None contains the sink, so every packet still walks the whole policy and is masqueraded.
 */
function splitConfig(n) {
  const keep = cidrList(n / 2);
  const masq = keep.map((c) => c.replace('/28', '/30'));
  const list = (xs) => xs.map((c) => `  - ${c}\n`).join('');
  return `nonMasqueradeCIDRs:\n${list(keep)}masqueradeCIDRs:\n${list(masq)}`;
}

function rxPackets(ns, dev) {
  const line = ns
    .exec(['cat', '/proc/net/dev'])
    .stdout.split('\n')
    .find((l) => l.trim().startsWith(`${dev}:`));
  return Number(line.split(':')[1].trim().split(/\s+/)[1]);
}
function txPackets(ns, dev) {
  const line = ns
    .exec(['cat', '/proc/net/dev'])
    .stdout.split('\n')
    .find((l) => l.trim().startsWith(`${dev}:`));
  return Number(line.split(':')[1].trim().split(/\s+/)[9]);
}

/** Masqueraded packet count of the active policy (proves NAT really ran on the measured flows). */
function masqCount(rtr, impl) {
  const tables = JSON.parse(rtr.exec(['nft', '-j', 'list', 'ruleset']).stdout).nftables;
  let n = 0;
  for (const o of tables) {
    const r = o.rule;
    if (!r) continue;
    const masq = r.expr.some(
      (e) => e.masquerade !== undefined || (e.xt && e.xt.name === 'MASQUERADE'),
    );
    if (!masq) continue;
    if (impl === 'ours' && r.table !== 'ip-masq') continue;
    const c = r.expr.find((e) => e.counter);
    if (c) n += c.counter.packets;
  }
  return n;
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  sh(['hping3', '--version']);
  const work = mkdtempSync(join(tmpdir(), 'ipm-bench-flow-'));
  const src = netns('src');
  const rtr = netns('rtr');
  const sink = netns('sink');
  const results = {
    fixedSource: Boolean(opt['fixed-source']),
    windowS: WINDOW_S,
    warmupS: WARMUP_S,
    reps: REPS,
    perN: {},
    none: [],
    masq: [],
  };
  let gen = null;
  try {
    const v = (a) => `v${a}${process.pid}`.slice(0, 15);
    sh([
      'ip',
      'link',
      'add',
      v('s'),
      'netns',
      src.name,
      'type',
      'veth',
      'peer',
      'name',
      v('r'),
      'netns',
      rtr.name,
    ]);
    sh([
      'ip',
      'link',
      'add',
      v('o'),
      'netns',
      rtr.name,
      'type',
      'veth',
      'peer',
      'name',
      v('k'),
      'netns',
      sink.name,
    ]);
    src.exec(['ip', 'addr', 'add', '10.244.1.2/24', 'dev', v('s')]);
    src.exec(['ip', 'link', 'set', v('s'), 'up']);
    src.exec(['ip', 'route', 'add', 'default', 'via', '10.244.1.1']);
    rtr.exec(['ip', 'addr', 'add', '10.244.1.1/24', 'dev', v('r')]);
    rtr.exec(['ip', 'addr', 'add', '198.18.0.1/24', 'dev', v('o')]);
    rtr.exec(['ip', 'link', 'set', v('r'), 'up']);
    rtr.exec(['ip', 'link', 'set', v('o'), 'up']);
    rtr.exec(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    sink.exec(['ip', 'addr', 'add', '198.18.0.2/24', 'dev', v('k')]);
    sink.exec(['ip', 'link', 'set', v('k'), 'up']);
    sink.exec(['nft', '-f', '-'], {
      input: `table netdev sink {\n chain in {\n  type filter hook ingress device "${v('k')}" priority 0; policy drop;\n }\n}\n`,
    });
    // Static neighbours: no ARP traffic in the measurement, no unresolved-neighbour queueing.
    const mac = (ns, dev) =>
      JSON.parse(ns.exec(['ip', '-j', 'link', 'show', dev]).stdout)[0].address;
    src.exec([
      'ip',
      'neigh',
      'replace',
      '10.244.1.1',
      'lladdr',
      mac(rtr, v('r')),
      'dev',
      v('s'),
      'nud',
      'permanent',
    ]);
    rtr.exec([
      'ip',
      'neigh',
      'replace',
      '198.18.0.2',
      'lladdr',
      mac(sink, v('k')),
      'dev',
      v('o'),
      'nud',
      'permanent',
    ]);
    // conntrack must exist in rtr before the sysctl does; any nat table loads it.
    rtr.exec(['nft', 'add', 'table', 'ip', 'warm']);
    rtr.exec([
      'nft',
      'add',
      'chain',
      'ip',
      'warm',
      'p',
      '{ type nat hook postrouting priority 200; }',
    ]);
    rtr.exec(['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=1']);
    rtr.exec(['nft', 'delete', 'table', 'ip', 'warm']);
    results.conntrackMax = Number(
      rtr.exec(['cat', '/proc/sys/net/netfilter/nf_conntrack_max']).stdout,
    );

    const measure = async (label) => {
      // Let the previous run's conntrack entries time out first.
      await sleep(1500);
      const rxStart = rxPackets(sink, v('k'));
      gen = spawn(
        'ip',
        [
          'netns',
          'exec',
          src.name,
          'hping3',
          '--udp',
          '--flood',
          ...(opt['fixed-source'] ? [] : ['--rand-source']),
          '-p',
          '9',
          '-q',
          '198.18.0.2',
        ],
        { stdio: 'ignore' },
      );
      await sleep(WARMUP_S * 1000);
      const rx0 = rxPackets(sink, v('k'));
      const tx0 = txPackets(src, v('s'));
      const t0 = performance.now();
      await sleep(WINDOW_S * 1000);
      const rx1 = rxPackets(sink, v('k'));
      const tx1 = txPackets(src, v('s'));
      const dt = (performance.now() - t0) / 1000;
      const ct = Number(rtr.exec(['cat', '/proc/sys/net/netfilter/nf_conntrack_count']).stdout);
      gen.kill('SIGINT');
      await new Promise((r) => (gen.exitCode !== null ? r() : gen.once('exit', r)));
      gen = null;
      const r = {
        rxPerS: (rx1 - rx0) / dt,
        txPerS: (tx1 - tx0) / dt,
        conntrack: ct,
        rxTotal: rxPackets(sink, v('k')) - rxStart,
      };
      process.stderr.write(
        `  B2 ${label}: ${(r.rxPerS / 1000).toFixed(1)} k flows/s forwarded (generator ${(r.txPerS / 1000).toFixed(1)} k/s, conntrack ${ct})\n`,
      );
      return r;
    };

    // Rounds: every round measures the references and every N, ours and the baseline back to
    // back, so load that varies over minutes (a shared VM) spreads over all N alike.
    const confs = new Map();
    for (const n of N_LIST) {
      const conf = join(work, `config-${n}.yaml`);
      writeFileSync(
        conf,
        `nonMasqueradeCIDRs:\n${cidrList(n)
          .map((c) => `  - ${c}\n`)
          .join('')}`,
      );
      confs.set(n, conf);
      results.perN[n] = { ours: [], baseline: [] };
    }
    if (SPLIT !== null) {
      const conf = join(work, `config-split-${SPLIT}.yaml`);
      writeFileSync(conf, splitConfig(SPLIT));
      confs.set('split', conf);
      results.split = {
        n: SPLIT,
        nonMasqueradeCIDRs: SPLIT / 2,
        masqueradeCIDRs: SPLIT / 2,
        ours: [],
      };
    }
    for (let rep = 0; rep < REPS; rep++) {
      results.none.push(await measure('no nat rules'));
      rtr.exec(['nft', '-f', '-'], {
        input:
          'table ip floor {\n chain p {\n  type nat hook postrouting priority 100;\n  counter masquerade fully-random\n }\n}\n',
      });
      results.masq.push(await measure('masquerade only'));
      rtr.exec(['nft', 'delete', 'table', 'ip', 'floor']);
      for (const n of N_LIST) {
        const r = results.perN[n];
        rtr.exec([process.execPath, BUNDLE, 'apply', '--config', confs.get(n)]);
        const o = await measure(`ours N=${n}`);
        o.masqueraded = masqCount(rtr, 'ours');
        o.newFlowFraction = o.masqueraded / o.rxTotal;
        r.ours.push(o);
        rtr.exec(['nft', 'delete', 'table', 'ip', 'ip-masq']);

        await sync(cidrList(n), { prefix: ['ip', 'netns', 'exec', rtr.name] });
        const b = await measure(`baseline N=${n}`);
        b.masqueraded = masqCount(rtr, 'baseline');
        b.newFlowFraction = b.masqueraded / b.rxTotal;
        r.baseline.push(b);
        rtr.exec(['nft', 'delete', 'table', 'ip', 'nat']);
        if (o.masqueraded === 0 || b.masqueraded === 0)
          throw new Error(
            `N=${n}: no packet was masqueraded (ours ${o.masqueraded}, baseline ${b.masqueraded}): the setup is broken`,
          );
      }
      if (SPLIT !== null) {
        rtr.exec([process.execPath, BUNDLE, 'apply', '--config', confs.get('split')]);
        const set = JSON.parse(
          rtr.exec(['nft', '-j', 'list', 'set', 'ip', 'ip-masq', 'nomasq']).stdout,
        );
        results.split.setElements = set.nftables.find((o) => o.set)?.set.elem?.length ?? 0;
        const o = await measure(`ours split N=${SPLIT}`);
        o.masqueraded = masqCount(rtr, 'ours');
        o.newFlowFraction = o.masqueraded / o.rxTotal;
        results.split.ours.push(o);
        rtr.exec(['nft', 'delete', 'table', 'ip', 'ip-masq']);
        if (o.masqueraded === 0)
          throw new Error('split: no packet was masqueraded: the setup is broken');
      }
    }
    for (const n of N_LIST) {
      const r = results.perN[n];
      const med = (xs) => (stats(xs.map((x) => x.rxPerS)).p50 / 1000).toFixed(1);
      const frac = (xs) => Math.min(...xs.map((x) => x.newFlowFraction)).toFixed(3);
      process.stderr.write(
        `  B2 N=${n}: ours ${med(r.ours)} k/s, baseline ${med(r.baseline)} k/s (masqueraded / forwarded ≥ ${frac(r.ours)} and ${frac(r.baseline)}: every packet a new flow)\n`,
      );
    }
    if (results.split) {
      const xs = results.split.ours.map((x) => x.rxPerS);
      process.stderr.write(
        `  B2 split N=${SPLIT} (${SPLIT / 2} + ${SPLIT / 2}, set of ${results.split.setElements}): ours ${(stats(xs).p50 / 1000).toFixed(1)} k/s\n`,
      );
    }
  } finally {
    if (gen) gen.kill('SIGKILL');
    src.dispose();
    rtr.dispose();
    sink.dispose();
    rmSync(work, { recursive: true, force: true });
  }
  if (opt.json) writeFileSync(opt.json, `${JSON.stringify(results, null, 1)}\n`);
  else console.log(JSON.stringify(results, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
