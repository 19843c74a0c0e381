/**
 * `explain`: walks the Plan's rules for one packet, the way the kernel walks the chain, and
 * says whether it leaves with its own source address or the node's. Pure: the caller supplies
 * which addresses are local to the node (the `fib daddr type local` fact).
 */
import { cidrContains, formatCidr, type IpFamily } from '../net/cidr.js';
import type { Match, Plan, PlanRule } from './plan.js';

export interface Packet {
  family: IpFamily;
  dst: bigint;
  /** Unknown source: rules that match on the source address are treated as not matching. */
  src: bigint | null;
  /** The destination is an address of this node. */
  dstIsLocal: boolean;
}

export type Decision = 'masquerade' | 'keep source';

export interface Explanation {
  decision: Decision;
  /** The deciding rule (1-based position in the chain), or null when no table of ours sees the packet. */
  rule: { position: number; id: PlanRule['id']; comment: string; text: string } | null;
  /** Why no rule of ours applies (e.g. IPv6 not enabled). */
  note: string | null;
}

function matches(m: Match, p: Packet, set: Plan['tables'][number]['set']): boolean {
  switch (m.kind) {
    case 'daddr-local':
      return p.dstIsLocal;
    case 'daddr':
      return cidrContains(m.cidr, p.family, p.dst);
    case 'saddr':
      return p.src !== null && cidrContains(m.cidr, p.family, p.src);
    case 'daddr-in-set':
      return set.some((c) => cidrContains(c, p.family, p.dst));
  }
}

/** The rule in nft's text syntax, for people (e.g. `ip daddr @nomasq counter return`). */
export function ruleText(family: 'ip' | 'ip6', rule: PlanRule): string {
  const parts = rule.match.map((m) => {
    switch (m.kind) {
      case 'daddr-local':
        return 'fib daddr type local';
      case 'daddr':
      case 'saddr':
        return `${family} ${m.kind} ${formatCidr(m.cidr)}`;
      case 'daddr-in-set':
        return `${family} daddr @nomasq`;
    }
  });
  parts.push('counter');
  parts.push(rule.verdict.kind === 'return' ? 'return' : rule.verdict.fullyRandom ? 'masquerade fully-random' : 'masquerade');
  return parts.join(' ');
}

export function explainPacket(plan: Plan, p: Packet): Explanation {
  const table = plan.tables.find((t) => t.ipFamily === p.family);
  if (!table) {
    return { decision: 'keep source', rule: null, note: 'ip-masq does not manage IPv6 (enableIPv6 is false): no rule of ours sees this packet' };
  }
  for (const [i, rule] of table.rules.entries()) {
    if (rule.match.every((m) => matches(m, p, table.set))) {
      return {
        decision: rule.verdict.kind === 'masquerade' ? 'masquerade' : 'keep source',
        rule: { position: i + 1, id: rule.id, comment: rule.comment, text: ruleText(table.family, rule) },
        note: null,
      };
    }
  }
  // Unreachable with a well-formed plan (the last rule always matches); an accept-policy
  // chain means the packet leaves unchanged.
  return { decision: 'keep source', rule: null, note: 'no rule matched (chain policy accept)' };
}
