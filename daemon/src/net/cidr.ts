/**
 * Strict IP/CIDR parsing and canonical formatting, on BigInt addresses (collapsing is in
 * collapse.ts, the shared types in prefix.ts; both are re-exported here).
 *
 * Strict on purpose: an operator's `010.0.0.0/8` is octal 8.0.0.0/8 to inet_aton but decimal
 * 10.0.0.0/8 to Go, and `10.1.2.3/8` silently becomes 10.0.0.0/8 in nft. Either reading
 * would be a guess about which traffic keeps its pod source IP, so both are rejected with the
 * fix spelled out. No dependency: this is the one place every CIDR passes through.
 */

import {
  familyBits,
  hostMask,
  V4_BLOCK_SIZES,
  type Cidr,
  type CidrParse,
  type IpFamily,
} from './prefix.js';

// The rest of the CIDR vocabulary lives beside this file; importers keep one entry point.
export { familyBits, type Cidr, type CidrParse, type IpFamily } from './prefix.js';
export { collapseCidrs, prefixesOfRange } from './collapse.js';

const DECIMAL_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const PREFIX_LEN = /^(?:0|[1-9][0-9]{0,2})$/;

/** Strict dotted decimal: exactly 4 parts, 0-255, no leading zeros, no octal/hex. */
function parseIpv4Number(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** Scratch space for parseIpv6 (single-threaded, never escapes). */
const GROUPS = new Array<number>(8).fill(0);

/** Value of a hex digit char code, or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * RFC 4291 2.2 text forms, scanned by char code (this runs once per config entry, up to
 * 100,000 times): 1-4 hex digits per group, at most one '::' standing for one or more zero
 * groups, an optional dotted-decimal IPv4 tail as the last 32 bits. No zone id.
 */
function parseIpv6(text: string): bigint | null {
  const n = text.length;
  if (n < 2) return null;
  let count = 0;
  let gap = -1; // number of groups before '::', or -1
  let i = 0;
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return null;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let v = 0;
    for (let h = hexValue(text.charCodeAt(i)); h >= 0 && i < n; h = hexValue(text.charCodeAt(++i)))
      v = v * 16 + h;
    if (i < n && text.charCodeAt(i) === 46 /* . */) {
      // An IPv4 tail: it must end the address and leave room for its two groups.
      if (count > 6) return null;
      const v4 = parseIpv4Number(text.slice(start));
      if (v4 === null) return null;
      GROUPS[count++] = Math.floor(v4 / 0x10000);
      GROUPS[count++] = v4 % 0x10000;
      i = n;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4 || count === 8) return null;
    GROUPS[count++] = v;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return null; // '%' (zone id) or anything else
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap !== -1) return null; // a second '::'
      gap = count;
      i++;
    } else if (i === n) {
      return null; // a single trailing ':'
    }
  }
  if (gap === -1) {
    if (count !== 8) return null;
  } else {
    if (count > 7) return null; // '::' stands for at least one zero group
    const tail = count - gap;
    for (let k = 0; k < tail; k++) GROUPS[7 - k] = GROUPS[count - 1 - k] as number;
    for (let k = gap; k < 8 - tail; k++) GROUPS[k] = 0;
  }
  // Four 32-bit words: a quarter of the BigInt work of going group by group.
  let value = 0n;
  for (let k = 0; k < 8; k += 2)
    value = (value << 32n) | BigInt((GROUPS[k] as number) * 0x10000 + (GROUPS[k + 1] as number));
  return value;
}

/**
 * Parse one IP address strictly: dotted-decimal IPv4 (exactly 4 parts, no leading zeros) or
 * IPv6 (with `::` and an optional embedded IPv4 tail; no zone id). Null when not an address.
 */
export function parseIp(text: string): { family: IpFamily; addr: bigint } | null {
  if (text.includes(':')) {
    const addr = parseIpv6(text);
    return addr === null ? null : { family: 'ipv6', addr };
  }
  const v4 = parseIpv4Number(text);
  return v4 === null ? null : { family: 'ipv4', addr: BigInt(v4) };
}

/** Canonical text: dotted decimal, or RFC 5952 §4 IPv6 (lowercase, longest zero run as `::`). */
export function formatIp(family: IpFamily, addr: bigint): string {
  if (family === 'ipv4') {
    const n = Number(addr & 0xffffffffn);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: number[] = new Array<number>(8);
  for (let i = 7, v = addr; i >= 0; i--, v >>= 16n) groups[i] = Number(v & 0xffffn);
  // Longest run of zero groups (length >= 2, first one on a tie) becomes '::' (RFC 5952 4.2).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestLen < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** `10.0.0.0/8`, `fd00::/8`. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.addr)}/${c.len}`;
}

/** Is `addr` of `family` inside prefix `c`? */
export function cidrContains(c: Cidr, family: IpFamily, addr: bigint): boolean {
  if (c.family !== family) return false;
  const mask = hostMask(c.family, c.len);
  return (addr & ~mask) === c.addr;
}

const EXPECTED = '(expected a.b.c.d/n or an IPv6 prefix like fd00::/8)';
/** The top 96 bits of ::ffff:0:0/96, the IPv4-mapped block (RFC 4291 2.5.5.2). */
const V4_MAPPED_TOP96 = 0xffffn;

/** Why `addrText` (no '/') is not an address, in operator words, or null if no better idea. */
function describeBadAddress(
  quoted: string,
  addrText: string,
  lenText: string | null,
): string | null {
  if (addrText.includes('%')) {
    return `${quoted} has an IPv6 zone id ("%${addrText.slice(addrText.indexOf('%') + 1)}"); zone ids are not allowed in a prefix`;
  }
  if (/^[0-9]+(?:\.[0-9]+){3}$/.test(addrText)) {
    const parts = addrText.split('.');
    if (parts.some((p) => p.length > 1 && p.startsWith('0'))) {
      // Go >= 1.17 rejects these, inet_aton reads them as octal: say which reading we suggest.
      const decimal = parts.map((p) => Number(p));
      if (decimal.every((d) => d <= 255)) {
        let suggestion = decimal.join('.');
        const len = lenText !== null && PREFIX_LEN.test(lenText) ? Number(lenText) : null;
        if (len !== null && len <= 32) {
          const v = BigInt(decimal.reduce((acc, d) => acc * 256 + d, 0));
          suggestion = formatCidr({ family: 'ipv4', addr: v & ~hostMask('ipv4', len), len });
        } else if (lenText !== null) {
          suggestion = `${suggestion}/${lenText}`;
        }
        return `${quoted} has a leading zero in an octet (ambiguous: octal or decimal); write ${suggestion}`;
      }
      return `${quoted} has a leading zero in an octet (ambiguous: octal or decimal) and an octet above 255`;
    }
    const big = parts.find((p) => Number(p) > 255);
    if (big !== undefined) return `${quoted} is not a CIDR: octet ${big} is out of range (0-255)`;
  }
  return null;
}

/**
 * The common case, a well-formed aligned IPv4 prefix, scanned by char code with no regex and
 * no allocation beyond the result: config files with 100,000 entries spend most of their
 * validation time here. Null means "take the general path", which also words the error.
 */
function parsePlainIpv4Cidr(text: string): Cidr | null {
  let value = 0;
  let i = 0;
  const n = text.length;
  for (let part = 0; part < 5; part++) {
    const first = i;
    let v = 0;
    while (i < n) {
      const ch = text.charCodeAt(i) - 48;
      if (ch < 0 || ch > 9) break;
      v = v * 10 + ch;
      i++;
    }
    const digits = i - first;
    // 1-3 digits, no leading zero (so no octal reading), octets <= 255, prefix <= 32.
    if (digits === 0 || digits > 3 || (digits > 1 && text.charCodeAt(first) === 48)) return null;
    if (part < 4) {
      if (v > 255) return null;
      value = value * 256 + v;
      const sep = text.charCodeAt(i);
      if (sep !== (part < 3 ? 46 /* . */ : 47) /* / */) return null;
      i++;
    } else {
      if (i !== n || v > 32) return null;
      // Aligned iff the value is a multiple of the block size 2^(32-len).
      if (value % (V4_BLOCK_SIZES[v] as number) !== 0) return null;
      return { family: 'ipv4', addr: BigInt(value), len: v };
    }
  }
  return null;
}

/**
 * Parse `address/len` strictly. The address must be aligned to the prefix (no host bits),
 * IPv4 octets must be plain decimal, and IPv4-mapped IPv6 prefixes are refused in favour of
 * their IPv4 form. Non-canonical IPv6 spelling (uppercase, uncompressed) is accepted: it
 * denotes the same prefix. `reason` is a short operator phrase quoting the input.
 */
export function parseCidr(text: string): CidrParse {
  const quick = parsePlainIpv4Cidr(text);
  if (quick !== null) return { ok: true, cidr: quick };
  // Quoted lazily: only failures need it, and 100,000-entry lists are mostly successes.
  const quoted = (): string => JSON.stringify(text);
  const fail = (reason: string): CidrParse => ({ ok: false, reason });
  const slash = text.indexOf('/');

  if (slash === -1) {
    const ip = parseIp(text);
    if (ip !== null) {
      return fail(
        `${quoted()} has no prefix length; did you mean ${formatIp(ip.family, ip.addr)}/${familyBits(ip.family)}?`,
      );
    }
    return fail(
      describeBadAddress(quoted(), text, null) ?? `${quoted()} is not a CIDR ${EXPECTED}`,
    );
  }

  const addrText = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (lenText.includes('/')) return fail(`${quoted()} is not a CIDR ${EXPECTED}`);

  const ip = parseIp(addrText);
  if (ip === null) {
    return fail(
      describeBadAddress(quoted(), addrText, lenText) ?? `${quoted()} is not a CIDR ${EXPECTED}`,
    );
  }
  const bits = familyBits(ip.family);
  const familyName = ip.family === 'ipv4' ? 'IPv4' : 'IPv6';
  if (!PREFIX_LEN.test(lenText)) {
    return fail(
      `${quoted()} has an invalid prefix length "${lenText}" (expected a decimal number 0-${bits} without leading zeros)`,
    );
  }
  const len = Number(lenText);
  if (len > bits) {
    return fail(`${quoted()} has prefix length ${len}, out of range for ${familyName} (0-${bits})`);
  }

  if (ip.family === 'ipv6' && len >= 96 && ip.addr >> 32n === V4_MAPPED_TOP96) {
    // iptables/Go class these as IPv4 but nft's ip6 family would never match IPv4 packets.
    const v4addr = ip.addr & 0xffffffffn;
    const v4len = len - 96;
    const v4 = formatCidr({ family: 'ipv4', addr: v4addr & ~hostMask('ipv4', v4len), len: v4len });
    return fail(`${quoted()} is an IPv4-mapped IPv6 prefix; write it as IPv4: ${v4}`);
  }

  const mask = hostMask(ip.family, len);
  if ((ip.addr & mask) !== 0n) {
    const aligned: Cidr = { family: ip.family, addr: ip.addr & ~mask, len };
    return fail(`${quoted()} is not aligned to its prefix; did you mean ${formatCidr(aligned)}?`);
  }
  return { ok: true, cidr: { family: ip.family, addr: ip.addr, len } };
}
