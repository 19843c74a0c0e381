/**
 * Properties of the CIDR library, checked against independent, deliberately naive references
 * (address enumeration in a small universe, a plain interval merge) rather than against the
 * implementation's own helpers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  collapseCidrs,
  familyBits,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  type Cidr,
  type IpFamily,
} from '../../daemon/src/net/cidr.js';

const RUNS = { numRuns: 300 };

/** An aligned prefix inside `base/baseLen` (so that generated lists overlap a lot). */
function prefixIn(family: IpFamily, base: bigint, baseLen: number): fc.Arbitrary<Cidr> {
  const bits = familyBits(family);
  const hostBits = bits - baseLen;
  return fc
    .tuple(
      fc.bigInt({ min: 0n, max: (1n << BigInt(hostBits)) - 1n }),
      fc.integer({ min: baseLen, max: bits }),
    )
    .map(([offset, len]) => {
      const blockMask = (1n << BigInt(bits - len)) - 1n;
      return { family, addr: (base | offset) & ~blockMask, len };
    });
}

/** Anywhere in the address space, any length. */
function anyPrefix(family: IpFamily): fc.Arbitrary<Cidr> {
  return prefixIn(family, 0n, 0);
}

const denseV4 = prefixIn('ipv4', 0x0a000000n, 24); // 10.0.0.0/24: 256 addresses, enumerable
const denseV6 = prefixIn('ipv6', 0xfd00n << 112n, 120); // fd00::/120: 256 addresses
const mixedList = fc.array(fc.oneof(denseV4, denseV6, anyPrefix('ipv4'), anyPrefix('ipv6')), {
  maxLength: 60,
});

function lastAddr(c: Cidr): bigint {
  return c.addr | ((1n << BigInt(familyBits(c.family) - c.len)) - 1n);
}

function inUnion(list: readonly Cidr[], family: IpFamily, addr: bigint): boolean {
  return list.some((c) => cidrContains(c, family, addr));
}

/** Naive reference: the union as sorted disjoint [start, end] intervals (adjacent ones joined). */
function referenceUnion(list: readonly Cidr[], family: IpFamily): Array<[bigint, bigint]> {
  const intervals = list
    .filter((c) => c.family === family)
    .map((c): [bigint, bigint] => [c.addr, lastAddr(c)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [s, e] of intervals) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1n) last[1] = e > last[1] ? e : last[1];
    else out.push([s, e]);
  }
  return out;
}

function size(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.len);
}

describe('collapseCidrs properties', () => {
  it('covers exactly the addresses of the input (exhaustive in a 256-address universe)', () => {
    fc.assert(
      fc.property(
        fc.array(denseV4, { maxLength: 40 }),
        fc.array(denseV6, { maxLength: 40 }),
        (v4, v6) => {
          const out = collapseCidrs([...v4, ...v6]);
          for (let i = 0n; i < 256n; i++) {
            expect(inUnion(out.ipv4, 'ipv4', 0x0a000000n | i)).toBe(
              inUnion(v4, 'ipv4', 0x0a000000n | i),
            );
            const a6 = (0xfd00n << 112n) | i;
            expect(inUnion(out.ipv6, 'ipv6', a6)).toBe(inUnion(v6, 'ipv6', a6));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('covers exactly the same addresses (edges of every input, plus random probes)', () => {
    fc.assert(
      fc.property(
        mixedList,
        fc.array(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), { maxLength: 20 }),
        (list, probes) => {
          const out = collapseCidrs(list);
          const all = [...out.ipv4, ...out.ipv6];
          const points: Array<[IpFamily, bigint]> = [];
          for (const c of list) {
            const max = (1n << BigInt(familyBits(c.family))) - 1n;
            for (const a of [c.addr - 1n, c.addr, lastAddr(c), lastAddr(c) + 1n])
              if (a >= 0n && a <= max) points.push([c.family, a]);
          }
          for (const p of probes) points.push(['ipv6', p], ['ipv4', p & 0xffffffffn]);
          for (const [family, a] of points)
            expect(inUnion(all, family, a)).toBe(inUnion(list, family, a));
        },
      ),
      RUNS,
    );
  });

  it('equals the reference union interval by interval (interval arithmetic)', () => {
    fc.assert(
      fc.property(mixedList, (list) => {
        const out = collapseCidrs(list);
        for (const family of ['ipv4', 'ipv6'] as const) {
          const got = out[family];
          // Rebuild intervals from the output: consecutive prefixes that touch form one interval.
          const rebuilt: Array<[bigint, bigint]> = [];
          for (const c of got) {
            const last = rebuilt[rebuilt.length - 1];
            if (last && c.addr === last[1] + 1n) last[1] = lastAddr(c);
            else rebuilt.push([c.addr, lastAddr(c)]);
          }
          expect(rebuilt).toEqual(referenceUnion(list, family));
          const total = got.reduce((sum, c) => sum + size(c), 0n);
          expect(total).toBe(
            referenceUnion(list, family).reduce((sum, [s, e]) => sum + (e - s + 1n), 0n),
          );
        }
      }),
      RUNS,
    );
  });

  it('is sorted, has no overlaps, no mergeable siblings, only aligned prefixes of one family', () => {
    fc.assert(
      fc.property(mixedList, (list) => {
        const out = collapseCidrs(list);
        for (const family of ['ipv4', 'ipv6'] as const) {
          const got = out[family];
          for (const c of got) {
            expect(c.family).toBe(family);
            expect(c.addr & (size(c) - 1n)).toBe(0n);
          }
          for (let i = 1; i < got.length; i++) {
            const prev = got[i - 1] as Cidr;
            const cur = got[i] as Cidr;
            expect(lastAddr(prev) < cur.addr).toBe(true);
            const siblings =
              prev.len === cur.len &&
              prev.len > 0 &&
              cur.addr === prev.addr + size(prev) &&
              (prev.addr & size(prev)) === 0n;
            expect(siblings).toBe(false);
          }
        }
      }),
      RUNS,
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(mixedList, (list) => {
        const once = collapseCidrs(list);
        expect(collapseCidrs([...once.ipv4, ...once.ipv6])).toEqual(once);
      }),
      RUNS,
    );
  });

  it('does not depend on input order', () => {
    fc.assert(
      fc.property(
        mixedList.chain((list) =>
          fc.tuple(
            fc.constant(list),
            fc.array(fc.integer(), { minLength: list.length, maxLength: list.length }),
          ),
        ),
        ([list, keys]) => {
          const permuted = list
            .map((c, i) => [keys[i] as number, c] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, c]) => c);
          expect(collapseCidrs(permuted)).toEqual(collapseCidrs(list));
          expect(collapseCidrs([...list].reverse())).toEqual(collapseCidrs(list));
        },
      ),
      RUNS,
    );
  });
});

describe('parse/format properties', () => {
  it('parseCidr(formatCidr(c)) is c for every aligned prefix', () => {
    fc.assert(
      fc.property(fc.oneof(anyPrefix('ipv4'), anyPrefix('ipv6')), (c) => {
        // IPv4-mapped IPv6 prefixes are refused by design; everything else round-trips.
        const mapped = c.family === 'ipv6' && c.len >= 96 && c.addr >> 32n === 0xffffn;
        const parsed = parseCidr(formatCidr(c));
        expect(parsed).toEqual(
          mapped
            ? { ok: false, reason: expect.stringContaining('IPv4-mapped') }
            : { ok: true, cidr: c },
        );
      }),
      RUNS,
    );
  });

  it('IPv4 a.b.c.d/n is accepted exactly when aligned (checked arithmetically)', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(
        octet,
        octet,
        octet,
        octet,
        fc.integer({ min: 0, max: 32 }),
        (a, b, c, d, len) => {
          const value = BigInt(((a * 256 + b) * 256 + c) * 256 + d);
          const hostMask = (1n << BigInt(32 - len)) - 1n;
          const parsed = parseCidr(`${a}.${b}.${c}.${d}/${len}`);
          if ((value & hostMask) === 0n)
            expect(parsed).toEqual({ ok: true, cidr: { family: 'ipv4', addr: value, len } });
          else
            expect(parsed).toEqual({
              ok: false,
              reason: expect.stringContaining('is not aligned to its prefix'),
            });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('IPv4 text with a leading zero in any octet is always refused', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(
        fc.tuple(octet, octet, octet, octet),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 32 }),
        (octets, which, len) => {
          const parts = octets.map(String);
          parts[which] = `0${parts[which] as string}`;
          const parsed = parseCidr(`${parts.join('.')}/${len}`);
          expect(parsed.ok).toBe(false);
          expect(parseIp(parts.join('.'))).toBeNull();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('any RFC 4291 spelling (padding, case, any zero run as ::, IPv4 tail) parses to the value', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 8, maxLength: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()), {
          minLength: 8,
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        (groups, styles, runStart, v4tail) => {
          const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
          const pieces = groups.map((g, i) => {
            const [pad, upper] = styles[i] as [number, boolean];
            const hex = g.toString(16);
            const padded = hex.padStart(Math.min(4, hex.length + pad), '0');
            return upper ? padded.toUpperCase() : padded;
          });
          // The zero run starting at runStart (if groups[runStart] is 0) becomes '::'.
          let runEnd = runStart;
          while (runEnd < 8 && groups[runEnd] === 0) runEnd++;
          const useTail = v4tail && runEnd <= 6;
          const tailText = `${(groups[6] as number) >> 8}.${(groups[6] as number) & 255}.${(groups[7] as number) >> 8}.${(groups[7] as number) & 255}`;
          const body = useTail ? pieces.slice(0, 6) : pieces;
          let text: string;
          if (runEnd > runStart)
            text = `${body.slice(0, runStart).join(':')}::${body.slice(runEnd).join(':')}`;
          else text = body.join(':');
          if (useTail)
            text = runEnd === 6 && runEnd > runStart ? `${text}${tailText}` : `${text}:${tailText}`;
          expect(parseIp(text), text).toEqual({ family: 'ipv6', addr: value });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('every spelling of an IPv6 address parses to the same value, and formats canonically', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
          minLength: 8,
          maxLength: 8,
        }),
        (groups) => {
          const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
          const full = groups.map((g) => g.toString(16).padStart(4, '0').toUpperCase()).join(':');
          expect(parseIp(full)).toEqual({ family: 'ipv6', addr: value });
          const canonical = formatIp('ipv6', value);
          expect(parseIp(canonical)).toEqual({ family: 'ipv6', addr: value });
          expect(canonical).toBe(canonical.toLowerCase());
          expect(canonical.split('::').length).toBeLessThanOrEqual(2);
          expect(canonical).not.toMatch(/(^|:)0[0-9a-f]/); // no leading zeros in a group
          // Two or more zero groups in a row must have been compressed (RFC 5952 4.2.1).
          if (!canonical.includes('::')) expect(canonical).not.toMatch(/(^|:)0:0(:|$)/);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
