/**
 * A normalized form of our tables, built the same way from the Plan (what we want) and from
 * `nft -j list table` (what the kernel holds), so the two can be compared as strings.
 *
 * Needed because nft 1.0.6 can exit 0 on input it ignored (a misspelt nat flag installs the
 * rule without it), and because read-back differs from input in shape only:
 * `{"counter":null}` → `{"counter":{"packets":N,"bytes":N}}`, a single nat flag comes back as a
 * string, a /32 prefix comes back as a bare address, IPv6 text is re-canonicalized.
 */
import { formatIp, parseIp } from '../net/cidr.js';
import { CHAIN_NAME, SET_NAME, type NftTableFamily, type PlanTable } from '../plan/plan.js';
import { ownChain, ownSet, setType } from './shape.js';
import { tableRules } from './to-nft.js';
import type { NftChain, NftListing, NftRule, NftSet, NftSetElement } from './types.js';

export interface RuleState {
  comment: string;
  /** Canonical JSON of the rule's expressions, counters zeroed. */
  expr: string;
  packets: number;
  bytes: number;
}

export interface TableState {
  family: NftTableFamily;
  /** Canonical JSON of the base chain's type/hook/prio/policy; null if the chain is missing. */
  chain: string | null;
  /** Canonical set elements ("10.0.0.0/8"), in listing order; null if the set is missing. */
  set: string[] | null;
  setType: string | null;
  rules: RuleState[];
  /** Chains or sets in our table that we did not create (someone edited it). */
  foreign: string[];
}

/**
 * IPv6 text has many spellings; nft and formatIp both print IPv4 canonically, so IPv4 skips the
 * parse (it dominates the cost of comparing a 100,000-element set).
 */
function canonicalAddress(text: string): string {
  if (!text.includes(':')) return text;
  const ip = parseIp(text);
  return ip ? formatIp(ip.family, ip.addr) : text;
}

function elementKey(e: NftSetElement): string {
  if (typeof e === 'string') return `${canonicalAddress(e)}/${e.includes(':') ? 128 : 32}`;
  if ('prefix' in e) return `${canonicalAddress(e.prefix.addr)}/${e.prefix.len}`;
  return `${canonicalAddress(e.range[0])}-${canonicalAddress(e.range[1])}`;
}

/** Deep-normalizes one JSON value of an nft expression (see the module comment). */
function normalizeValue(value: unknown, key?: string): unknown {
  if (typeof value === 'string') return canonicalAddress(value);
  if (Array.isArray(value)) return value.map((v) => normalizeValue(v));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if ('counter' in obj && Object.keys(obj).length === 1) return { counter: null };
  if ('prefix' in obj && Object.keys(obj).length === 1) {
    const p = obj.prefix as { addr: string; len: number };
    const ip = parseIp(p.addr);
    if (ip && p.len === (ip.family === 'ipv4' ? 32 : 128)) return formatIp(ip.family, ip.addr);
    return { prefix: { addr: canonicalAddress(p.addr), len: p.len } };
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    // nat statements list a single flag as a string and several as an array.
    out[k] = k === 'flags' && key !== 'fib' && typeof v === 'string' ? [v] : normalizeValue(v, k);
  }
  return out;
}

function exprKey(expr: unknown[]): string {
  return JSON.stringify(expr.map((e) => normalizeValue(e)));
}

function chainKey(c: Pick<NftChain, 'type' | 'hook' | 'prio' | 'policy'>): string {
  return JSON.stringify({
    type: c.type ?? null,
    hook: c.hook ?? null,
    prio: c.prio ?? null,
    policy: c.policy ?? null,
  });
}

function counterOf(expr: unknown[]): { packets: number; bytes: number } {
  for (const e of expr) {
    const c = (e as { counter?: { packets?: number; bytes?: number } | null }).counter;
    if (c) return { packets: c.packets ?? 0, bytes: c.bytes ?? 0 };
  }
  return { packets: 0, bytes: 0 };
}

/** What the kernel must hold for this planned table. */
export function expectedState(t: PlanTable): TableState {
  return {
    family: t.family,
    chain: chainKey(ownChain(t.family)),
    set: (ownSet(t).elem ?? []).map(elementKey),
    setType: setType(t.ipFamily),
    rules: tableRules(t).map((r) => ({
      comment: r.comment ?? '',
      expr: exprKey(r.expr),
      packets: 0,
      bytes: 0,
    })),
    foreign: [],
  };
}

/** What the kernel holds, from `nft -j list table <family> ip-masq`; null if the table is absent. */
export function liveState(listing: NftListing | null, family: NftTableFamily): TableState | null {
  if (listing === null) return null;
  const state: TableState = {
    family,
    chain: null,
    set: null,
    setType: null,
    rules: [],
    foreign: [],
  };
  for (const obj of listing) {
    if ('chain' in obj) {
      const c: NftChain = obj.chain;
      if (c.name === CHAIN_NAME) state.chain = chainKey(c);
      else state.foreign.push(`chain ${c.name}`);
    } else if ('set' in obj) {
      const s: NftSet = obj.set;
      if (s.name === SET_NAME) {
        state.set = (s.elem ?? []).map(elementKey);
        state.setType = s.type;
      } else state.foreign.push(`set ${s.name}`);
    } else if ('rule' in obj) {
      const r: NftRule = obj.rule;
      if (r.chain !== CHAIN_NAME) continue;
      state.rules.push({ comment: r.comment ?? '', expr: exprKey(r.expr), ...counterOf(r.expr) });
    } else if (!('table' in obj) && !('metainfo' in obj)) {
      state.foreign.push(Object.keys(obj)[0] ?? 'object');
    }
  }
  return state;
}

/**
 * Why `live` is not `expected`, in one short phrase, or null when they match (counters are
 * ignored: they are the kernel's, not ours).
 */
export function tableDifference(
  expected: TableState | null,
  live: TableState | null,
): string | null {
  if (expected === null)
    return live === null ? null : `table ${live.family} ip-masq exists but should not`;
  const name = `table ${expected.family} ip-masq`;
  if (live === null) return `${name} is missing`;
  if (live.foreign.length > 0)
    return `${name} holds objects we did not create (${live.foreign.join(', ')})`;
  if (live.chain !== expected.chain)
    return live.chain === null
      ? `${name}: chain ${CHAIN_NAME} is missing`
      : `${name}: chain ${CHAIN_NAME} has the wrong type/hook/priority`;
  if (live.set === null) return `${name}: set ${SET_NAME} is missing`;
  if (live.setType !== expected.setType) return `${name}: set ${SET_NAME} has type ${live.setType}`;
  const exp = expected.set ?? [];
  // Compared as sets: the kernel decides the listing order, and elements are distinct.
  const mismatch = firstSetDifference(exp, live.set);
  if (live.set.length !== exp.length || mismatch !== '') {
    return `${name}: set ${SET_NAME} holds ${live.set.length} elements, expected ${exp.length}${mismatch}`;
  }
  if (live.rules.length !== expected.rules.length)
    return `${name}: chain ${CHAIN_NAME} has ${live.rules.length} rules, expected ${expected.rules.length}`;
  for (let i = 0; i < expected.rules.length; i++) {
    const e = expected.rules[i] as RuleState;
    const l = live.rules[i] as RuleState;
    if (e.comment !== l.comment || e.expr !== l.expr)
      return `${name}: rule ${i + 1} ("${e.comment}") differs: got ${l.expr}`;
  }
  return null;
}

function firstSetDifference(expected: string[], live: string[]): string {
  const liveSet = new Set(live);
  const missing = expected.find((e) => !liveSet.has(e));
  if (missing) return ` (missing ${missing})`;
  const expectedSet = new Set(expected);
  const extra = live.find((e) => !expectedSet.has(e));
  return extra ? ` (unexpected ${extra})` : '';
}
