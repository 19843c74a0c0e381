#!/usr/bin/env node
// Issue 15's polling candidates, measured: what one look at flannel's chain costs the daemon's
// process tree on a node whose nat table holds kube-proxy's rules. Figures, never assertions;
// root, one throwaway network namespace:
//   node bench/poll-cost.mjs [--rules 4000] [--n 200] [--churn 0] [--json FILE]
// The worker runs inside the namespace (as the daemon does on a node: no `ip netns exec` per
// call) and charges each way of listing with its whole process tree's CPU (bench/lib/proc-cpu.mjs:
// Node, reaped children, the session's live nft):
//   one-shot   `nft -j list chain ip nat FLANNEL-POSTRTG`, a new nft per look (NftClient.list);
//   session    the same listing sent to one long-lived `nft -j -i` (NftSession.list);
//   save       `iptables-nft-save -t nat`: how a pass used to read flannel's rule comments;
//   -S chain   `iptables-nft -t nat -S FLANNEL-POSTRTG`: how it reads them now.
// --churn R keeps a kube-proxy-like co-tenant restoring R nat rules a second meanwhile.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { args, netns, sleep } from './lib/common.mjs';
import { kubeProxyRestore, startChurn } from './lib/churn.mjs';
import { loadDaemonSources } from './lib/daemon-src.mjs';
import { treeCpuSeconds } from './lib/proc-cpu.mjs';

const opt = args();
const RULES = Number(opt.rules ?? 4000);
const N = Number(opt.n ?? 200);
const CHURN = Number(opt.churn ?? 0);
const CHAIN = ['chain', 'ip', 'nat', 'FLANNEL-POSTRTG'];

/** CPU ms so far: this process, its reaped children and its live ones (the session's nft). */
const cpuMs = () => treeCpuSeconds(process.pid) * 1000;

/** `n` looks; the session's are ≈ 50× cheaper, so it gets more of them to stay above 10 ms ticks. */
async function perCall(fn, n = N) {
  await fn(); // warm: the session's child, the page cache
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return { cpuMsPerCall: (cpuMs() - c0) / n, wallMsPerCall: (performance.now() - t0) / n, n };
}

async function worker() {
  const { mod, outfile } = await loadDaemonSources();
  rmSync(outfile, { force: true });
  const { NftClient, NftSession } = mod;
  const client = new NftClient({ argv: ['/usr/sbin/nft'] });
  const session = new NftSession({ argv: ['/usr/sbin/nft'] });
  const run = (argv) => () => {
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  const out = {
    'one-shot': await perCall(() => client.list(CHAIN)),
    session: await perCall(() => session.list(CHAIN), N * 20),
    save: await perCall(run(['iptables-nft-save', '-t', 'nat'])),
    '-S chain': await perCall(run(['iptables-nft', '-t', 'nat', '-S', 'FLANNEL-POSTRTG'])),
  };
  session.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main() {
  const ns = netns('poll');
  try {
    ns.exec(['iptables-restore', '--noflush'], { input: kubeProxyRestore(RULES) });
    ns.exec(['iptables-restore', '--noflush'], {
      input:
        '*nat\n:FLANNEL-POSTRTG - [0:0]\n-A POSTROUTING -j FLANNEL-POSTRTG\n' +
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully\nCOMMIT\n',
    });
    const churn = CHURN > 0 ? startChurn(ns.argv(), { rules: CHURN }) : null;
    if (churn) await sleep(1500);
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns.name, process.execPath, self, '--worker', '--n', String(N)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await churn?.stop();
    if (r.status !== 0) throw new Error(`worker failed (${r.status}): ${r.stderr}`);
    const result = JSON.parse(r.stdout.trim().split('\n').pop());
    for (const [way, m] of Object.entries(result))
      console.log(
        `${way.padEnd(9)} ${m.cpuMsPerCall.toFixed(3)} ms CPU a look (wall ${m.wallMsPerCall.toFixed(2)} ms), ${RULES} rules in nat, churn ${CHURN}/s, n=${m.n}`,
      );
    if (opt.json)
      writeFileSync(
        opt.json,
        `${JSON.stringify({ rules: RULES, churn: CHURN, n: N, result }, null, 1)}\n`,
      );
  } finally {
    ns.dispose();
  }
}

if (opt.worker) await worker();
else await main();
