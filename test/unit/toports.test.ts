/**
 * toPorts, the pure parts: upstream's interval syntax and rejections, the plan's per-range
 * rules and their exact split, the nft JSON, and `explain`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configToJson } from '../../daemon/src/config/to-json.js';
import { parsePortRanges, portRangeSize } from '../../daemon/src/config/values.js';
import { ConfigError, formatConfigIssue } from '../../daemon/src/errors.js';
import { formatCidr, parseIp } from '../../daemon/src/net/cidr.js';
import { expectedState, liveState, tableDifference } from '../../daemon/src/nft/normalize.js';
import type { NftListing } from '../../daemon/src/nft/types.js';
import { tableRules } from '../../daemon/src/nft/to-nft.js';
import { explainPacket } from '../../daemon/src/plan/explain.js';
import { buildPlan, type PlanRule } from '../../daemon/src/plan/plan.js';
import { makeConfig, parseConfigText } from '../helpers/config.js';

function issues(text: string): string[] {
  try {
    parseConfigText(text, 'c.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(formatConfigIssue);
    throw e;
  }
  throw new Error('expected issues');
}

describe('parsePortRanges (upstream pkg/interval syntax)', () => {
  it.each([
    [
      '1024-29999,32768-65535',
      [
        [1024, 29999],
        [32768, 65535],
      ],
    ],
    ['5000', [[5000, 5000]]],
    ['42-42', [[42, 42]]],
    // Duplicates, overlaps and reverse order are kept, like upstream.
    [
      '30000-30010,30005-30020,2000',
      [
        [30000, 30010],
        [30005, 30020],
        [2000, 2000],
      ],
    ],
    [
      '1,1',
      [
        [1, 1],
        [1, 1],
      ],
    ],
    ['65535', [[65535, 65535]]],
  ])('%s', (text, expected) => {
    expect(parsePortRanges(text)).toEqual({
      ok: true,
      ranges: expected.map(([first, last]) => ({ first, last })),
    });
  });

  // Upstream's rejected inputs (interval_test.go), plus the 1–65535 bound upstream leaves to iptables.
  it.each([
    ['42 - 44', /spaces around "42 - 44"|not a port/],
    ['42-43-44', /"42-43-44", which is not a port N or a range N-M/],
    ['4x', /"4x", which is not a port/],
    ['-44', /"-44", which is not a port/],
    ['42-', /"42-", which is not a port/],
    ['42-41', /the range "42-41" ends before it starts; did you mean 41-42\?/],
    ['42, 43', /spaces around "43"/],
    ['42,', /empty entry/],
    ['0', /port 0 is out of range; ports are 1-65535/],
    ['1024-65536', /port 65536 is out of range/],
    ['99999999999999999999', /port 99999999999999999999 is out of range/],
  ])('rejects %j', (text, reason) => {
    const r = parsePortRanges(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('config errors point at the value', () => {
    expect(issues('masqLinkLocal: false\ntoPorts: "42-41"\n')).toEqual([
      'c.yaml:2:10: toPorts: "42-41": the range "42-41" ends before it starts; did you mean 41-42?',
    ]);
    expect(issues('toPorts: 5000\n')).toEqual([
      'c.yaml:1:10: toPorts: expected a string of port ranges such as "1024-29999,32768-65535", got number 5000; quote it: toPorts: "5000"',
    ]);
  });

  it('empty or null means off; check --json shows the ranges as written', () => {
    expect(parseConfigText('toPorts: ""\n', 'c.yaml').toPorts).toEqual([]);
    expect(parseConfigText('toPorts:\n', 'c.yaml').toPorts).toEqual([]);
    expect(
      configToJson(parseConfigText('toPorts: "1024-29999,32768-65535"\n', 'c.yaml')).toPorts,
    ).toBe('1024-29999,32768-65535');
  });
});

const UPSTREAM = [
  { first: 1024, last: 29999 },
  { first: 32768, last: 65535 },
];

function masqueradeRules(rules: PlanRule[]): PlanRule[] {
  return rules.filter((r) => r.id === 'masquerade-ports' || r.id === 'masquerade');
}

describe('plan and nft JSON', () => {
  it("upstream's example: P = 28976/61744 = 0.469292562840114 for the first range, the last range unconditional", () => {
    const plan = buildPlan(makeConfig({ toPorts: UPSTREAM }));
    const rules = masqueradeRules(plan.tables[0]!.rules);
    expect(rules.map((r) => r.id)).toEqual(['masquerade-ports', 'masquerade-ports', 'masquerade']);
    expect(rules[0]!.match).toEqual([
      { kind: 'l4proto', protocols: ['tcp', 'udp', 'sctp'] },
      { kind: 'random-share', modulus: 61744, below: 28976 },
    ]);
    expect(28976 / 61744).toBe(0.469292562840114);
    expect(rules[1]!.match).toEqual([{ kind: 'l4proto', protocols: ['tcp', 'udp', 'sctp'] }]);
    expect(rules[0]!.comment).toBe(
      'ip-masq: outbound TCP/UDP/SCTP is subject to MASQUERADE to toPorts 1024-29999 (46.9% of new flows)',
    );
    expect(rules[2]).toMatchObject({
      match: [],
      verdict: { kind: 'masquerade', fullyRandom: true, ports: null },
    });
  });

  it('renders numgen + port range, a single port as a number, fully-random only when set', () => {
    const json = (toPorts: typeof UPSTREAM, randomFully: boolean) =>
      tableRules(buildPlan(makeConfig({ toPorts, randomFully })).tables[0]!)
        .filter((r) => r.comment?.includes('toPorts'))
        .map((r) => r.expr);
    expect(json(UPSTREAM, true)[0]).toEqual([
      {
        match: {
          op: '==',
          left: { meta: { key: 'l4proto' } },
          right: { set: ['tcp', 'udp', 'sctp'] },
        },
      },
      {
        match: {
          op: '<',
          left: { numgen: { mode: 'random', mod: 61744, offset: 0 } },
          right: 28976,
        },
      },
      { counter: null },
      { masquerade: { port: { range: [1024, 29999] }, flags: ['fully-random'] } },
    ]);
    expect(json([{ first: 5000, last: 5000 }], false)).toEqual([
      [
        {
          match: {
            op: '==',
            left: { meta: { key: 'l4proto' } },
            right: { set: ['tcp', 'udp', 'sctp'] },
          },
        },
        { counter: null },
        { masquerade: { port: 5000 } },
      ],
    ]);
  });

  it('nft 1.0.6 read-back of these rules (flags as a string, counters, handles) compares equal', () => {
    const table = buildPlan(makeConfig({ toPorts: UPSTREAM })).tables[0]!;
    // What `nft -j list table ip ip-masq` printed on nft 1.0.6 for rules installed from our JSON.
    const listed = tableRules(table).map((rule, i) => ({
      rule: {
        ...rule,
        handle: i + 4,
        expr: rule.expr.map((e) => {
          if ('counter' in e) return { counter: { packets: 3, bytes: 180 } };
          const m = (e as { masquerade?: { flags?: string[] } | null }).masquerade;
          if (m?.flags?.length === 1) return { masquerade: { ...m, flags: m.flags[0] } };
          return e;
        }),
      },
    }));
    const listing = [
      { table: { family: 'ip', name: 'ip-masq', handle: 1 } },
      {
        set: {
          family: 'ip',
          name: 'nomasq',
          table: 'ip-masq',
          type: 'ipv4_addr',
          handle: 2,
          flags: ['interval'],
          elem: table.set.map((c) => ({
            prefix: { addr: formatCidr(c).split('/')[0], len: c.len },
          })),
        },
      },
      {
        chain: {
          family: 'ip',
          table: 'ip-masq',
          name: 'postrouting',
          handle: 3,
          type: 'nat',
          hook: 'postrouting',
          prio: 110,
          policy: 'accept',
        },
      },
      ...listed,
    ] as unknown as NftListing;
    expect(
      listed.some(
        (l) =>
          JSON.stringify(l).includes('"flags":"fully-random","port":{"range":[1024,29999]}') ||
          JSON.stringify(l).includes('"port":{"range":[1024,29999]},"flags":"fully-random"'),
      ),
    ).toBe(true);
    expect(tableDifference(expectedState(table), liveState(listing, 'ip'))).toBeNull();
    // …and a rule that lost its port range is a difference.
    const tampered = listing.map((o) =>
      JSON.parse(JSON.stringify(o).replace('"range":[1024,29999]', '"range":[1024,29998]')),
    ) as NftListing;
    expect(tableDifference(expectedState(table), liveState(tampered, 'ip'))).toMatch(
      /rule \d+ \("ip-masq: outbound TCP\/UDP\/SCTP/,
    );
  });

  it('every range gets exactly size/total of new flows (product of the conditional draws)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc
            .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 3000 }))
            .map(([first, extra]) => ({ first, last: Math.min(65535, first + extra) })),
          { minLength: 1, maxLength: 6 },
        ),
        (ranges) => {
          const rules = buildPlan(makeConfig({ toPorts: ranges })).tables[0]!.rules.filter(
            (r) => r.id === 'masquerade-ports',
          );
          const total = ranges.reduce((s, r) => s + portRangeSize(r), 0);
          // P(reach rule i) × P(rule i draws) as exact fractions (numerator/denominator in BigInt).
          let reachNum = 1n;
          let reachDen = 1n;
          rules.forEach((rule, i) => {
            const draw = rule.match.find((m) => m.kind === 'random-share');
            const [takeNum, takeDen] =
              draw && draw.kind === 'random-share'
                ? [BigInt(draw.below), BigInt(draw.modulus)]
                : [1n, 1n];
            // P(range i) == size_i / total  ⇔  reach × take × total == size_i (cross-multiplied).
            expect(reachNum * takeNum * BigInt(total)).toBe(
              BigInt(portRangeSize(ranges[i]!)) * reachDen * takeDen,
            );
            reachNum *= takeDen - takeNum;
            reachDen *= takeDen;
          });
          expect(reachNum).toBe(0n);
        },
      ),
    );
  });
});

describe('explain with toPorts', () => {
  const plan = buildPlan(makeConfig({ toPorts: UPSTREAM, nonMasqueradeCIDRs: ['10.0.0.0/8'] }));
  const dst = parseIp('203.0.113.7')!;
  const packet = { family: dst.family, dst: dst.addr, src: null, dstIsLocal: false };

  it('any protocol: shows both ranges with their shares', () => {
    const r = explainPacket(plan, packet);
    expect(r.decision).toBe('masquerade');
    expect(r.rule?.text).toBe(
      'meta l4proto { tcp, udp, sctp } numgen random mod 61744 < 28976 counter masquerade to :1024-29999 fully-random',
    );
    expect(r.ports).toEqual([
      { range: '1024-29999', share: 28976 / 61744 },
      { range: '32768-65535', share: 32768 / 61744 },
    ]);
    expect(r.note).toBe(
      'TCP, UDP and SCTP flows get a source port in 1024-29999 (46.9%) or 32768-65535 (53.1%), chosen at random per new flow; other protocols: rule 6 (any port)',
    );
  });

  it('UDP gets the ranges, ICMP the plain masquerade, a non-masquerade destination no port at all', () => {
    expect(explainPacket(plan, { ...packet, protocol: 'udp' }).note).toMatch(
      /^a new UDP flow gets a source port in 1024-29999/,
    );
    const icmp = explainPacket(plan, { ...packet, protocol: 'icmp' });
    expect(icmp).toMatchObject({
      decision: 'masquerade',
      ports: null,
      rule: { id: 'masquerade', text: 'counter masquerade fully-random' },
    });
    expect(icmp.note).toBe('toPorts applies to TCP, UDP and SCTP only; icmp gets no port mapping');
    const inside = parseIp('10.1.2.3')!;
    expect(explainPacket(plan, { ...packet, dst: inside.addr })).toMatchObject({
      decision: 'keep source',
      ports: null,
    });
  });
});
