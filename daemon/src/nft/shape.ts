/**
 * The shape of ip-masq's table in one family, written down once: what render puts in the batch
 * (to-nft.ts) and what read-back expects to find (normalize.ts). Pure.
 *
 *   table <family> ip-masq
 *     set nomasq     { type ipv4_addr|ipv6_addr; flags interval; elements = the collapsed CIDRs }
 *     chain postrouting { type nat hook postrouting priority 110; policy accept; the plan's rules }
 */
import { formatIp, type Cidr, type IpFamily } from '../net/cidr.js';
import {
  CHAIN_NAME,
  CHAIN_PRIORITY,
  SET_NAME,
  TABLE_NAME,
  type NftTableFamily,
  type PlanTable,
} from '../plan/plan.js';
import type { NftChain, NftSet, NftSetElement } from './types.js';

export function cidrElement(c: Cidr): NftSetElement {
  return { prefix: { addr: formatIp(c.family, c.addr), len: c.len } };
}

export function setType(ipFamily: IpFamily): NftSet['type'] {
  return ipFamily === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr';
}

/** The base chain; `prio` is an integer (nft 1.0.6 turns "srcnat" into a regular chain). */
export function ownChain(family: NftTableFamily): NftChain {
  return {
    family,
    table: TABLE_NAME,
    name: CHAIN_NAME,
    type: 'nat',
    hook: 'postrouting',
    prio: CHAIN_PRIORITY,
    policy: 'accept',
  };
}

/** The interval set of destinations that keep their source, with the plan's elements. */
export function ownSet(t: PlanTable): NftSet {
  return {
    family: t.family,
    table: TABLE_NAME,
    name: SET_NAME,
    type: setType(t.ipFamily),
    flags: ['interval'],
    ...(t.set.length > 0 ? { elem: t.set.map(cidrElement) } : {}),
  };
}
