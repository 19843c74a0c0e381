/**
 * The benchmark's inputs must be what they claim to be: the baseline is byte-for-byte the
 * iptables-restore input ip-masq-agent writes (shared/reference/ip-masq-agent.md §1.9), and the
 * N-CIDR lists keep N entries through our collapse (so "N = 10,000" really is 10,000 set elements).
 */
import { describe, expect, it } from 'vitest';
import { CHAIN, JUMP_ARGS, restoreText } from '../../bench/baseline/ip-masq-agent.mjs';
import { cidrList, stats } from '../../bench/lib/common.mjs';
import { collapseCidrs, parseCidr, type Cidr } from '../../daemon/src/net/cidr.js';

const NOMASQ = '-m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE"';

describe('ip-masq-agent baseline generator', () => {
  it('reproduces the default config chain of the reference (main.go:306-328)', () => {
    expect(restoreText(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'])).toBe(
      [
        '*nat',
        ':IP-MASQ-AGENT - [0:0]',
        `-A IP-MASQ-AGENT ${NOMASQ} -d 169.254.0.0/16 -j RETURN`,
        `-A IP-MASQ-AGENT ${NOMASQ} -d 10.0.0.0/8 -j RETURN`,
        `-A IP-MASQ-AGENT ${NOMASQ} -d 172.16.0.0/12 -j RETURN`,
        `-A IP-MASQ-AGENT ${NOMASQ} -d 192.168.0.0/16 -j RETURN`,
        '-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE --random-fully',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('drops the link-local RETURN with masqLinkLocal and skips IPv6 entries in the IPv4 pass', () => {
    const text = restoreText(['fd00::/8', '10.0.0.0/8'], { masqLinkLocal: true });
    expect(text).not.toContain('169.254.0.0/16');
    expect(text).not.toContain('fd00::/8');
    expect(text.split('\n').filter((l) => l.startsWith('-A '))).toHaveLength(2);
  });

  it('jumps from POSTROUTING for non-LOCAL destinations, the comment as one argv element', () => {
    expect(CHAIN).toBe('IP-MASQ-AGENT');
    expect(JUMP_ARGS).toEqual([
      '-m',
      'comment',
      '--comment',
      'ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain',
      '-m',
      'addrtype',
      '!',
      '--dst-type',
      'LOCAL',
      '-j',
      'IP-MASQ-AGENT',
    ]);
  });
});

describe('benchmark CIDR lists', () => {
  const parse = (list: string[]): Cidr[] =>
    list.map((t) => {
      const r = parseCidr(t);
      if (!r.ok) throw new Error(`${t}: ${r.reason}`);
      return r.cidr;
    });

  it.each([1, 64, 1000, 100_000])(
    'N = %i survives collapse as N prefixes, none holding the "outside" 198.18.0.2',
    (n) => {
      const list = cidrList(n);
      expect(new Set(list).size).toBe(n);
      expect(collapseCidrs(parse(list)).ipv4).toHaveLength(n);
      expect(list.every((c) => c.startsWith('10.'))).toBe(true);
    },
  );

  it('the shifted list differs from the first by exactly one entry out and one in', () => {
    const a = new Set(cidrList(1000, 0));
    const b = new Set(cidrList(1000, 1));
    expect([...a].filter((c) => !b.has(c))).toEqual(['10.0.0.0/28']);
    expect([...b].filter((c) => !a.has(c))).toHaveLength(1);
  });

  it('quantiles are nearest-rank', () => {
    const s = stats([5, 1, 4, 2, 3]);
    expect([s.n, s.min, s.p50, s.p95, s.max]).toEqual([5, 1, 3, 5, 5]);
  });
});
