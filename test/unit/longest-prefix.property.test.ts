/**
 * The keep-source set rendered from nonMasqueradeCIDRs (keep) and masqueradeCIDRs (masquerade)
 * against a brute-force longest-prefix oracle: for an address, look at every entry containing
 * it, take the longest, and keep the source iff that entry is a keep entry.
 *
 * Both sides are constant between "breakpoints" (where some entry or some rendered prefix
 * starts or ends), so probing every breakpoint and its neighbours checks the whole address
 * space, not a sample; the dense lists are also enumerated address by address.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  collapseCidrs,
  familyBits,
  formatCidr,
  type Cidr,
  type IpFamily,
} from '../../daemon/src/net/cidr.js';
import { keepSourcePrefixes, longestMatch } from '../../daemon/src/net/longest-prefix.js';

interface Entry {
  cidr: Cidr;
  keep: boolean;
}

function lastAddr(c: Cidr): bigint {
  return c.addr | ((1n << BigInt(familyBits(c.family) - c.len)) - 1n);
}

/** The oracle: a linear scan, no intervals, no sorting. */
function oracleKeeps(entries: readonly Entry[], family: IpFamily, addr: bigint): boolean {
  let best: Entry | null = null;
  for (const e of entries) {
    if (!cidrContains(e.cidr, family, addr)) continue;
    if (best === null || e.cidr.len > best.cidr.len) best = e;
  }
  return best?.keep ?? false;
}

function prefixAt(family: IpFamily, addr: bigint, len: number): Cidr {
  const host = (1n << BigInt(familyBits(family) - len)) - 1n;
  return { family, addr: addr & ~host, len };
}

/** A prefix of length baseLen..bits inside base/baseLen. */
function prefixIn(family: IpFamily, base: bigint, baseLen: number): fc.Arbitrary<Cidr> {
  const bits = familyBits(family);
  return fc
    .tuple(
      fc.bigInt({ min: 0n, max: (1n << BigInt(bits - baseLen)) - 1n }),
      fc.integer({ min: baseLen, max: bits }),
    )
    .map(([offset, len]) => prefixAt(family, base | offset, len));
}

/** A chain of up to `depth` prefixes, each inside the previous, with random labels. */
function nestedChain(family: IpFamily, depth: number): fc.Arbitrary<Entry[]> {
  const bits = familyBits(family);
  return fc
    .tuple(
      fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
      fc.uniqueArray(fc.integer({ min: 0, max: bits }), { minLength: 1, maxLength: depth }),
      fc.array(fc.boolean(), { minLength: depth, maxLength: depth }),
    )
    .map(([addr, lens, labels]) =>
      // One address, several lengths: every prefix contains every longer one.
      [...lens]
        .sort((a, b) => a - b)
        .map((len, i) => ({ cidr: prefixAt(family, addr, len), keep: labels[i] as boolean })),
    );
}

function entryList(family: IpFamily, dense: fc.Arbitrary<Cidr>): fc.Arbitrary<Entry[]> {
  const loose = fc.record({
    cidr: fc.oneof(dense, prefixIn(family, 0n, 0)),
    keep: fc.boolean(),
  });
  return fc
    .tuple(fc.array(loose, { maxLength: 40 }), fc.array(nestedChain(family, 6), { maxLength: 4 }))
    .map(([flat, chains]) => [...flat, ...chains.flat()])
    .map(dropConflicts);
}

/** The same prefix in both lists is a config error (tested elsewhere): keep the first. */
function dropConflicts(entries: Entry[]): Entry[] {
  const seen = new Map<string, boolean>();
  return entries.filter((e) => {
    const key = formatCidr(e.cidr);
    const label = seen.get(key);
    if (label === undefined) seen.set(key, e.keep);
    return label === undefined || label === e.keep;
  });
}

function render(family: IpFamily, entries: readonly Entry[]): Cidr[] {
  return keepSourcePrefixes(
    family,
    entries.filter((e) => e.keep).map((e) => e.cidr),
    entries.filter((e) => !e.keep).map((e) => e.cidr),
  );
}

function checkAgainstOracle(family: IpFamily, entries: readonly Entry[], extra: bigint[]): void {
  const rendered = render(family, entries);
  // A valid nft 1.0.6 interval set: ascending, no overlaps, and already minimal.
  expect(rendered).toEqual(collapseCidrs(rendered)[family]);
  const max = (1n << BigInt(familyBits(family))) - 1n;
  const probes = new Set<bigint>(extra);
  for (const c of [...entries.map((e) => e.cidr), ...rendered]) {
    for (const a of [c.addr - 1n, c.addr, lastAddr(c), lastAddr(c) + 1n])
      if (a >= 0n && a <= max) probes.add(a);
  }
  probes.add(0n);
  probes.add(max);
  for (const addr of probes) {
    const inSet = rendered.some((c) => cidrContains(c, family, addr));
    if (inSet !== oracleKeeps(entries, family, addr)) {
      throw new Error(
        `address ${addr} (${family}): set says ${inSet ? 'keep' : 'masquerade'}, oracle disagrees; entries ${entries.map((e) => `${e.keep ? 'keep' : 'masq'} ${formatCidr(e.cidr)}`).join(', ')}; set ${rendered.map(formatCidr).join(', ')}`,
      );
    }
  }
}

const RUNS = { numRuns: 400 };
const V4_BASE = 0x0a000000n; // 10.0.0.0/24: 256 addresses, enumerated
const V6_BASE = 0xfd00n << 112n; // fd00::/120

describe('keepSourcePrefixes vs a brute-force longest-prefix oracle', () => {
  it('IPv4: random nested lists, every breakpoint and every address of a dense /24', () => {
    const all = Array.from({ length: 256 }, (_, i) => V4_BASE + BigInt(i));
    fc.assert(
      fc.property(entryList('ipv4', prefixIn('ipv4', V4_BASE, 24)), (entries) =>
        checkAgainstOracle('ipv4', entries, all),
      ),
      RUNS,
    );
  });

  it('IPv6: random nested lists, every breakpoint and every address of a dense /120', () => {
    const all = Array.from({ length: 256 }, (_, i) => V6_BASE + BigInt(i));
    fc.assert(
      fc.property(entryList('ipv6', prefixIn('ipv6', V6_BASE, 120)), (entries) =>
        checkAgainstOracle('ipv6', entries, all),
      ),
      RUNS,
    );
  });

  it('ignores entries of the other family', () => {
    const v4: Cidr = { family: 'ipv4', addr: V4_BASE, len: 8 };
    const v6: Cidr = { family: 'ipv6', addr: V6_BASE, len: 8 };
    expect(keepSourcePrefixes('ipv4', [v4, v6], [v6])).toEqual([v4]);
    expect(keepSourcePrefixes('ipv6', [v4], [])).toEqual([]);
  });

  it('longestMatch agrees with the oracle on which entry decides', () => {
    fc.assert(
      fc.property(
        entryList('ipv4', prefixIn('ipv4', V4_BASE, 24)),
        fc.integer({ min: 0, max: 255 }),
        (entries, i) => {
          const addr = V4_BASE + BigInt(i);
          const hit = longestMatch('ipv4', addr, entries);
          expect(hit?.keep ?? false).toBe(oracleKeeps(entries, 'ipv4', addr));
          if (hit) expect(cidrContains(hit.cidr, 'ipv4', addr)).toBe(true);
        },
      ),
      RUNS,
    );
  });
});
