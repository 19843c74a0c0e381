/**
 * Config + Facts → Plan: the ordered list of typed rules our tables must hold. Pure.
 *
 * The Plan is the single source of truth: the nft JSON batch (nft/to-nft.ts), the expected
 * read-back form (nft/normalize.ts) and `explain` (plan/explain.ts) are all derived from it,
 * so what we install and what we say we install cannot drift apart.
 *
 * The chain is ip-masq-agent's IP-MASQ-AGENT chain in nft form: its jump condition
 * (`addrtype ! --dst-type LOCAL`) becomes the first rule (local destinations return), then
 * link-local, then the non-masquerade CIDRs as ONE interval-set lookup instead of one rule
 * per CIDR, then masquerade. Every rule before masquerade is a plain return on a destination,
 * so a set lookup is semantically identical to upstream's ordered RETURN rules.
 */
import type { Config, PortRange } from '../config/schema.js';
import { planInput, type PlanInput } from './inputs.js';
import { formatPortRange, portRangeSize } from '../config/values.js';
import { implausibility } from './pod-bounds.js';
import type { Cidr, IpFamily } from '../net/cidr.js';
import { LINK_LOCAL } from './policy.js';

/** Our table name in both the ip and ip6 families. */
export const TABLE_NAME = 'ip-masq';
export const CHAIN_NAME = 'postrouting';
export const SET_NAME = 'nomasq';
/**
 * After iptables' nat POSTROUTING (100), like ip-masq-agent's jump appended at the end of
 * POSTROUTING. A fixed integer: on equal priorities the most recently registered chain runs
 * first, and our atomic replace re-registers the chain on every change, so equal priority
 * would make the order flip with every apply.
 */
export const CHAIN_PRIORITY = 110;

export type NftTableFamily = 'ip' | 'ip6';
/** Both families ip-masq owns a table in, in the order they are planned and listed. */
export const FAMILIES: readonly NftTableFamily[] = ['ip', 'ip6'];

export { LINK_LOCAL };

/** Pod network facts (from flannel's subnet.env or the config's overrides), per family. */
export interface PodNetwork {
  /** The cluster-wide pod network (FLANNEL_NETWORK). */
  network: Cidr;
  /** This node's pod subnet (FLANNEL_SUBNET). */
  subnet: Cidr;
}

export interface PlanFacts {
  podNetwork: Partial<Record<IpFamily, PodNetwork>>;
}

export const NO_FACTS: PlanFacts = { podNetwork: {} };

export type Match =
  /** `fib daddr type local`: the destination is an address of this node. */
  | { kind: 'daddr-local' }
  | { kind: 'daddr'; cidr: Cidr }
  | { kind: 'saddr'; cidr: Cidr }
  /** sourceCIDRs: the source is in none of these (ascending, non-overlapping). */
  | { kind: 'saddr-not-in'; cidrs: Cidr[] }
  /** outputInterfaces: `oifname` is none of these (a trailing `*` matches a prefix). */
  | { kind: 'oif-not-in'; names: string[] }
  /** `daddr @nomasq`: the destination is in our non-masquerade set. */
  | { kind: 'daddr-in-set' }
  /** `meta l4proto { tcp, udp, sctp }`: the protocols that have ports to choose. */
  | { kind: 'l4proto'; protocols: readonly PortProtocol[] }
  /**
   * `numgen random mod <modulus> < <below>`: true for below/modulus of new flows (nat chains
   * see only a flow's first packet, so the draw is per flow, like iptables' `statistic`).
   */
  | { kind: 'random-share'; modulus: number; below: number };

/**
 * `ports`: to this source-port range (toPorts), null = any port. `snat`: to `addr`
 * (snatAddress/snatAddressIPv6) instead of the outgoing interface's address.
 */
export type Verdict =
  | { kind: 'return' }
  | { kind: 'masquerade'; fullyRandom: boolean; ports: PortRange | null }
  | { kind: 'snat'; addr: string; fullyRandom: boolean; ports: PortRange | null };

export type RuleId =
  | 'local'
  | 'pod-to-pod'
  | 'node-pod-subnet'
  | 'link-local'
  | 'non-masquerade'
  | 'source-not-listed'
  | 'interface-not-listed'
  | 'keep-source'
  | 'masquerade-ports'
  | 'masquerade';

/** ip-masq-agent's `--to-ports` rules cover these protocols, in this order (main.go:414-441). */
export const PORT_PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

export interface PlanRule {
  id: RuleId;
  /** Installed as the nft rule comment (≤ 128 bytes) and shown by `explain`/`status`. */
  comment: string;
  match: Match[];
  verdict: Verdict;
}

export interface PlanTable {
  family: NftTableFamily;
  ipFamily: IpFamily;
  /** Collapsed, sorted, non-overlapping: nft 1.0.6 JSON aborts on overlapping intervals. */
  set: Cidr[];
  rules: PlanRule[];
}

export interface Plan {
  /** Tables that must exist, in order (ip before ip6). */
  tables: PlanTable[];
  /** Families whose table must NOT exist (IPv6 while enableIPv6 is false). */
  absent: NftTableFamily[];
}

export const COMMENTS: Record<RuleId, string> = {
  local: 'ip-masq: destination is local to this node',
  'pod-to-pod': 'ip-masq: pod to pod inside the cluster network is not subject to MASQUERADE',
  'node-pod-subnet': "ip-masq: traffic to this node's pod subnet is not subject to MASQUERADE",
  'link-local': 'ip-masq: link-local is not subject to MASQUERADE',
  'non-masquerade': 'ip-masq: nonMasqueradeCIDRs are not subject to MASQUERADE',
  'source-not-listed': 'ip-masq: sources outside sourceCIDRs are not subject to MASQUERADE',
  'interface-not-listed':
    'ip-masq: packets leaving through an interface not in outputInterfaces are not subject to MASQUERADE',
  'keep-source':
    'ip-masq: nonMasqueradeCIDRs minus masqueradeCIDRs (longest prefix wins) are not subject to MASQUERADE',
  'masquerade-ports': 'ip-masq: outbound TCP/UDP/SCTP is subject to MASQUERADE to toPorts',
  masquerade: 'ip-masq: outbound traffic is subject to MASQUERADE (must be last in chain)',
};

const ret: Verdict = { kind: 'return' };

function planTable(config: PlanInput, facts: PlanFacts, ipFamily: IpFamily): PlanTable {
  const rules: PlanRule[] = [
    { id: 'local', comment: COMMENTS.local, match: [{ kind: 'daddr-local' }], verdict: ret },
  ];

  // flannel's own RETURN rules, kept even when the cluster network is missing from
  // nonMasqueradeCIDRs: removing flannel's MASQUERADE must not start NATing pod-to-pod traffic.
  // Implausible facts are rejected upstream (flannel/subnet-env.ts); checked again here so that
  // no caller can ever turn them into "keep the source for every destination".
  const pods = facts.podNetwork[ipFamily];
  if (pods && implausibility(ipFamily, pods.network, pods.subnet, 'network', 'subnet') === null) {
    rules.push({
      id: 'pod-to-pod',
      comment: COMMENTS['pod-to-pod'],
      match: [
        { kind: 'saddr', cidr: pods.network },
        { kind: 'daddr', cidr: pods.network },
      ],
      verdict: ret,
    });
    rules.push({
      id: 'node-pod-subnet',
      comment: COMMENTS['node-pod-subnet'],
      match: [{ kind: 'daddr', cidr: pods.subnet }],
      verdict: ret,
    });
  }

  const masqLinkLocal = ipFamily === 'ipv4' ? config.masqLinkLocal : config.masqLinkLocalIPv6;
  // With masqueradeCIDRs, link-local is one more keep entry of the longest-prefix set.
  const longest = config.masqueradeCIDRs[ipFamily];
  if (!masqLinkLocal && longest === null) {
    rules.push({
      id: 'link-local',
      comment: COMMENTS['link-local'],
      match: [{ kind: 'daddr', cidr: LINK_LOCAL[ipFamily] }],
      verdict: ret,
    });
  }

  const sources = config.sourceCIDRs[ipFamily];
  if (sources.length > 0) {
    rules.push({
      id: 'source-not-listed',
      comment: COMMENTS['source-not-listed'],
      match: [{ kind: 'saddr-not-in', cidrs: sources }],
      verdict: ret,
    });
  }
  if (config.outputInterfaces.length > 0) {
    rules.push({
      id: 'interface-not-listed',
      comment: COMMENTS['interface-not-listed'],
      match: [{ kind: 'oif-not-in', names: config.outputInterfaces }],
      verdict: ret,
    });
  }

  const set = longest ?? config.nonMasqueradeCIDRs[ipFamily];
  // An empty interval set would still work, but a rule that can never match only costs a
  // lookup per new flow and confuses `status`; leave it out.
  if (set.length > 0) {
    const id = longest === null ? 'non-masquerade' : 'keep-source';
    rules.push({ id, comment: COMMENTS[id], match: [{ kind: 'daddr-in-set' }], verdict: ret });
  }

  const snat = ipFamily === 'ipv4' ? config.snatAddress : config.snatAddressIPv6;
  rules.push(...portRules(config.toPorts, config.randomFully, snat));
  rules.push({
    id: 'masquerade',
    comment: snat === null ? COMMENTS.masquerade : snatComment(snat),
    match: [],
    verdict: natVerdict(snat, config.randomFully, null),
  });

  return { family: ipFamily === 'ipv4' ? 'ip' : 'ip6', ipFamily, set, rules };
}

/**
 * toPorts → one masquerade rule per range for TCP/UDP/SCTP, before the plain masquerade that
 * then only other protocols reach. Upstream's split (main.go:414-441): range i is taken with
 * probability size(i) / (sizes of i and every later range), the last one unconditionally, so
 * each range gets size(i)/total of the new flows. nft has no floating probability, but
 * `numgen random mod M < B` with M = that remaining size and B = size(i) is the same fraction
 * exactly (upstream prints 0.469292562840114 for 28976/61744).
 */
function portRules(
  ranges: readonly PortRange[],
  fullyRandom: boolean,
  snat: string | null,
): PlanRule[] {
  const total = ranges.reduce((sum, r) => sum + portRangeSize(r), 0);
  let remaining = total;
  return ranges.map((ports, i) => {
    const size = portRangeSize(ports);
    const match: Match[] = [{ kind: 'l4proto', protocols: PORT_PROTOCOLS }];
    if (i < ranges.length - 1)
      match.push({ kind: 'random-share', modulus: remaining, below: size });
    remaining -= size;
    const share = ranges.length === 1 ? '' : ` (${percent(size / total)} of new flows)`;
    const what =
      snat === null
        ? COMMENTS['masquerade-ports']
        : `ip-masq: outbound TCP/UDP/SCTP is subject to SNAT to ${snat} to toPorts`;
    return {
      id: 'masquerade-ports',
      comment: `${what} ${formatPortRange(ports)}${share}`,
      match,
      verdict: natVerdict(snat, fullyRandom, ports),
    };
  });
}

function natVerdict(snat: string | null, fullyRandom: boolean, ports: PortRange | null): Verdict {
  return snat === null
    ? { kind: 'masquerade', fullyRandom, ports }
    : { kind: 'snat', addr: snat, fullyRandom, ports };
}

function snatComment(addr: string): string {
  return `ip-masq: outbound traffic is subject to SNAT to ${addr} (must be last in chain)`;
}

/** "46.9%": one decimal, enough to tell ranges apart in a rule comment. */
export function percent(fraction: number): string {
  return `${(Math.round(fraction * 1000) / 10).toFixed(1)}%`;
}

/** The rules our tables must hold for this config and these facts. */
export function buildPlan(loaded: Config, facts: PlanFacts = NO_FACTS): Plan {
  const config = planInput(loaded);
  const tables = [planTable(config, facts, 'ipv4')];
  if (config.enableIPv6) tables.push(planTable(config, facts, 'ipv6'));
  return { tables, absent: config.enableIPv6 ? [] : ['ip6'] };
}
