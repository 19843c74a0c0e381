/**
 * Checks of the policy keys that involve other keys or other files, run on the merged config.
 * Pure. Each issue points at the value to change (file:line:col) and says how.
 *
 * - The same prefix in masqueradeCIDRs and nonMasqueradeCIDRs (or the implicit link-local
 *   entry) has no longest prefix to decide it: an error naming both places.
 * - snatAddressIPv6 needs enableIPv6 (which may be set in another file).
 * - sourceCIDRs restricts masquerading to the listed sources, per family: a managed family
 *   without any entry would never be masqueraded, which is what leaving that family alone
 *   does already, so it is refused rather than guessed at.
 */
import type { ConfigIssue } from '../errors.js';
import { formatCidr, type Cidr, type IpFamily } from '../net/cidr.js';
import type { Config } from './schema.js';

export interface Place {
  file: string;
  line: number;
  col: number;
}

export interface PolicyCheckInput {
  config: Config;
  /** nonMasqueradeCIDRs as merged; `place` null for the built-in default list. */
  nonMasquerade: ReadonlyArray<{ cidr: Cidr; place: { file: string; line: number } | null }>;
  /** masqueradeCIDRs entries with their own positions and paths (`masqueradeCIDRs[2]`). */
  masquerade: ReadonlyArray<{ cidr: Cidr; path: string; place: Place }>;
  /** Positions of the keys, null when not set. */
  sourceCIDRsAt: Place | null;
  snatAddressIPv6At: Place | null;
}

const LINK_LOCAL_KEY: Record<IpFamily, { prefix: string; flag: string }> = {
  ipv4: { prefix: '169.254.0.0/16', flag: 'masqLinkLocal' },
  ipv6: { prefix: 'fe80::/10', flag: 'masqLinkLocalIPv6' },
};

export function policyIssues(input: PolicyCheckInput): ConfigIssue[] {
  const { config } = input;
  const issues: ConfigIssue[] = [];
  const at = (p: Place, path: string, message: string): void =>
    void issues.push({ ...p, path, message });

  if (input.masquerade.length > 0) {
    const keep = new Map<string, { file: string; line: number } | null>();
    for (const e of input.nonMasquerade) {
      const key = formatCidr(e.cidr);
      if (!keep.has(key)) keep.set(key, e.place);
    }
    for (const m of input.masquerade) {
      const key = formatCidr(m.cidr);
      const ll = LINK_LOCAL_KEY[m.cidr.family];
      const masqLinkLocal =
        m.cidr.family === 'ipv4' ? config.masqLinkLocal : config.masqLinkLocalIPv6;
      if (key === ll.prefix && !masqLinkLocal) {
        at(
          m.place,
          m.path,
          `${key} is the implicit link-local entry of nonMasqueradeCIDRs (${ll.flag} is false), so no prefix is longer; set ${ll.flag}: true instead, or list a longer prefix`,
        );
        continue;
      }
      if (!keep.has(key)) continue;
      const other = keep.get(key);
      const where =
        other === null || other === undefined
          ? 'the default nonMasqueradeCIDRs (no file sets the list)'
          : `nonMasqueradeCIDRs at ${other.file}:${other.line}`;
      at(
        m.place,
        m.path,
        `${key} is also in ${where}; the same prefix cannot be in both lists (neither is longer): remove one of them`,
      );
    }
  }

  if (config.snatAddressIPv6 !== null && !config.enableIPv6 && input.snatAddressIPv6At) {
    at(
      input.snatAddressIPv6At,
      'snatAddressIPv6',
      'is set but enableIPv6 is false; set enableIPv6: true, or remove snatAddressIPv6',
    );
  }

  if (config.sourceCIDRs.length > 0 && input.sourceCIDRsAt) {
    const has = (f: IpFamily): boolean => config.sourceCIDRs.some((c) => c.family === f);
    if (!has('ipv4'))
      at(
        input.sourceCIDRsAt,
        'sourceCIDRs',
        'has no IPv4 entry, so no IPv4 packet would be masqueraded; add the IPv4 sources to masquerade (e.g. the pod network 10.244.0.0/16)',
      );
    if (config.enableIPv6 && !has('ipv6'))
      at(
        input.sourceCIDRsAt,
        'sourceCIDRs',
        'has no IPv6 entry while enableIPv6 is true, so no IPv6 packet would be masqueraded; add the IPv6 sources (e.g. the IPv6 pod network), or set enableIPv6: false (the same effect)',
      );
  }
  return issues;
}
