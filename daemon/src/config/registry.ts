/**
 * Every config key, declared once: its reader (type and validation, with positions), its
 * default, how drop-ins merge it, its `check --json` view and a one-line doc. The order here
 * is the order of `check --json` and of the key lists in "unknown key" messages.
 *
 * Derived from this table: the Config type (schema.ts), the defaults and the walk of a file
 * (walk.ts), the unknown-key list and did-you-mean, the drop-in merge (merge.ts),
 * `check --json` (to-json.ts) and check's warnings on keys with no value (empty-lists.ts). The plan must say what it does with each key
 * (plan/inputs.ts): a key added here does not compile until it does.
 *
 * A key `section.name` lives in the mapping `section:` (SECTIONS below). The defaults are
 * ip-masq-agent's (main.go:77-100 and its flag defaults), plus the flannel and metrics
 * sections that upstream does not have. A key present in a file replaces its default
 * completely; no default is merged into an operator's list.
 */
import type { Cidr } from '../net/cidr.js';
import { formatCidr } from '../net/cidr.js';
import { defaultNonMasqueradeCidrs } from './defaults.js';
import { readCidrsOrOne, readCidrTexts } from './read-cidrs.js';
import {
  readAbsolutePath,
  readBool,
  readDuration,
  readListen,
  readOptionalDirectory,
  readPortRanges,
  readWholeNumber,
} from './readers.js';
import { readInterfaceNames, readPolicyCidrs, readSnatAddress } from './read-policy.js';
import { setting, type Section } from './setting.js';
import { formatListen, formatPortRanges, type MetricsListen, type PortRange } from './values.js';

const cidrsJson = (cidrs: Cidr[]): string[] => cidrs.map(formatCidr);

export const SETTINGS = {
  nonMasqueradeCIDRs: setting<string[]>({
    doc: 'destinations that keep their source address; concatenated across files, then collapsed',
    read: readCidrTexts,
    default: (others) => defaultNonMasqueradeCidrs(others.nomasqAllReservedRanges),
    merge: 'concat',
    json: (texts) => [...texts],
    blank:
      'no value means an empty list: no destination keeps the pod source address, so all traffic leaving the node (outside the pod network and link-local) is masqueraded; write "nonMasqueradeCIDRs: []" if that is meant, or delete the line for the defaults (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
  }),
  masqLinkLocal: setting<boolean>({
    doc: 'masquerade traffic to 169.254.0.0/16 too',
    read: readBool,
    default: () => false,
    merge: 'one-file',
  }),
  masqLinkLocalIPv6: setting<boolean>({
    doc: 'masquerade traffic to fe80::/10 too',
    read: readBool,
    default: () => false,
    merge: 'one-file',
  }),
  resyncInterval: setting<string>({
    doc: 'how often the rules are re-checked against the kernel (Go duration)',
    read: readDuration,
    default: () => '60s',
    merge: 'one-file',
  }),
  cidrLimit: setting<number | null>({
    // null = no limit (upstream's 64 is dropped: 100,000 entries must load).
    doc: 'most nonMasqueradeCIDRs entries accepted (merged list); unset = no limit',
    read: readWholeNumber,
    default: () => null,
    merge: 'one-file',
  }),
  nomasqAllReservedRanges: setting<boolean>({
    doc: 'the default nonMasqueradeCIDRs are all reserved IPv4 ranges, not only RFC 1918',
    read: readBool,
    default: () => false,
    merge: 'one-file',
  }),
  enableIPv6: setting<boolean>({
    doc: 'also manage the ip6 table (IPv6 prefixes are refused without it)',
    read: readBool,
    default: () => false,
    merge: 'one-file',
  }),
  randomFully: setting<boolean>({
    doc: 'masquerade with fully random source ports',
    read: readBool,
    default: () => true,
    merge: 'one-file',
  }),
  'flannel.removeMasquerade': setting<boolean>({
    doc: "delete flannel's MASQUERADE rules (iptables-nft and nftables mode)",
    read: readBool,
    default: () => true,
    merge: 'one-file',
  }),
  'flannel.subnetEnv': setting<string>({
    doc: "flanneld's lease file (pod network facts)",
    read: readAbsolutePath('/run/flannel/subnet.env'),
    default: () => '/run/flannel/subnet.env',
    merge: 'one-file',
  }),
  'flannel.removeLegacy': setting<boolean>({
    doc: "also delete flannel's rules from iptables-legacy",
    read: readBool,
    default: () => false,
    merge: 'one-file',
  }),
  'flannel.clusterCIDR': setting<Cidr[]>({
    doc: 'overrides FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK from subnet.env (cluster CIDRs)',
    read: readCidrsOrOne,
    default: () => [],
    merge: 'one-file',
    json: cidrsJson,
    blank:
      "no value means the same as no key: the pod network comes from flannel's subnet.env; give a list, or delete the line",
  }),
  'flannel.nodeSubnet': setting<Cidr[]>({
    doc: "overrides FLANNEL_SUBNET / FLANNEL_IPV6_SUBNET from subnet.env (this node's pod subnets)",
    read: readCidrsOrOne,
    default: () => [],
    merge: 'one-file',
    json: cidrsJson,
    blank:
      "no value means the same as no key: this node's pod subnet comes from flannel's subnet.env; give a list, or delete the line",
  }),
  toPorts: setting<PortRange[]>({
    // Kept as written: duplicates, overlaps and order are upstream's too.
    doc: 'masquerade TCP/UDP/SCTP to these source-port ranges (ip-masq-agent --to-ports); empty = off',
    read: readPortRanges,
    default: () => [],
    merge: 'one-file',
    json: (ranges) => (ranges.length > 0 ? formatPortRanges(ranges) : null),
  }),
  'metrics.textfileDir': setting<string | null>({
    doc: "node_exporter's textfile collector directory (ip_masq.prom is written there); unset = off",
    read: readOptionalDirectory('/var/lib/prometheus/node-exporter'),
    default: () => null,
    merge: 'one-file',
  }),
  'metrics.listen': setting<MetricsListen | null>({
    doc: 'HTTP listener for GET /metrics (ADDRESS:PORT); unset = no socket',
    read: readListen,
    default: () => null,
    merge: 'one-file',
    json: (listen) => (listen ? formatListen(listen) : null),
  }),
  masqueradeCIDRs: setting<Cidr[]>({
    doc: 'destinations masqueraded even inside nonMasqueradeCIDRs (the longest prefix wins); concatenated across files',
    read: readPolicyCidrs,
    default: () => [],
    merge: 'concat',
    json: cidrsJson,
  }),
  outputInterfaces: setting<string[]>({
    doc: 'masquerade only packets leaving through these interfaces ("eth*": a prefix); concatenated across files',
    read: readInterfaceNames,
    default: () => [],
    merge: 'concat',
  }),
  sourceCIDRs: setting<Cidr[]>({
    doc: 'masquerade only packets from these sources (e.g. the pod network); concatenated across files',
    read: readPolicyCidrs,
    default: () => [],
    merge: 'concat',
    json: cidrsJson,
  }),
  snatAddress: setting<string | null>({
    doc: 'SNAT to this IPv4 address instead of masquerade; unset = masquerade',
    read: readSnatAddress('ipv4'),
    default: () => null,
    merge: 'one-file',
  }),
  snatAddressIPv6: setting<string | null>({
    doc: 'SNAT to this IPv6 address instead of masquerade (needs enableIPv6); unset = masquerade',
    read: readSnatAddress('ipv6'),
    default: () => null,
    merge: 'one-file',
  }),
};

/** The mappings whose keys are settings (`flannel.subnetEnv` is `subnetEnv:` under `flannel:`). */
export const SECTIONS = {
  flannel: {
    doc: 'the flannel integration: pod network facts and removal of its MASQUERADE rules',
    example: 'removeMasquerade: true',
    suggestFromTopLevel: true,
  },
  metrics: {
    doc: 'Prometheus metrics: a textfile for node_exporter and/or an HTTP listener',
    example: 'textfileDir: /var/lib/prometheus/node-exporter',
    suggestFromTopLevel: false,
  },
} satisfies Record<string, Section>;
