/**
 * The constants behind the defaults and limits: the default CIDR lists (each setting's default
 * is declared in registry.ts), the drop-in directory's name, and the size limits.
 */

/** RFC 1918: the default `nonMasqueradeCIDRs`. */
export const RFC1918_CIDRS: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/**
 * The default list with `nomasqAllReservedRanges: true`: RFC 1918 followed by the other
 * reserved IPv4 ranges. Order matters: upstream's rule order follows it (test.go:364-387).
 */
export const ALL_RESERVED_CIDRS: readonly string[] = [
  ...RFC1918_CIDRS,
  '100.64.0.0/10', // RFC 6598 carrier-grade NAT
  '192.0.0.0/24', // RFC 6890 IETF protocol assignments
  '192.0.2.0/24', // RFC 5737 TEST-NET-1
  '192.88.99.0/24', // RFC 7526 deprecated 6to4 relay anycast
  '198.18.0.0/15', // RFC 2544 benchmarking
  '198.51.100.0/24', // RFC 5737 TEST-NET-2
  '203.0.113.0/24', // RFC 5737 TEST-NET-3
  '240.0.0.0/4', // RFC 1112 reserved
];

/** Drop-in directory, relative to the main config file's directory. */
export const DROPIN_DIR_NAME = 'config.d';

/** The default `nonMasqueradeCIDRs` for a given `nomasqAllReservedRanges`. */
export function defaultNonMasqueradeCidrs(nomasqAllReservedRanges: boolean): string[] {
  return [...(nomasqAllReservedRanges ? ALL_RESERVED_CIDRS : RFC1918_CIDRS)];
}

/**
 * Longest `resyncInterval` accepted: Node's timers hold a signed 32-bit millisecond count,
 * and a longer delay is silently replaced by 1 ms (TimeoutOverflowWarning), which would turn
 * a "rarely" resync into a busy loop re-applying the ruleset.
 */
export const MAX_RESYNC_INTERVAL_MS = 2 ** 31 - 1;

/** Largest config file read (a 100,000-entry list is about 2 MB). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
