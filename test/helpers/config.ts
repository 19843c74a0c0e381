/** Builds Config values for tests of the pure core without going through YAML. */
import type { Config } from '../../daemon/src/config/schema.js';
import { collapseCidrs, parseCidr, type Cidr } from '../../daemon/src/net/cidr.js';

export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
}

export function makeConfig(overrides: Partial<Omit<Config, 'collapsed'>> = {}): Config {
  const nonMasqueradeCIDRs = overrides.nonMasqueradeCIDRs ?? ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
  return {
    masqLinkLocal: false,
    masqLinkLocalIPv6: false,
    resyncInterval: '60s',
    resyncIntervalMs: 60_000,
    cidrLimit: null,
    nomasqAllReservedRanges: false,
    enableIPv6: false,
    randomFully: true,
    flannel: { removeMasquerade: true, subnetEnv: '/run/flannel/subnet.env', removeLegacy: false, clusterCIDR: [], nodeSubnet: [] },
    toPorts: [],
    metrics: { textfileDir: null, listen: null },
    ...overrides,
    nonMasqueradeCIDRs,
    collapsed: collapseCidrs(nonMasqueradeCIDRs.map(cidr)),
  };
}
