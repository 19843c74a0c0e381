/**
 * Policy entries that are valid but do not do what they seem to, for `ip-masq check`. Pure.
 *
 * - A masqueradeCIDRs entry overlapping flannel's pod network or this node's pod subnet:
 *   flannel's exclusions come first, so pod traffic there keeps its source anyway.
 * - A masqueradeCIDRs entry that no shorter non-masquerade entry contains: that traffic is
 *   masqueraded anyway, the entry changes nothing.
 */
import type { Config } from '../config/schema.js';
import { familyBits, formatCidr, type Cidr } from '../net/cidr.js';
import type { PolicySources } from './explain-keys.js';
import { LINK_LOCAL, type PlanFacts } from './plan.js';
import { flannelOverlaps } from './policy.js';

const key = (c: Cidr): string => `${c.family}/${c.len}/${c.addr}`;

function containedByShorter(c: Cidr, keep: ReadonlySet<string>): boolean {
  const bits = familyBits(c.family);
  for (let len = c.len - 1; len >= 0; len--) {
    const host = (1n << BigInt(bits - len)) - 1n;
    if (keep.has(key({ family: c.family, addr: c.addr & ~host, len }))) return true;
  }
  return false;
}

export interface PolicyWarning {
  /** The masqueradeCIDRs entry concerned. */
  cidr: Cidr;
  message: string;
}

export function policyWarnings(
  config: Config,
  facts: PlanFacts,
  s: PolicySources,
): PolicyWarning[] {
  if (s.masqueradeCIDRs.length === 0) return [];
  const out: PolicyWarning[] = [];
  for (const o of flannelOverlaps(config, facts.podNetwork)) {
    out.push({
      cidr: o.cidr,
      message: `${formatCidr(o.cidr)} overlaps ${o.what} ${formatCidr(o.network)}: flannel's exclusions come first, so pod traffic there keeps its source`,
    });
  }
  const keep = new Set(s.nonMasqueradeCIDRs.map((e) => key(e.value)));
  if (!config.masqLinkLocal) keep.add(key(LINK_LOCAL.ipv4));
  if (!config.masqLinkLocalIPv6) keep.add(key(LINK_LOCAL.ipv6));
  for (const e of s.masqueradeCIDRs) {
    if (!containedByShorter(e.value, keep))
      out.push({
        cidr: e.value,
        message: `${formatCidr(e.value)} is inside no nonMasqueradeCIDRs entry, so it is masqueraded anyway: the entry changes nothing`,
      });
  }
  return out;
}
