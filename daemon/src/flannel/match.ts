/**
 * Recognises flannel's MASQUERADE rules in `nft -j` listings, structurally. Pure.
 *
 * Why structural: iptables-nft rules lose their comment ("flanneld masq") and `--random-fully`
 * when listed through nft (both are compat `xt` expressions whose payload nft does not print),
 * so the only reliable signature is where a rule sits and which payload matches it has. The
 * shapes per flannel era are in shared/reference/flannel-and-nftables.md §1.2/§2.2:
 *   - `nat FLANNEL-POSTRTG` (v0.20+): every rule with an xt MASQUERADE target;
 *   - `nat POSTROUTING` (v0.10–v0.19): an xt MASQUERADE with exactly {saddr == C, daddr !=
 *     multicast} or {saddr != C, daddr == C}, optionally a comment match, nothing else;
 *   - flannel nftables mode (v0.25+): native `masquerade` in `ip flannel-ipv4 postrtg` /
 *     `ip6 flannel-ipv6 postrtg`.
 * Everything else (docker, KUBE-POSTROUTING, IP-MASQ-AGENT, the CNI bridge plugin's CNI-…
 * chains, every RETURN) is never matched.
 */
import type { MonitorEvent } from '../nft/monitor.js';
import type { NftBatch, NftExpr, NftRule } from '../nft/types.js';
import { parseIp, type Cidr, type IpFamily } from '../net/cidr.js';
import type { FlannelFacts } from './subnet-env.js';
import { FAMILIES, type NftTableFamily } from '../plan/plan.js';

/** The families flannel (and ip-masq) write rules in. */
export type NftIpFamily = NftTableFamily;

/** Rules of one chain as listed by `nft -j list chain …`. */
export interface ChainListing {
  family: NftIpFamily;
  table: string;
  chain: string;
  rules: NftRule[];
}

/** Which flannel generation wrote a rule. */
export type FlannelEra = 'postrouting' | 'flannel-postrtg' | 'nftables';

/** One flannel MASQUERADE rule found in the kernel, enough to delete it and to audit-log it. */
export interface FlannelRuleRef {
  family: NftIpFamily;
  table: string;
  chain: string;
  handle: number;
  era: FlannelEra;
  /**
   * The rule in iptables-save syntax, e.g. `-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d
   * 224.0.0.0/4 -j MASQUERADE`, for audit logs. The comment text and `--random-fully` are not
   * visible through nft and are left out. flannel nftables-mode rules are shown in nft syntax
   * (`add rule ip flannel-ipv4 postrtg …`), since iptables never saw them.
   */
  iptables: string;
  /**
   * The rule's comment once attributed (flannel/attribute.ts): then `iptables` is the exact
   * iptables-nft-save line. null: it has none (or it could not be read); absent: not looked at.
   */
  comment?: string | null;
}

export interface FlannelMatchOptions {
  /** flannel's IPv6 rules are only removed when ip-masq masquerades IPv6 itself. */
  enableIPv6: boolean;
  /** Families whose flannel facts were rejected this pass: none of their rules is touched. */
  hold?: readonly NftIpFamily[];
}

export const FLANNEL_NFT_TABLES: Record<NftIpFamily, string> = {
  ip: 'flannel-ipv4',
  ip6: 'flannel-ipv6',
};
const MULTICAST: Record<NftIpFamily, Cidr> = {
  ip: { family: 'ipv4', addr: 0xe0000000n, len: 4 },
  ip6: { family: 'ipv6', addr: 0xffn << 120n, len: 8 },
};
const IP_FAMILY: Record<NftIpFamily, IpFamily> = { ip: 'ipv4', ip6: 'ipv6' };

/** The chains the remover lists, per family in use: `[family, table, chain]`. */
export function flannelCandidateChains(opts: FlannelMatchOptions): [NftIpFamily, string, string][] {
  const families = FAMILIES.filter((f) => f === 'ip' || opts.enableIPv6);
  return families.flatMap((f): [NftIpFamily, string, string][] => [
    [f, 'nat', 'POSTROUTING'],
    [f, 'nat', 'FLANNEL-POSTRTG'],
    [f, FLANNEL_NFT_TABLES[f], 'postrtg'],
  ]);
}

// ---- expression helpers -------------------------------------------------------------------

const obj = (v: unknown): Record<string, unknown> | null =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

function xt(e: NftExpr): { type: string; name: string } | null {
  const x = obj(e['xt']);
  return x && typeof x['type'] === 'string' && typeof x['name'] === 'string'
    ? { type: x['type'], name: x['name'] }
    : null;
}

const isXtMasquerade = (e: NftExpr): boolean =>
  xt(e)?.type === 'target' && xt(e)?.name === 'MASQUERADE';
const isXtComment = (e: NftExpr): boolean => xt(e)?.type === 'match' && xt(e)?.name === 'comment';
const isCounter = (e: NftExpr): boolean => Object.keys(e).length === 1 && 'counter' in e;
const isNativeMasquerade = (e: NftExpr): boolean =>
  Object.keys(e).length === 1 && 'masquerade' in e;

interface AddrMatch {
  field: 'saddr' | 'daddr';
  negated: boolean;
  cidr: Cidr;
  text: string;
}

/** `ip saddr == 10.0.0.0/8` style matches (prefix or single address), else null. */
function addrMatch(e: NftExpr, family: NftIpFamily): AddrMatch | null {
  const m = obj(e['match']);
  if (!m || (m['op'] !== '==' && m['op'] !== '!=')) return null;
  const payload = obj(obj(m['left'])?.['payload']);
  if (!payload || payload['protocol'] !== family) return null;
  const field = payload['field'];
  if (field !== 'saddr' && field !== 'daddr') return null;
  const right = m['right'];
  const bits = family === 'ip' ? 32 : 128;
  let addrText: string;
  let len: number;
  if (typeof right === 'string') {
    addrText = right;
    len = bits;
  } else {
    const prefix = obj(obj(right)?.['prefix']);
    if (!prefix || typeof prefix['addr'] !== 'string' || typeof prefix['len'] !== 'number')
      return null;
    addrText = prefix['addr'];
    len = prefix['len'];
  }
  const ip = parseIp(addrText);
  if (!ip || ip.family !== IP_FAMILY[family] || len < 0 || len > bits) return null;
  return {
    field,
    negated: m['op'] === '!=',
    cidr: { family: ip.family, addr: ip.addr, len },
    text: `${addrText}/${len}`,
  };
}

const sameCidr = (a: Cidr, b: Cidr): boolean =>
  a.family === b.family && a.addr === b.addr && a.len === b.len;

/**
 * Pre-v0.20 flannel in `nat POSTROUTING`: the two MASQUERADE shapes with C = the cluster
 * network, and nothing else besides an optional comment and the counter iptables-nft adds.
 */
function isPostroutingFlannelMasq(rule: NftRule, family: NftIpFamily, network: Cidr): boolean {
  const exprs = rule.expr;
  if (exprs.length === 0 || !isXtMasquerade(exprs[exprs.length - 1] as NftExpr)) return false;
  const addrs: AddrMatch[] = [];
  for (const e of exprs.slice(0, -1)) {
    if (isCounter(e) || isXtComment(e)) continue;
    const a = addrMatch(e, family);
    if (!a) return false;
    addrs.push(a);
  }
  const s = addrs.filter((a) => a.field === 'saddr');
  const d = addrs.filter((a) => a.field === 'daddr');
  if (addrs.length !== 2 || s.length !== 1 || d.length !== 1) return false;
  const src = s[0] as AddrMatch;
  const dst = d[0] as AddrMatch;
  // -s C ! -d 224.0.0.0/4 -j MASQUERADE   (pod → outside)
  if (
    !src.negated &&
    sameCidr(src.cidr, network) &&
    dst.negated &&
    sameCidr(dst.cidr, MULTICAST[family])
  )
    return true;
  // ! -s C -d C -j MASQUERADE            (host → remote pod)
  return src.negated && sameCidr(src.cidr, network) && !dst.negated && sameCidr(dst.cidr, network);
}

// ---- rendering for audit logs --------------------------------------------------------------

function renderIptables(rule: NftRule, family: NftIpFamily): string {
  const parts = [`-A ${rule.chain}`];
  for (const e of rule.expr) {
    const a = addrMatch(e, family);
    if (a) {
      parts.push(`${a.negated ? '! ' : ''}${a.field === 'saddr' ? '-s' : '-d'} ${a.text}`);
      continue;
    }
    const m = obj(e['match']);
    const metaKey = obj(obj(m?.['left'])?.['meta'])?.['key'];
    if (m && (metaKey === 'oifname' || metaKey === 'iifname') && typeof m['right'] === 'string') {
      parts.push(
        `${m['op'] === '!=' ? '! ' : ''}${metaKey === 'oifname' ? '-o' : '-i'} ${m['right']}`,
      );
      continue;
    }
    // The comment text is not visible through nft; `-m comment` alone is not valid syntax.
    if (isCounter(e) || isXtComment(e)) continue;
    const x = xt(e);
    if (x?.type === 'match') parts.push(`-m ${x.name}`);
    else if (x?.type === 'target') parts.push(`-j ${x.name}`);
    else if ('return' in e) parts.push('-j RETURN');
    else parts.push(JSON.stringify(e));
  }
  return parts.join(' ');
}

function renderNft(rule: NftRule, family: NftIpFamily): string {
  const parts = [`add rule ${family} ${rule.table} ${rule.chain}`];
  for (const e of rule.expr) {
    const a = addrMatch(e, family);
    if (a) {
      parts.push(`${family} ${a.field} ${a.negated ? '!= ' : ''}${a.text}`);
    } else if (isNativeMasquerade(e)) {
      const flags = obj(e['masquerade'])?.['flags'];
      const list = Array.isArray(flags) ? flags : typeof flags === 'string' ? [flags] : [];
      parts.push(['masquerade', ...list].join(' '));
    } else if (!isCounter(e)) {
      parts.push(JSON.stringify(e));
    }
  }
  return parts.join(' ');
}

// ---- the matcher ---------------------------------------------------------------------------

/** Is this one rule (of `family`/`table`/`chain`) a flannel MASQUERADE rule? Which era? */
export function classifyFlannelRule(
  family: NftIpFamily,
  table: string,
  chain: string,
  rule: NftRule,
  facts: FlannelFacts | null,
): FlannelEra | null {
  if (table === 'nat' && chain === 'FLANNEL-POSTRTG') {
    return rule.expr.some(isXtMasquerade) ? 'flannel-postrtg' : null;
  }
  if (table === 'nat' && chain === 'POSTROUTING') {
    // Without the cluster network we cannot tell flannel's rules from anyone else's here.
    const net = (family === 'ip' ? facts?.ipv4 : facts?.ipv6)?.network;
    return net && isPostroutingFlannelMasq(rule, family, net) ? 'postrouting' : null;
  }
  if (table === FLANNEL_NFT_TABLES[family] && chain === 'postrtg') {
    return rule.expr.some(isNativeMasquerade) ? 'nftables' : null;
  }
  return null;
}

/**
 * flannel's MASQUERADE rules among the listed chains, in listing order. IPv6 rules only when
 * `opts.enableIPv6` (otherwise nothing would masquerade IPv6 pod egress any more).
 */
export function findFlannelMasquerade(
  listings: readonly ChainListing[],
  facts: FlannelFacts | null,
  opts: FlannelMatchOptions,
): FlannelRuleRef[] {
  const found: FlannelRuleRef[] = [];
  for (const l of listings) {
    if (l.family === 'ip6' && !opts.enableIPv6) continue;
    if (opts.hold?.includes(l.family)) continue;
    for (const rule of l.rules) {
      // The listing must really be of this chain: a rule listed elsewhere is never deleted here.
      if (
        rule.family !== l.family ||
        rule.table !== l.table ||
        rule.chain !== l.chain ||
        typeof rule.handle !== 'number'
      )
        continue;
      const era = classifyFlannelRule(l.family, l.table, l.chain, rule, facts);
      if (!era) continue;
      found.push({
        family: l.family,
        table: l.table,
        chain: l.chain,
        handle: rule.handle,
        era,
        iptables: era === 'nftables' ? renderNft(rule, l.family) : renderIptables(rule, l.family),
      });
    }
  }
  return found;
}

/**
 * Could this rule, in this chain, be flannel's MASQUERADE? The remover's chains and masquerade
 * tests, without the facts: the monitor and the poll do not read subnet.env, so in `nat
 * POSTROUTING` (pre-v0.20, where only the cluster network tells flannel's rules apart) any
 * MASQUERADE counts. The pass it triggers decides precisely, and does nothing when there is
 * nothing to delete.
 */
export function mayBeFlannelMasquerade(
  family: string,
  table: string,
  chain: string,
  exprs: readonly unknown[],
): boolean {
  const f = FAMILIES.find((x) => x === family);
  if (!f || !isFlannelCandidateChain(f, table, chain)) return false;
  const expr = exprs.filter(
    (e): e is NftExpr => typeof e === 'object' && e !== null && !Array.isArray(e),
  );
  return table === FLANNEL_NFT_TABLES[f]
    ? expr.some(isNativeMasquerade)
    : expr.some(isXtMasquerade);
}

function isFlannelCandidateChain(family: NftIpFamily, table: string, chain: string): boolean {
  return flannelCandidateChains({ enableIPv6: true }).some(
    ([f, t, c]) => f === family && t === table && c === chain,
  );
}

/**
 * Is this `nft -j monitor` event the addition of a rule that may be flannel's MASQUERADE?
 * nft prints an appended rule (`iptables -A`) as "add", a prepended one (`-I`) as "insert".
 */
export function isFlannelMasqueradeAdd(ev: MonitorEvent): boolean {
  if ((ev.op !== 'add' && ev.op !== 'insert') || ev.kind !== 'rule') return false;
  if (ev.chain === undefined) return false;
  if (!Array.isArray(ev.object.expr)) return false;
  return mayBeFlannelMasquerade(ev.family, ev.table, ev.chain, ev.object.expr);
}

/**
 * What a chain monitor line must contain to be the creation of one of flannel's own chains
 * (`FLANNEL-POSTRTG`, or a chain of its nftables-mode tables `flannel-ipv4`/`flannel-ipv6`).
 */
export const FLANNEL_CHAIN_NEEDLES: readonly string[] = ['FLANNEL-POSTRTG', '"flannel-ipv'];

/**
 * Is this `nft -j monitor` event flanneld creating one of its own chains (it started after us,
 * or was restarted)? Its MASQUERADE rules come next, in the same or the next transaction.
 */
export function isFlannelChainAdd(ev: MonitorEvent): boolean {
  // iptables-nft creates chains exclusively (NLM_F_EXCL): nft prints those as "create".
  if ((ev.op !== 'add' && ev.op !== 'create') || ev.kind !== 'chain') return false;
  const family = FAMILIES.find((f) => f === ev.family);
  const name = ev.object['name'];
  if (!family || typeof name !== 'string' || name === 'POSTROUTING') return false;
  return isFlannelCandidateChain(family, ev.table, name);
}

/** One transaction deleting `refs` by handle (empty batch when there is nothing to delete). */
export function deleteRulesBatch(refs: readonly FlannelRuleRef[]): NftBatch {
  return {
    nftables: refs.map((r) => ({
      delete: { rule: { family: r.family, table: r.table, chain: r.chain, handle: r.handle } },
    })),
  };
}
