/** outputInterfaces names and snatAddress[IPv6] values: accepted forms, and each refusal's fix. */
import { describe, expect, it } from 'vitest';
import { parseInterfaceName, parseSnatAddress } from '../../daemon/src/config/policy-values.js';

describe('parseInterfaceName', () => {
  it.each(['eth0', 'eth*', 'ens3f0np0', 'a', 'x'.repeat(15), 'bond0.100', 'vlan@x'])(
    'accepts %j',
    (name) => expect(parseInterfaceName(name)).toEqual({ ok: true, value: name }),
  );
  it.each([
    ['', /is empty; write an interface name/],
    ['x'.repeat(16), /16 characters long; .*at most 15/],
    ['eth 0', /whitespace/],
    ['eth0\t', /whitespace/],
    ['eth/0', /contains '\/'/],
    ['e*h0', /'\*' is a wildcard only at the end, e\.g\. "eth\*"/],
    ['*', /matches every interface; leave outputInterfaces out/],
    ['eth"0', /quote or a backslash/],
  ])('refuses %j', (name, why) => {
    const r = parseInterfaceName(name);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });
});

describe('parseSnatAddress', () => {
  it('accepts one address of the family, canonical', () => {
    expect(parseSnatAddress('192.0.2.9', 'ipv4')).toEqual({ ok: true, value: '192.0.2.9' });
    expect(parseSnatAddress('2001:DB8:0:0::9', 'ipv6')).toEqual({ ok: true, value: '2001:db8::9' });
  });
  it.each([
    ['192.0.2.9/32', 'ipv4', /is a prefix; write the address alone: 192\.0\.2\.9/],
    ['192.0.2.0/24', 'ipv4', /is a prefix, not an address; write one IPv4 address/],
    ['2001:db8::9', 'ipv4', /is an IPv6 address; this key takes IPv4: move it to snatAddressIPv6/],
    ['192.0.2.9', 'ipv6', /is an IPv4 address; this key takes IPv6: move it to snatAddress/],
    [
      'node-ip',
      'ipv4',
      /is not an IPv4 address; write one address of this node, e\.g\. 192\.0\.2\.9/,
    ],
    ['010.0.0.1', 'ipv4', /is not an IPv4 address/],
  ] as const)('refuses %j as %s', (text, family, why) => {
    const r = parseSnatAddress(text, family);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });
});
