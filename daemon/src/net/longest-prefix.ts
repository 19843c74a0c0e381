/**
 * Two destination lists decided by the longest matching prefix, rendered as ONE interval set.
 * Pure.
 *
 * `keep` entries (nonMasqueradeCIDRs, and the implicit link-local range) keep the pod's source,
 * `masquerade` entries (masqueradeCIDRs) are masqueraded, and for an address inside several
 * entries the longest prefix decides — what reviewers of ip-masq-agent#68 asked for. The kernel
 * must still do one lookup per new flow, so the policy is flattened into the set of addresses
 * whose longest match is a `keep` entry.
 *
 * Computed exactly as set algebra, shortest prefixes first: start from the empty set, and for
 * each prefix length L in ascending order add the `keep` prefixes of length L, then remove the
 * `masquerade` prefixes of length L. Every later step only touches addresses inside a longer
 * (more specific) prefix, so it overrides exactly the addresses it covers. Two distinct prefixes
 * of the same length never overlap, so the order inside one length does not matter — except for
 * the same prefix in both lists, which the config refuses (here `masquerade` would win).
 */
import { familyBits, prefixesOfRange, type Cidr, type IpFamily } from './cidr.js';

/** Inclusive, ascending, disjoint; adjacent intervals are allowed until the final merge. */
type Interval = readonly [start: bigint, end: bigint];

function toInterval(c: Cidr): Interval {
  return [c.addr, c.addr | ((1n << BigInt(familyBits(c.family) - c.len)) - 1n)];
}

/** Same-length prefixes as sorted intervals (equal ones once: they are disjoint otherwise). */
function sortedIntervals(cidrs: readonly Cidr[]): Interval[] {
  const sorted = [...cidrs].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const out: Interval[] = [];
  for (const c of sorted) {
    const iv = toInterval(c);
    const last = out[out.length - 1];
    if (last === undefined || last[0] !== iv[0]) out.push(iv);
  }
  return out;
}

/** a ∪ b for two ascending disjoint interval lists. */
function union(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  if (b.length === 0) return a as Interval[];
  const all = [...a, ...b].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [start, end] of all) {
    const last = out[out.length - 1];
    if (last !== undefined && start <= last[1] + 1n) {
      if (end > last[1]) last[1] = end;
    } else out.push([start, end]);
  }
  return out;
}

/** a \ b for two ascending disjoint interval lists (a two-pointer sweep). */
function difference(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  if (b.length === 0) return a as Interval[];
  const out: Interval[] = [];
  let j = 0;
  for (const [aStart, aEnd] of a) {
    let start = aStart;
    // Skip holes that end before this interval starts.
    while (j < b.length && (b[j] as Interval)[1] < start) j++;
    let k = j;
    while (k < b.length && start <= aEnd) {
      const [hStart, hEnd] = b[k] as Interval;
      if (hStart > aEnd) break;
      if (hStart > start) out.push([start, hStart - 1n]);
      if (hEnd >= aEnd) {
        start = aEnd + 1n;
        break;
      }
      start = hEnd + 1n;
      k++;
    }
    if (start <= aEnd) out.push([start, aEnd]);
  }
  return out;
}

/** Adjacent intervals as one, so that the prefix list is minimal (10/9 + 10.128/9 = 10/8). */
function joinAdjacent(list: readonly Interval[]): Interval[] {
  const out: Array<[bigint, bigint]> = [];
  for (const [start, end] of list) {
    const last = out[out.length - 1];
    if (last !== undefined && start === last[1] + 1n) last[1] = end;
    else out.push([start, end]);
  }
  return out;
}

function byLength(cidrs: readonly Cidr[], family: IpFamily): Map<number, Cidr[]> {
  const m = new Map<number, Cidr[]>();
  for (const c of cidrs) {
    if (c.family !== family) continue;
    const list = m.get(c.len);
    if (list) list.push(c);
    else m.set(c.len, [c]);
  }
  return m;
}

/**
 * The addresses of `family` whose longest matching prefix among `keep` ∪ `masquerade` is a
 * `keep` entry, as the minimal ascending list of non-overlapping prefixes (what an nft 1.0.6
 * interval set accepts). Entries of the other family are ignored.
 */
export function keepSourcePrefixes(
  family: IpFamily,
  keep: readonly Cidr[],
  masquerade: readonly Cidr[],
): Cidr[] {
  const keepBy = byLength(keep, family);
  const masqBy = byLength(masquerade, family);
  const lengths = [...new Set([...keepBy.keys(), ...masqBy.keys()])].sort((a, b) => a - b);
  let set: Interval[] = [];
  for (const len of lengths) {
    set = union(set, sortedIntervals(keepBy.get(len) ?? []));
    set = difference(set, sortedIntervals(masqBy.get(len) ?? []));
  }
  const out: Cidr[] = [];
  for (const [start, end] of joinAdjacent(set)) out.push(...prefixesOfRange(family, start, end));
  return out;
}

/** The entry that decides `addr`: the longest prefix containing it (the first on a tie), or null. */
export function longestMatch<T extends { cidr: Cidr }>(
  family: IpFamily,
  addr: bigint,
  entries: readonly T[],
): T | null {
  let best: T | null = null;
  for (const e of entries) {
    const [start, end] = e.cidr.family === family ? toInterval(e.cidr) : [1n, 0n];
    if (addr < start || addr > end) continue;
    if (best === null || e.cidr.len > best.cidr.len) best = e;
  }
  return best;
}
