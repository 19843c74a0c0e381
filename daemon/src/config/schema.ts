/**
 * The validated, normalized configuration. Nothing downstream of `config/` sees raw YAML:
 * every field here has its default filled in and every CIDR is parsed and canonical.
 */
import type { Cidr } from '../net/cidr.js';

export interface FlannelConfig {
  /** Delete flannel's MASQUERADE rules (iptables-nft and nftables mode). Default true. */
  removeMasquerade: boolean;
  /** flanneld's lease file. Default /run/flannel/subnet.env. */
  subnetEnv: string;
  /** Also delete flannel's rules from iptables-legacy (opt-in). Default false. */
  removeLegacy: boolean;
  /** Overrides FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK from subnet.env (cluster CIDRs). */
  clusterCIDR: Cidr[];
  /** Overrides FLANNEL_SUBNET / FLANNEL_IPV6_SUBNET from subnet.env (this node's pod subnets). */
  nodeSubnet: Cidr[];
}

/** One `toPorts` interval: source ports `first`..`last` inclusive (equal for a single port). */
export interface PortRange {
  first: number;
  last: number;
}

/** Where `/metrics` is served. */
export interface MetricsListen {
  /** An IP literal ("127.0.0.1", "::1", "0.0.0.0"). */
  host: string;
  port: number;
  /** 127.0.0.0/8 or ::1: anything else is logged as a warning at start. */
  loopback: boolean;
}

export interface MetricsConfig {
  /** node_exporter's textfile collector directory: `ip_masq.prom` is written there; null = off. */
  textfileDir: string | null;
  /** HTTP listener for GET /metrics; null = no socket (the default). */
  listen: MetricsListen | null;
}

export interface Config {
  /** The list as the operator wrote it (or the default list), in order, for `check --json`. */
  nonMasqueradeCIDRs: string[];
  /** The same list parsed, per family, duplicates/contained/overlapping prefixes collapsed. */
  collapsed: { ipv4: Cidr[]; ipv6: Cidr[] };
  masqLinkLocal: boolean;
  masqLinkLocalIPv6: boolean;
  /** Go duration string as written (e.g. "1m30s"), and its value in milliseconds (> 0). */
  resyncInterval: string;
  resyncIntervalMs: number;
  /** Max number of nonMasqueradeCIDRs entries; null = not set (we allow >= 100,000). */
  cidrLimit: number | null;
  nomasqAllReservedRanges: boolean;
  enableIPv6: boolean;
  randomFully: boolean;
  flannel: FlannelConfig;
  /**
   * ip-masq-agent's `--to-ports`: TCP/UDP/SCTP are masqueraded to these source-port ranges,
   * split in proportion to their sizes. Empty = off (any port, the kernel's choice).
   * Kept as written: duplicates, overlaps and order are upstream's too.
   */
  toPorts: PortRange[];
  metrics: MetricsConfig;
}
