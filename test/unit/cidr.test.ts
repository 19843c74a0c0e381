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
} from '../../daemon/src/net/cidr.js';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.cidr;
}

describe('parseIp', () => {
  it.each([
    ['0.0.0.0', 'ipv4', 0n],
    ['10.0.0.1', 'ipv4', 0x0a000001n],
    ['255.255.255.255', 'ipv4', 0xffffffffn],
    ['192.168.1.10', 'ipv4', 0xc0a8010an],
    ['::', 'ipv6', 0n],
    ['::1', 'ipv6', 1n],
    ['1::', 'ipv6', 1n << 112n],
    ['2001:db8::', 'ipv6', 0x20010db8n << 96n],
    ['2001:DB8:0:0:0:0:0:1', 'ipv6', (0x20010db8n << 96n) | 1n],
    ['fe80::1:2', 'ipv6', (0xfe80n << 112n) | 0x10002n],
    ['1:2:3:4:5:6:7:8', 'ipv6', 0x00010002000300040005000600070008n],
    ['1:2:3:4:5:6:7::', 'ipv6', 0x00010002000300040005000600070000n],
    ['::2:3:4:5:6:7:8', 'ipv6', 0x00000002000300040005000600070008n],
    ['::ffff:1.2.3.4', 'ipv6', 0xffff01020304n],
    ['64:ff9b::192.0.2.33', 'ipv6', (0x64ff9bn << 96n) | 0xc0000221n],
    ['1:2:3:4:5:6:1.2.3.4', 'ipv6', 0x00010002000300040005000601020304n],
  ] as const)('%s → %s %s', (text, family, addr) => {
    expect(parseIp(text)).toEqual({ family, addr });
  });

  it.each([
    '',
    '10.0.0',
    '10.0.0.0.0',
    '010.0.0.1', // leading zero: octal to inet_aton, decimal to Go; refused
    '10.0.0.01',
    '0x0a.0.0.1',
    '10.0.0.256',
    '10.0.0.-1',
    '10.0.0.1 ',
    ' 10.0.0.1',
    '1.2.3.4/32',
    '167772161', // a single integer is an address to inet_aton, not to us
    ':::',
    '1::2::3',
    ':1::',
    '1:::2',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::', // '::' must stand for at least one group
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::',
    'fe80::1%eth0', // zone ids are not addresses
    '1.2.3.4::', // IPv4 part only at the end
    '::1.2.3',
    '::1.2.3.04',
    '::ffff:1.2.3.4:5',
  ])('rejects %j', (text) => {
    expect(parseIp(text)).toBeNull();
  });
});

describe('parseCidr accepts', () => {
  it.each([
    ['10.0.0.0/8', 'ipv4', 0x0a000000n, 8, '10.0.0.0/8'],
    ['0.0.0.0/0', 'ipv4', 0n, 0, '0.0.0.0/0'],
    ['10.0.0.1/32', 'ipv4', 0x0a000001n, 32, '10.0.0.1/32'],
    ['172.16.0.0/12', 'ipv4', 0xac100000n, 12, '172.16.0.0/12'],
    ['255.255.255.255/32', 'ipv4', 0xffffffffn, 32, '255.255.255.255/32'],
    ['::/0', 'ipv6', 0n, 0, '::/0'],
    ['::1/128', 'ipv6', 1n, 128, '::1/128'],
    ['2001:db8::/32', 'ipv6', 0x20010db8n << 96n, 32, '2001:db8::/32'],
    ['fe80::/10', 'ipv6', 0xfe80n << 112n, 10, 'fe80::/10'],
    ['fd00::/8', 'ipv6', 0xfdn << 120n, 8, 'fd00::/8'],
    // Non-canonical spellings of the same prefix are accepted; formatting canonicalises.
    ['FD00::/8', 'ipv6', 0xfdn << 120n, 8, 'fd00::/8'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0000/32', 'ipv6', 0x20010db8n << 96n, 32, '2001:db8::/32'],
    ['64:ff9b::/96', 'ipv6', 0x64ff9bn << 96n, 96, '64:ff9b::/96'],
    ['0:0:0:0:0:0:0:0/80', 'ipv6', 0n, 80, '::/80'],
  ] as const)('%s', (text, family, addr, len, formatted) => {
    const parsed = parseCidr(text);
    expect(parsed).toEqual({ ok: true, cidr: { family, addr, len } });
    if (parsed.ok) expect(formatCidr(parsed.cidr)).toBe(formatted);
  });
});

describe('parseCidr rejects with an operator reason', () => {
  it.each([
    ['10.1.2.3/8', '"10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?'],
    ['10.0.0.1/31', '"10.0.0.1/31" is not aligned to its prefix; did you mean 10.0.0.0/31?'],
    ['fd00::1/8', '"fd00::1/8" is not aligned to its prefix; did you mean fd00::/8?'],
    ['FE80::1/10', '"FE80::1/10" is not aligned to its prefix; did you mean fe80::/10?'],
    ['10.0.0.1', '"10.0.0.1" has no prefix length; did you mean 10.0.0.1/32?'],
    ['2001:DB8::1', '"2001:DB8::1" has no prefix length; did you mean 2001:db8::1/128?'],
    [
      '010.0.0.0/8',
      '"010.0.0.0/8" has a leading zero in an octet (ambiguous: octal or decimal); write 10.0.0.0/8',
    ],
    [
      '10.0.0.010/32',
      '"10.0.0.010/32" has a leading zero in an octet (ambiguous: octal or decimal); write 10.0.0.10/32',
    ],
    [
      '010.1.2.3/8',
      '"010.1.2.3/8" has a leading zero in an octet (ambiguous: octal or decimal); write 10.0.0.0/8',
    ],
    [
      '010.0.0.1',
      '"010.0.0.1" has a leading zero in an octet (ambiguous: octal or decimal); write 10.0.0.1',
    ],
    [
      '0300.0.0.0/8',
      '"0300.0.0.0/8" has a leading zero in an octet (ambiguous: octal or decimal) and an octet above 255',
    ],
    ['abcdefg', '"abcdefg" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)'],
    ['', '"" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)'],
    [
      '10.0.0.0/8/9',
      '"10.0.0.0/8/9" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)',
    ],
    ['10.0.0/8', '"10.0.0/8" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)'],
    [
      ' 10.0.0.0/8',
      '" 10.0.0.0/8" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)',
    ],
    ['10.256.0.0/16', '"10.256.0.0/16" is not a CIDR: octet 256 is out of range (0-255)'],
    ['10.0.0.0/33', '"10.0.0.0/33" has prefix length 33, out of range for IPv4 (0-32)'],
    ['fd00::/129', '"fd00::/129" has prefix length 129, out of range for IPv6 (0-128)'],
    [
      '10.0.0.0/-1',
      '"10.0.0.0/-1" has an invalid prefix length "-1" (expected a decimal number 0-32 without leading zeros)',
    ],
    [
      '10.0.0.0/08',
      '"10.0.0.0/08" has an invalid prefix length "08" (expected a decimal number 0-32 without leading zeros)',
    ],
    [
      '10.0.0.0/',
      '"10.0.0.0/" has an invalid prefix length "" (expected a decimal number 0-32 without leading zeros)',
    ],
    [
      '10.0.0.0/8 ',
      '"10.0.0.0/8 " has an invalid prefix length "8 " (expected a decimal number 0-32 without leading zeros)',
    ],
    [
      'fd00::/0x8',
      '"fd00::/0x8" has an invalid prefix length "0x8" (expected a decimal number 0-128 without leading zeros)',
    ],
    [
      '::ffff:10.0.0.0/104',
      '"::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 prefix; write it as IPv4: 10.0.0.0/8',
    ],
    ['::ffff:0:0/96', '"::ffff:0:0/96" is an IPv4-mapped IPv6 prefix; write it as IPv4: 0.0.0.0/0'],
    [
      '::ffff:10.1.2.3/104',
      '"::ffff:10.1.2.3/104" is an IPv4-mapped IPv6 prefix; write it as IPv4: 10.0.0.0/8',
    ],
    [
      'fe80::1%eth0/64',
      '"fe80::1%eth0/64" has an IPv6 zone id ("%eth0"); zone ids are not allowed in a prefix',
    ],
    [
      '1::2::3/64',
      '"1::2::3/64" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)',
    ],
  ])('%j', (text, reason) => {
    expect(parseCidr(text)).toEqual({ ok: false, reason });
  });

  it('checks every IPv4 prefix length for alignment', () => {
    // 10.255.255.255 is aligned only at /32; the suggestion keeps the first len bits.
    for (let len = 0; len < 32; len++) {
      const parsed = parseCidr(`10.255.255.255/${len}`);
      expect(parsed.ok).toBe(false);
      const expected = formatCidr({
        family: 'ipv4',
        addr: 0x0affffffn & ~((1n << BigInt(32 - len)) - 1n),
        len,
      });
      if (!parsed.ok) expect(parsed.reason).toContain(`did you mean ${expected}?`);
    }
    expect(parseCidr('10.255.255.255/32').ok).toBe(true);
  });
});

describe('formatIp', () => {
  it.each([
    ['ipv4', 0n, '0.0.0.0'],
    ['ipv4', 0xffffffffn, '255.255.255.255'],
    ['ipv4', 0x0a000001n, '10.0.0.1'],
    ['ipv6', 0n, '::'],
    ['ipv6', 1n, '::1'],
    ['ipv6', 1n << 112n, '1::'],
    ['ipv6', (0x20010db8n << 96n) | 1n, '2001:db8::1'],
    // RFC 5952 4.2.2: a single zero group is not compressed.
    ['ipv6', 0x20010db8000000010001000100010001n, '2001:db8:0:1:1:1:1:1'],
    // 4.2.3: the longest run wins; on a tie the first one.
    ['ipv6', 0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'],
    ['ipv6', 0x20010000000000010000000000000001n, '2001:0:0:1::1'],
    ['ipv6', 0x00010000000100000001000000010000n, '1:0:1:0:1:0:1:0'],
    // 4.3: lowercase, no leading zeros.
    ['ipv6', 0xfe800000000000000000000000abcdefn, 'fe80::ab:cdef'],
    ['ipv6', 0xffff01020304n, '::ffff:102:304'],
  ] as const)('%s %s → %s', (family, addr, text) => {
    expect(formatIp(family, addr)).toBe(text);
  });

  it('round-trips through parseIp', () => {
    for (const text of [
      '::',
      '::1',
      '1::',
      'fe80::ab:cdef',
      '2001:db8::1:0:0:1',
      '1:0:1:0:1:0:1:0',
      '10.1.2.3',
    ]) {
      const ip = parseIp(text);
      expect(ip).not.toBeNull();
      if (ip) expect(formatIp(ip.family, ip.addr)).toBe(text);
    }
  });
});

describe('familyBits and cidrContains', () => {
  it('knows the widths', () => {
    expect(familyBits('ipv4')).toBe(32);
    expect(familyBits('ipv6')).toBe(128);
  });

  it.each([
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '9.255.255.255', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['10.0.0.1/32', '10.0.0.1', true],
    ['10.0.0.1/32', '10.0.0.2', false],
    ['fd00::/8', 'fdff::1', true],
    ['fd00::/8', 'fe00::', false],
    ['::/0', '::1', true],
    // Families never mix: 0.0.0.0/0 does not contain ::, nor ::/0 an IPv4 address.
    ['0.0.0.0/0', '::', false],
    ['::/0', '10.0.0.1', false],
  ] as const)('%s contains %s: %s', (c, ip, expected) => {
    const addr = parseIp(ip);
    if (addr === null) throw new Error(ip);
    expect(cidrContains(cidr(c), addr.family, addr.addr)).toBe(expected);
  });
});

describe('collapseCidrs', () => {
  const collapse = (list: string[]): { ipv4: string[]; ipv6: string[] } => {
    const r = collapseCidrs(list.map(cidr));
    return { ipv4: r.ipv4.map(formatCidr), ipv6: r.ipv6.map(formatCidr) };
  };

  it.each([
    ['nothing', [], [], []],
    [
      'RFC 1918 sorted',
      ['192.168.0.0/16', '10.0.0.0/8', '172.16.0.0/12'],
      ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
      [],
    ],
    ['duplicates', ['10.0.0.0/8', '10.0.0.0/8'], ['10.0.0.0/8'], []],
    ['contained', ['10.1.0.0/16', '10.0.0.0/8', '10.2.3.4/32'], ['10.0.0.0/8'], []],
    ['siblings', ['10.0.0.0/9', '10.128.0.0/9'], ['10.0.0.0/8'], []],
    ['siblings repeatedly', ['10.0.0.0/10', '10.64.0.0/10', '10.128.0.0/9'], ['10.0.0.0/8'], []],
    [
      'adjacent but not siblings',
      ['10.128.0.0/9', '11.0.0.0/9'],
      ['10.128.0.0/9', '11.0.0.0/9'],
      [],
    ],
    [
      'four /32 into a /30',
      ['10.0.0.3/32', '10.0.0.1/32', '10.0.0.0/32', '10.0.0.2/32'],
      ['10.0.0.0/30'],
      [],
    ],
    [
      'three /32 stay as /31 + /32',
      ['10.0.0.0/32', '10.0.0.1/32', '10.0.0.2/32'],
      ['10.0.0.0/31', '10.0.0.2/32'],
      [],
    ],
    ['whole space', ['0.0.0.0/1', '128.0.0.0/1'], ['0.0.0.0/0'], []],
    ['top of the space', ['255.255.255.254/32', '255.255.255.255/32'], ['255.255.255.254/31'], []],
    [
      'mixed families',
      ['fd00::/9', '10.0.0.0/8', 'fd80::/9', 'fe80::/10'],
      ['10.0.0.0/8'],
      ['fd00::/8', 'fe80::/10'],
    ],
    [
      'IPv6 contained',
      ['2001:db8::/32', '2001:db8:1::/48', '::1/128'],
      [],
      ['::1/128', '2001:db8::/32'],
    ],
    ['IPv6 whole space', ['::/1', '8000::/1'], [], ['::/0']],
  ] as const)('%s', (_name, input, ipv4, ipv6) => {
    expect(collapse([...input])).toEqual({ ipv4, ipv6 });
  });

  it('does not mutate or reorder its input', () => {
    const input = ['10.128.0.0/9', '10.0.0.0/9'].map(cidr);
    const copy = input.map((c) => ({ ...c }));
    collapseCidrs(input);
    expect(input).toEqual(copy);
  });
});
