/** Config → plain JSON, for `ip-masq check --json` (and tests that compare configs). Pure. */
import { formatCidr } from '../net/cidr.js';
import type { Config } from './schema.js';
import { formatPortRanges } from './values.js';

/** The effective configuration as plain JSON, for `ip-masq check --json`. */
export function configToJson(config: Config): Record<string, unknown> {
  return {
    nonMasqueradeCIDRs: [...config.nonMasqueradeCIDRs],
    collapsed: {
      ipv4: config.collapsed.ipv4.map(formatCidr),
      ipv6: config.collapsed.ipv6.map(formatCidr),
    },
    masqLinkLocal: config.masqLinkLocal,
    masqLinkLocalIPv6: config.masqLinkLocalIPv6,
    resyncInterval: config.resyncInterval,
    cidrLimit: config.cidrLimit,
    nomasqAllReservedRanges: config.nomasqAllReservedRanges,
    enableIPv6: config.enableIPv6,
    randomFully: config.randomFully,
    flannel: {
      removeMasquerade: config.flannel.removeMasquerade,
      subnetEnv: config.flannel.subnetEnv,
      removeLegacy: config.flannel.removeLegacy,
      clusterCIDR: config.flannel.clusterCIDR.map(formatCidr),
      nodeSubnet: config.flannel.nodeSubnet.map(formatCidr),
    },
    toPorts: config.toPorts.length > 0 ? formatPortRanges(config.toPorts) : null,
    metrics: {
      textfileDir: config.metrics.textfileDir,
      listen: config.metrics.listen ? formatListen(config.metrics.listen) : null,
    },
  };
}

/** "127.0.0.1:9817", "[::1]:9817". */
export function formatListen(listen: { host: string; port: number }): string {
  return listen.host.includes(':')
    ? `[${listen.host}]:${listen.port}`
    : `${listen.host}:${listen.port}`;
}
