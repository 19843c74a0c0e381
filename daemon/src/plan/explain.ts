/**
 * `explain`: walks the Plan's rules for one packet, the way the kernel walks the chain, and
 * says whether it leaves with its own source address or the node's. Pure: the caller supplies
 * which addresses are local to the node (the `fib daddr type local` fact).
 */
import { formatPortRange, portRangeSize } from '../config/values.js';
import { cidrContains, formatCidr, type Cidr, type IpFamily } from '../net/cidr.js';
import { percent, type Match, type Plan, type PlanRule } from './plan.js';
import { interfaceMatches } from './policy.js';

export interface Packet {
  family: IpFamily;
  dst: bigint;
  /** Unknown source: rules that match on the source address are treated as not matching. */
  src: bigint | null;
  /** The destination is an address of this node. */
  dstIsLocal: boolean;
  /** The output interface; undefined = unknown (outputInterfaces is treated as matching). */
  oif?: string;
  /** Transport protocol ("tcp", "udp", "icmp", …); undefined = any (toPorts rules may apply). */
  protocol?: string;
}

/** One toPorts range and the share of new TCP/UDP/SCTP flows that get it. */
export interface PortShare {
  range: string;
  /** 0..1 */
  share: number;
}

export type Decision = 'masquerade' | 'keep source';

export interface Explanation {
  decision: Decision;
  /** The deciding rule (1-based position in the chain), or null when no table of ours sees the packet. */
  rule: { position: number; id: PlanRule['id']; comment: string; text: string } | null;
  /** Why no rule of ours applies (e.g. IPv6 not enabled), or how toPorts picks the port. */
  note: string | null;
  /** toPorts: the source-port ranges the flow may get, null = any port (the kernel's choice). */
  ports: PortShare[] | null;
}

function matches(m: Match, p: Packet, set: Plan['tables'][number]['set']): boolean {
  switch (m.kind) {
    case 'daddr-local':
      return p.dstIsLocal;
    case 'daddr':
      return cidrContains(m.cidr, p.family, p.dst);
    case 'saddr':
      return p.src !== null && cidrContains(m.cidr, p.family, p.src);
    case 'saddr-not-in':
      return p.src !== null && !m.cidrs.some((c) => cidrContains(c, p.family, p.src as bigint));
    case 'oif-not-in':
      return p.oif !== undefined && !m.names.some((n) => interfaceMatches(n, p.oif as string));
    case 'daddr-in-set':
      return set.some((c) => cidrContains(c, p.family, p.dst));
    case 'l4proto':
      return p.protocol === undefined || (m.protocols as readonly string[]).includes(p.protocol);
    case 'random-share':
      // A random draw per flow: explainPacket reports the whole split instead of one outcome.
      return true;
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
      case 'saddr-not-in':
        return m.cidrs.length === 1
          ? `${family} saddr != ${formatCidr(m.cidrs[0] as Cidr)}`
          : `${family} saddr != { ${m.cidrs.map(formatCidr).join(', ')} }`;
      case 'oif-not-in':
        return m.names.map((n) => `oifname != ${JSON.stringify(n)}`).join(' ');
      case 'daddr-in-set':
        return `${family} daddr @nomasq`;
      case 'l4proto':
        return `meta l4proto { ${m.protocols.join(', ')} }`;
      case 'random-share':
        return `numgen random mod ${m.modulus} < ${m.below}`;
    }
  });
  parts.push('counter');
  if (rule.verdict.kind === 'return') parts.push('return');
  else if (rule.verdict.kind === 'snat') {
    const { addr, ports } = rule.verdict;
    const host = addr.includes(':') && ports ? `[${addr}]` : addr;
    parts.push(`snat to ${host}${ports ? `:${formatPortRange(ports)}` : ''}`);
    if (rule.verdict.fullyRandom) parts.push('fully-random');
  } else {
    parts.push('masquerade');
    if (rule.verdict.ports) parts.push(`to :${formatPortRange(rule.verdict.ports)}`);
    if (rule.verdict.fullyRandom) parts.push('fully-random');
  }
  return parts.join(' ');
}

/** Every toPorts range of a table with its share of new flows, null when toPorts is off. */
export function portShares(table: Plan['tables'][number]): PortShare[] | null {
  const ranges = table.rules.flatMap((r) =>
    r.id === 'masquerade-ports' && r.verdict.kind !== 'return' && r.verdict.ports
      ? [r.verdict.ports]
      : [],
  );
  if (ranges.length === 0) return null;
  const total = ranges.reduce((sum, r) => sum + portRangeSize(r), 0);
  return ranges.map((r) => ({ range: formatPortRange(r), share: portRangeSize(r) / total }));
}

export function explainPacket(plan: Plan, p: Packet): Explanation {
  const table = plan.tables.find((t) => t.ipFamily === p.family);
  if (!table) {
    return {
      decision: 'keep source',
      rule: null,
      note: 'ip-masq does not manage IPv6 (enableIPv6 is false): no rule of ours sees this packet',
      ports: null,
    };
  }
  for (const [i, rule] of table.rules.entries()) {
    if (rule.match.every((m) => matches(m, p, table.set))) {
      const decided = {
        decision:
          rule.verdict.kind === 'return' ? ('keep source' as const) : ('masquerade' as const),
        rule: {
          position: i + 1,
          id: rule.id,
          comment: rule.comment,
          text: ruleText(table.family, rule),
        },
        note: null,
        ports: null,
      };
      if (rule.id !== 'masquerade-ports') {
        const shares = rule.id === 'masquerade' ? portShares(table) : null;
        // Reached the plain masquerade while toPorts is set: a protocol without ports.
        const note = shares
          ? `toPorts applies to TCP, UDP and SCTP only; ${p.protocol ?? 'this protocol'} gets no port mapping`
          : null;
        return { ...decided, note };
      }
      const shares = portShares(table) ?? [];
      const list = shares
        .map((s) => (shares.length > 1 ? `${s.range} (${percent(s.share)})` : s.range))
        .join(' or ');
      const other = table.rules.findIndex((r) => r.id === 'masquerade') + 1;
      const who =
        p.protocol === undefined
          ? 'TCP, UDP and SCTP flows get'
          : `a new ${p.protocol.toUpperCase()} flow gets`;
      const how = shares.length > 1 ? ', chosen at random per new flow' : '';
      const rest = p.protocol === undefined ? `; other protocols: rule ${other} (any port)` : '';
      return { ...decided, ports: shares, note: `${who} a source port in ${list}${how}${rest}` };
    }
  }
  // Unreachable with a well-formed plan (the last rule always matches); an accept-policy
  // chain means the packet leaves unchanged.
  return {
    decision: 'keep source',
    rule: null,
    note: 'no rule matched (chain policy accept)',
    ports: null,
  };
}
