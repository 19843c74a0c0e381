/**
 * The policy keys users of ip-masq-agent asked for (masqueradeCIDRs, sourceCIDRs,
 * outputInterfaces, snatAddress/snatAddressIPv6) as plan inputs. Pure. Each key that is not set
 * contributes nothing, so a config without them plans exactly what it did before.
 *
 * - masqueradeCIDRs fold into the one interval set: the set holds the destinations whose
 *   longest matching prefix keeps the source (net/longest-prefix.ts), the implicit link-local
 *   range included (it then leaves its own rule, or a masqueradeCIDRs entry inside it, e.g.
 *   169.254.169.254/32, could never win). Each new flow is still one set lookup.
 * - sourceCIDRs and outputInterfaces become one `return` rule each (plan.ts), a conjunction of
 *   negations ("not from any listed source", "not leaving through any listed interface"), so it
 *   works with nft 1.0.6's oifname wildcards, which its sets do not support.
 */
import type { Config } from '../config/schema.js';
import { cidrContains, parseCidr, type Cidr, type IpFamily } from '../net/cidr.js';
import { keepSourcePrefixes } from '../net/longest-prefix.js';

export const LINK_LOCAL: Record<IpFamily, Cidr> = {
  ipv4: { family: 'ipv4', addr: 0xa9fe0000n, len: 16 }, // 169.254.0.0/16
  ipv6: { family: 'ipv6', addr: 0xfe80n << 112n, len: 10 }, // fe80::/10
};

export function masqueradeCidrsOf(config: Config, family: IpFamily): Cidr[] {
  return config.masqueradeCIDRs.filter((c) => c.family === family);
}

/**
 * Per family, the keep-source set when masqueradeCIDRs has entries of that family, else null
 * (the plan keeps today's collapsed nonMasqueradeCIDRs and its separate link-local rule).
 */
export function longestPrefixSets(config: Config): Record<IpFamily, Cidr[] | null> {
  const of = (family: IpFamily): Cidr[] | null => {
    const masquerade = masqueradeCidrsOf(config, family);
    if (masquerade.length === 0) return null;
    const keep: Cidr[] = [];
    // The list as written, not `collapsed`: a collapse would swallow nested keep entries.
    for (const text of config.nonMasqueradeCIDRs) {
      const parsed = parseCidr(text);
      if (parsed.ok && parsed.cidr.family === family) keep.push(parsed.cidr);
    }
    const masqLinkLocal = family === 'ipv4' ? config.masqLinkLocal : config.masqLinkLocalIPv6;
    if (!masqLinkLocal) keep.push(LINK_LOCAL[family]);
    return keepSourcePrefixes(family, keep, masquerade);
  };
  return { ipv4: of('ipv4'), ipv6: of('ipv6') };
}

/** Does interface `name` match an outputInterfaces entry (`eth*` is a prefix, as in nft)? */
export function interfaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/**
 * masqueradeCIDRs entries that flannel's pod-network exclusions (which come first) partly
 * override: traffic from pods to these destinations keeps its source whatever the entry says.
 */
export function flannelOverlaps(
  config: Config,
  pods: Partial<Record<IpFamily, { network: Cidr; subnet: Cidr }>>,
): Array<{ cidr: Cidr; network: Cidr; what: string }> {
  const out: Array<{ cidr: Cidr; network: Cidr; what: string }> = [];
  for (const c of config.masqueradeCIDRs) {
    const p = pods[c.family];
    if (!p) continue;
    for (const [network, what] of [
      [p.network, "flannel's pod network (pod to pod)"],
      [p.subnet, "this node's pod subnet"],
    ] as const) {
      if (overlaps(c, network)) {
        out.push({ cidr: c, network, what });
        break;
      }
    }
  }
  return out;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.family, b.addr) || cidrContains(b, a.family, a.addr);
}
