/**
 * `explain`, key by key: for one packet, what each policy key decides and which entry of which
 * file decides it (`config.d/10-vpc.yaml:4`). Pure. The chain walk (explain.ts) says which rule
 * wins; this says why, in the operator's own words and places.
 */
import type { Config } from '../config/schema.js';
import { cidrContains, formatCidr, formatIp, type Cidr, type IpFamily } from '../net/cidr.js';
import { longestMatch } from '../net/longest-prefix.js';
import type { Packet } from './explain.js';
import { LINK_LOCAL } from './plan.js';
import { interfaceMatches, masqueradeCidrsOf } from './policy.js';

/** A list entry and where it was written (`file:line`), null for a built-in default. */
export interface Placed<T> {
  value: T;
  where: string | null;
}

/** Where each entry of the list keys, and each policy setting, came from. */
export interface PolicySources {
  nonMasqueradeCIDRs: Placed<Cidr>[];
  masqueradeCIDRs: Placed<Cidr>[];
  sourceCIDRs: Placed<Cidr>[];
  outputInterfaces: Placed<string>[];
  snatAddress: string | null;
  snatAddressIPv6: string | null;
}

export interface KeyDecision {
  key: string;
  /** One line: the entry that decides and its place, and the outcome. */
  text: string;
}

const at = (where: string | null): string => (where === null ? '' : ` (${where})`);

function destination(config: Config, s: PolicySources, p: Packet): KeyDecision {
  const dst = formatIp(p.family, p.dst);
  const masquerade = masqueradeCidrsOf(config, p.family).length > 0;
  const key = masquerade ? 'nonMasqueradeCIDRs/masqueradeCIDRs' : 'nonMasqueradeCIDRs';
  const masqLinkLocal = p.family === 'ipv4' ? config.masqLinkLocal : config.masqLinkLocalIPv6;
  const entries = [
    ...s.nonMasqueradeCIDRs.map((e) => ({ cidr: e.value, where: e.where, list: 'nonMasq' })),
    ...(masqLinkLocal ? [] : [{ cidr: LINK_LOCAL[p.family], where: null, list: 'link-local' }]),
    ...(masquerade
      ? s.masqueradeCIDRs.map((e) => ({ cidr: e.value, where: e.where, list: 'masq' }))
      : []),
  ];
  const hit = longestMatch(p.family, p.dst, entries);
  if (hit === null) return { key, text: `${dst} is in no entry → masquerade` };
  const prefix = formatCidr(hit.cidr);
  if (hit.list === 'masq')
    return {
      key,
      text: `longest prefix ${prefix} is a masqueradeCIDRs entry${at(hit.where)} → masquerade`,
    };
  if (hit.list === 'link-local') {
    const flag = p.family === 'ipv4' ? 'masqLinkLocal' : 'masqLinkLocalIPv6';
    return {
      key,
      text: `longest prefix ${prefix} is link-local (${flag} is false) → keep source`,
    };
  }
  const how = masquerade ? 'longest prefix' : 'in';
  return {
    key,
    text: `${how} ${prefix}, a nonMasqueradeCIDRs entry${hit.where === null ? ' (the default list)' : at(hit.where)} → keep source`,
  };
}

function source(s: PolicySources, p: Packet): KeyDecision {
  const key = 'sourceCIDRs';
  if (p.src === null) return { key, text: 'no --src given: the source decides (pass --src IP)' };
  const src = formatIp(p.family, p.src);
  const hit = s.sourceCIDRs.find((e) => cidrContains(e.value, p.family, p.src as bigint));
  if (hit === undefined) return { key, text: `${src} is in no entry → keep source` };
  return {
    key,
    text: `${src} is in ${formatCidr(hit.value)}${at(hit.where)} → subject to masquerade`,
  };
}

function outputInterface(s: PolicySources, p: Packet): KeyDecision {
  const key = 'outputInterfaces';
  if (p.oif === undefined)
    return { key, text: 'no --oif given: the output interface decides (pass --oif NAME)' };
  const hit = s.outputInterfaces.find((e) => interfaceMatches(e.value, p.oif as string));
  if (hit === undefined) return { key, text: `${p.oif} matches no entry → keep source` };
  return {
    key,
    text: `${p.oif} matches ${JSON.stringify(hit.value)}${at(hit.where)} → subject to masquerade`,
  };
}

function snat(config: Config, s: PolicySources, family: IpFamily): KeyDecision | null {
  const addr = family === 'ipv4' ? config.snatAddress : config.snatAddressIPv6;
  if (addr === null) return null;
  const key = family === 'ipv4' ? 'snatAddress' : 'snatAddressIPv6';
  const where = family === 'ipv4' ? s.snatAddress : s.snatAddressIPv6;
  return { key, text: `a masqueraded packet leaves from ${addr}${at(where)} (SNAT)` };
}

/**
 * One line per key that takes part in the decision for `p`: always the destination lists, and
 * sourceCIDRs, outputInterfaces and the SNAT address when they are set. Nothing about IPv6 when
 * it is not managed (explainPacket says so).
 */
export function explainKeys(config: Config, s: PolicySources, p: Packet): KeyDecision[] {
  if (p.family === 'ipv6' && !config.enableIPv6) return [];
  const out = [destination(config, s, p)];
  if (config.sourceCIDRs.length > 0) out.push(source(s, p));
  if (config.outputInterfaces.length > 0) out.push(outputInterface(s, p));
  const nat = snat(config, s, p.family);
  if (nat) out.push(nat);
  return out;
}
