/**
 * Is a pair of flannel facts plausible enough to build rules from? Pure.
 *
 * The pod-network rules keep the source for `saddr C daddr C` and for `daddr S`: a C of /0 or a
 * node subnet S outside C turns them into "keep the source for (nearly) every destination",
 * silently switching off masquerade for the node. So the cluster network has a minimum prefix
 * length (flannel's default is /16; the bound allows clusters up to /8 for IPv4 and /32 for
 * IPv6) and S must lie inside C. Anything else is rejected with the reason, and the caller keeps
 * the status quo for that family (no pod-network rule, no flannel rule deleted).
 */
import { formatCidr, type Cidr, type IpFamily } from '../net/cidr.js';

/** The shortest cluster network prefix accepted, per family (documented in ip-masq(8)). */
export const MIN_NETWORK_PREFIX: Record<IpFamily, number> = { ipv4: 8, ipv6: 32 };

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.len < outer.len) return false;
  const bits = outer.family === 'ipv4' ? 32 : 128;
  const hostMask = (1n << BigInt(bits - outer.len)) - 1n;
  return (inner.addr & ~hostMask) === outer.addr;
}

/**
 * Why `network`/`subnet` (of `family`, named for the operator by `networkFrom`/`subnetFrom`,
 * e.g. `/run/flannel/subnet.env:1: FLANNEL_NETWORK`) must not be used, or null when they may.
 */
export function implausibility(
  family: IpFamily,
  network: Cidr,
  subnet: Cidr,
  networkFrom: string,
  subnetFrom: string,
): string | null {
  const name = family === 'ipv4' ? 'IPv4' : 'IPv6';
  const min = MIN_NETWORK_PREFIX[family];
  if (network.family !== family || subnet.family !== family)
    return `${networkFrom} / ${subnetFrom}: not both ${name} prefixes`;
  if (network.len < min)
    return `${networkFrom}: cluster network ${formatCidr(network)} is shorter than /${min}, too large to be a pod network (it would keep the pods' source address for ${network.len === 0 ? 'every' : 'almost every'} destination); flannel's default is /16`;
  if (!cidrContains(network, subnet))
    return `${subnetFrom}: node subnet ${formatCidr(subnet)} is not inside the cluster network ${formatCidr(network)} (${networkFrom})`;
  return null;
}
