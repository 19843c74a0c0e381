/**
 * The typed subset of the libnftables JSON schema (libnftables-json(5)) that ip-masq writes and
 * reads. Only what nft 1.0.6 (Debian 12) accepts is modelled; see to-nft.ts for its traps.
 */

export type NftFamily = 'ip' | 'ip6' | 'inet';

export interface NftTable {
  family: NftFamily;
  name: string;
  handle?: number;
}

export interface NftChain {
  family: NftFamily;
  table: string;
  name: string;
  handle?: number;
  type?: 'filter' | 'nat' | 'route';
  hook?: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** Must be an integer on nft 1.0.6: a string such as "srcnat" silently creates a regular chain. */
  prio?: number;
  policy?: 'accept' | 'drop';
}

/** Set elements as nft prints and accepts them: "1.2.3.4" or {prefix:{addr,len}} or {range:[a,b]}. */
export type NftSetElement =
  string | { prefix: { addr: string; len: number } } | { range: [string, string] };

export interface NftSet {
  family: NftFamily;
  table: string;
  name: string;
  handle?: number;
  type: 'ipv4_addr' | 'ipv6_addr';
  flags?: string[];
  elem?: NftSetElement[];
}

/** Expressions are open-ended JSON; ip-masq builds them in to-nft.ts and compares them normalized. */
export type NftExpr = Record<string, unknown>;

export interface NftRule {
  family: NftFamily;
  table: string;
  chain: string;
  handle?: number;
  comment?: string;
  expr: NftExpr[];
}

export type NftObject =
  | { table: NftTable }
  | { chain: NftChain }
  | { set: NftSet }
  | { rule: NftRule }
  | { metainfo: Record<string, unknown> };

export type NftCommand =
  | { add: { table: NftTable } | { chain: NftChain } | { set: NftSet } | { rule: NftRule } }
  | {
      delete:
        | { table: NftTable }
        | { rule: Required<Pick<NftRule, 'family' | 'table' | 'chain' | 'handle'>> };
    }
  | { metainfo: { json_schema_version: number } };

/** One `nft -j -f -` transaction: the kernel applies all of it or none of it. */
export interface NftBatch {
  nftables: NftCommand[];
}

/** The output of `nft -j list …`, without the metainfo entry. */
export type NftListing = NftObject[];
