// A kube-proxy-like co-tenant for B7: `iptables-restore --noflush` of a whole set of nat chains
// (every chain declared, so flushed and refilled, as kube-proxy's iptables mode does on every
// Service or Endpoint change), `rules` rules per restore, once per `periodMs`. Runs in a network
// namespace of the caller's; never the host.
import { spawn } from 'node:child_process';

/** The restore text: `rules` DNAT-ish rules spread over per-service chains, plus their jumps. */
export function kubeProxyRestore(rules, round = 0) {
  const perChain = 50;
  const chains = Math.max(1, Math.ceil(rules / perChain));
  const out = ['*nat', ':KUBE-SERVICES - [0:0]'];
  for (let c = 0; c < chains; c++) out.push(`:KUBE-SVC-${String(c).padStart(6, '0')} - [0:0]`);
  let n = 0;
  for (let c = 0; c < chains && n < rules; c++) {
    const svc = `KUBE-SVC-${String(c).padStart(6, '0')}`;
    const a = (c >> 8) & 255;
    const b = c & 255;
    out.push(
      `-A KUBE-SERVICES -d 10.96.${a}.${b}/32 -p tcp -m comment --comment "ns/svc-${c}" -m tcp --dport 80 -j ${svc}`,
    );
    n++;
    for (let e = 0; e < perChain - 1 && n < rules; e++, n++)
      out.push(
        `-A ${svc} -s 10.244.${(e + round) & 255}.${c & 255}/32 -m comment --comment "ns/svc-${c}" -j RETURN`,
      );
  }
  out.push('COMMIT', '');
  return out.join('\n');
}

/**
 * Starts restoring `rules` nat rules every `periodMs` inside `nsArgv` (e.g. ['ip','netns','exec',NS]).
 * stop() resolves after the restore in flight. `restores` counts completed restores, `lateMs`
 * sums how far restores ran past their slot (a restore slower than the period).
 */
export function startChurn(nsArgv, { rules, periodMs = 1000 }) {
  let stopped = false;
  let round = 0;
  const stats = { restores: 0, failed: 0, lateMs: 0 };
  const texts = [kubeProxyRestore(rules, 0), kubeProxyRestore(rules, 1)];
  const once = () =>
    new Promise((resolve) => {
      const child = spawn(
        nsArgv[0],
        [...nsArgv.slice(1), 'iptables-restore', '--noflush', '-w', '5'],
        {
          stdio: ['pipe', 'ignore', 'ignore'],
        },
      );
      child.on('close', (code) => {
        if (code === 0) stats.restores++;
        else stats.failed++;
        resolve();
      });
      child.stdin.end(texts[round++ & 1]);
    });
  const done = (async () => {
    let next = performance.now();
    while (!stopped) {
      await once();
      next += periodMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else {
        stats.lateMs += -wait;
        next = performance.now();
      }
    }
  })();
  return {
    stats,
    async stop() {
      stopped = true;
      await done;
    },
  };
}
