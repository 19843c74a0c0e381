// What kubernetes-sigs/ip-masq-agent installs and runs on every sync, reproduced exactly
// (shared/reference/ip-masq-agent.md §1.8-1.9, main.go:306-441 and the vendored
// k8s.io/kubernetes/pkg/util/iptables): the benchmark baseline. IPv4 only (the default:
// --enable-ipv6=false); no --to-ports.
import { run } from '../lib/common.mjs';

export const CHAIN = 'IP-MASQ-AGENT';
const NOMASQ_COMMENT = 'ip-masq-agent: local traffic is not subject to MASQUERADE';
const MASQ_COMMENT =
  'ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)';
const JUMP_COMMENT = `ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom ${CHAIN} chain`;

/** The POSTROUTING jump rule's arguments (after `-t nat -C|-A POSTROUTING`), one argv element per word; the comment is one element, unquoted (main.go:382). */
export const JUMP_ARGS = [
  '-m',
  'comment',
  '--comment',
  JUMP_COMMENT,
  '-m',
  'addrtype',
  '!',
  '--dst-type',
  'LOCAL',
  '-j',
  CHAIN,
];

/**
 * The iptables-restore --noflush input of one sync (main.go:306-328): the chain line (which
 * flushes only this chain inside the transaction), link-local RETURN first unless masqLinkLocal,
 * one RETURN per IPv4 CIDR in config order, MASQUERADE --random-fully last.
 */
export function restoreText(cidrs, { masqLinkLocal = false } = {}) {
  const lines = ['*nat', `:${CHAIN} - [0:0]`];
  const ret = (cidr) => `-A ${CHAIN} -m comment --comment "${NOMASQ_COMMENT}" -d ${cidr} -j RETURN`;
  if (!masqLinkLocal) lines.push(ret('169.254.0.0/16'));
  for (const c of cidrs) if (!c.includes(':')) lines.push(ret(c));
  lines.push(
    `-A ${CHAIN} -m comment --comment "${MASQ_COMMENT}" -j MASQUERADE --random-fully`,
    'COMMIT',
    '',
  );
  return lines.join('\n');
}

/**
 * One resync tick of the agent (syncMasqRules, main.go:295-330), timed per step: EnsureChain
 * (`iptables -w 5 -t nat -N`, exit 1 = exists), EnsureRule (`-C`, then `-A` when missing),
 * then `iptables-restore -w 5 --noflush` (NoRestoreCounters). `prefix` runs each command in a
 * namespace (e.g. ['ip','netns','exec',NS]; [] when the caller already is in one).
 */
export async function sync(cidrs, { prefix = [], masqLinkLocal = false } = {}) {
  const t = {};
  const n = await run([...prefix, 'iptables', '-w', '5', '-t', 'nat', '-N', CHAIN]);
  if (n.status !== 0 && n.status !== 1) throw new Error(`iptables -N ${CHAIN}: ${n.stderr}`);
  t.ensureChainMs = n.ms;
  const c = await run([
    ...prefix,
    'iptables',
    '-w',
    '5',
    '-C',
    'POSTROUTING',
    '-t',
    'nat',
    ...JUMP_ARGS,
  ]);
  t.ensureRuleMs = c.ms;
  if (c.status !== 0) {
    const a = await run([
      ...prefix,
      'iptables',
      '-w',
      '5',
      '-A',
      'POSTROUTING',
      '-t',
      'nat',
      ...JUMP_ARGS,
    ]);
    if (a.status !== 0) throw new Error(`iptables -A POSTROUTING: ${a.stderr}`);
    t.ensureRuleMs += a.ms;
  }
  const text = restoreText(cidrs, { masqLinkLocal });
  const r = await run([...prefix, 'iptables-restore', '-w', '5', '--noflush'], { input: text });
  if (r.status !== 0) throw new Error(`iptables-restore: ${r.stderr.slice(0, 500)}`);
  t.restoreMs = r.ms;
  t.totalMs = t.ensureChainMs + t.ensureRuleMs + t.restoreMs;
  return t;
}
