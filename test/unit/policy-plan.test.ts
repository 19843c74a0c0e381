/**
 * The policy keys (masqueradeCIDRs, sourceCIDRs, outputInterfaces, snatAddress[IPv6]) in the
 * Plan, in the nft JSON they render to, and in `explain`'s walk of the Plan.
 */
import { describe, expect, it } from 'vitest';
import { formatCidr, parseIp } from '../../daemon/src/net/cidr.js';
import { planToBatch, ruleExprs } from '../../daemon/src/nft/to-nft.js';
import { explainPacket, ruleText, type Packet } from '../../daemon/src/plan/explain.js';
import { buildPlan, type PlanTable } from '../../daemon/src/plan/plan.js';
import { cidr, makeConfig } from '../helpers/config.js';

const facts = {
  podNetwork: { ipv4: { network: cidr('10.244.0.0/16'), subnet: cidr('10.244.1.0/24') } },
};

function table(plan: ReturnType<typeof buildPlan>, family: 'ip' | 'ip6'): PlanTable {
  return plan.tables.find((t) => t.family === family) as PlanTable;
}

function packet(dst: string, opts: { src?: string; oif?: string } = {}): Packet {
  const d = parseIp(dst)!;
  return {
    family: d.family,
    dst: d.addr,
    src: opts.src ? parseIp(opts.src)!.addr : null,
    dstIsLocal: false,
    ...(opts.oif !== undefined ? { oif: opts.oif } : {}),
  };
}

describe('masqueradeCIDRs in the plan', () => {
  const config = makeConfig({
    nonMasqueradeCIDRs: ['10.0.0.0/8', '10.1.2.0/24'],
    masqueradeCIDRs: [cidr('10.1.0.0/16'), cidr('169.254.169.254/32')],
  });
  const plan = buildPlan(config, facts);
  const t = table(plan, 'ip');

  it('renders one set of the destinations whose longest prefix keeps the source, link-local included', () => {
    const set = t.set.map(formatCidr);
    // 10.1.0.0/16 is masqueraded except its nested keep entry 10.1.2.0/24; ascending order.
    expect(set.slice(0, 9)).toEqual([
      '10.0.0.0/16',
      '10.1.2.0/24',
      '10.2.0.0/15',
      '10.4.0.0/14',
      '10.8.0.0/13',
      '10.16.0.0/12',
      '10.32.0.0/11',
      '10.64.0.0/10',
      '10.128.0.0/9',
    ]);
    // 169.254.0.0/16 minus one /32: 16 prefixes (one per bit of the hole's position).
    expect(set.slice(9)).toHaveLength(16);
    expect(set.slice(9).every((c) => c.startsWith('169.254.'))).toBe(true);
    const keeps = (a: string): boolean => explainPacket(plan, packet(a)).decision === 'keep source';
    expect(keeps('10.9.9.9')).toBe(true);
    expect(keeps('10.1.9.9')).toBe(false);
    expect(keeps('10.1.2.3')).toBe(true);
    expect(keeps('169.254.1.1')).toBe(true);
    expect(keeps('169.254.169.254')).toBe(false);
    expect(keeps('169.254.169.255')).toBe(true);
  });

  it('folds link-local into the set: no separate link-local rule, one keep-source lookup', () => {
    expect(t.rules.map((r) => r.id)).toEqual([
      'local',
      'pod-to-pod',
      'node-pod-subnet',
      'keep-source',
      'masquerade',
    ]);
    expect(t.rules[3]?.comment).toBe(
      'ip-masq: nonMasqueradeCIDRs minus masqueradeCIDRs (longest prefix wins) are not subject to MASQUERADE',
    );
  });

  it('leaves link-local out of the keep entries with masqLinkLocal', () => {
    const p = buildPlan({ ...config, masqLinkLocal: true });
    expect(explainPacket(p, packet('169.254.1.1')).decision).toBe('masquerade');
  });

  it('changes nothing in a family without masqueradeCIDRs entries', () => {
    const v6only = makeConfig({
      enableIPv6: true,
      nonMasqueradeCIDRs: ['10.0.0.0/8', 'fd00::/8'],
      masqueradeCIDRs: [cidr('fd00:1::/32')],
    });
    const plain = makeConfig({ enableIPv6: true, nonMasqueradeCIDRs: ['10.0.0.0/8', 'fd00::/8'] });
    expect(table(buildPlan(v6only), 'ip')).toEqual(table(buildPlan(plain), 'ip'));
    expect(table(buildPlan(v6only), 'ip6').rules.map((r) => r.id)).toContain('keep-source');
  });

  it('flannel exclusions stay first and win for pod-to-pod traffic', () => {
    const p = buildPlan(
      makeConfig({ nonMasqueradeCIDRs: [], masqueradeCIDRs: [cidr('10.244.5.0/24')] }),
      facts,
    );
    expect(explainPacket(p, packet('10.244.5.9', { src: '10.244.1.2' })).rule?.id).toBe(
      'pod-to-pod',
    );
  });
});

describe('sourceCIDRs and outputInterfaces in the plan and in nft JSON', () => {
  it('renders one source as a prefix, several as an anonymous set, sorted and collapsed', () => {
    const one = table(buildPlan(makeConfig({ sourceCIDRs: [cidr('10.244.0.0/16')] })), 'ip');
    const rule = one.rules.find((r) => r.id === 'source-not-listed')!;
    expect(ruleExprs('ip', rule)[0]).toEqual({
      match: {
        op: '!=',
        left: { payload: { protocol: 'ip', field: 'saddr' } },
        right: { prefix: { addr: '10.244.0.0', len: 16 } },
      },
    });
    const many = table(
      buildPlan(
        makeConfig({
          sourceCIDRs: [cidr('10.244.0.0/16'), cidr('10.96.0.0/12'), cidr('10.244.1.0/24')],
        }),
      ),
      'ip',
    );
    const r2 = many.rules.find((r) => r.id === 'source-not-listed')!;
    expect(ruleText('ip', r2)).toBe('ip saddr != { 10.96.0.0/12, 10.244.0.0/16 } counter return');
  });

  it('renders outputInterfaces as a conjunction of oifname != (wildcards kept)', () => {
    const t = table(buildPlan(makeConfig({ outputInterfaces: ['eth*', 'ens3', 'eth*'] })), 'ip');
    const rule = t.rules.find((r) => r.id === 'interface-not-listed')!;
    expect(ruleExprs('ip', rule)).toEqual([
      { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'eth*' } },
      { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'ens3' } },
      { counter: null },
      { return: null },
    ]);
    expect(ruleText('ip', rule)).toBe('oifname != "eth*" oifname != "ens3" counter return');
  });

  it('explain: an unlisted source or interface keeps its source; unknown ones do not decide', () => {
    const p = buildPlan(
      makeConfig({
        nonMasqueradeCIDRs: [],
        sourceCIDRs: [cidr('10.244.0.0/16')],
        outputInterfaces: ['eth*'],
      }),
    );
    expect(explainPacket(p, packet('203.0.113.7', { src: '192.0.2.1' })).rule?.id).toBe(
      'source-not-listed',
    );
    expect(
      explainPacket(p, packet('203.0.113.7', { src: '10.244.1.2', oif: 'wg0' })).rule?.id,
    ).toBe('interface-not-listed');
    expect(
      explainPacket(p, packet('203.0.113.7', { src: '10.244.1.2', oif: 'eth0' })).decision,
    ).toBe('masquerade');
    expect(explainPacket(p, packet('203.0.113.7')).decision).toBe('masquerade');
  });
});

describe('snatAddress / snatAddressIPv6', () => {
  const config = makeConfig({
    enableIPv6: true,
    nonMasqueradeCIDRs: [],
    snatAddress: '192.0.2.9',
    snatAddressIPv6: '2001:db8:1::9',
    toPorts: [{ first: 20000, last: 20099 }],
  });
  const plan = buildPlan(config);

  it('replaces masquerade with snat to the address, honouring toPorts and randomFully', () => {
    const batch = JSON.stringify(planToBatch(plan));
    expect(batch).not.toContain('masquerade"');
    const v4 = table(plan, 'ip').rules;
    expect(ruleExprs('ip', v4.at(-2)!).at(-1)).toEqual({
      snat: { addr: '192.0.2.9', port: { range: [20000, 20099] }, flags: ['fully-random'] },
    });
    expect(ruleExprs('ip', v4.at(-1)!).at(-1)).toEqual({
      snat: { addr: '192.0.2.9', flags: ['fully-random'] },
    });
    expect(v4.at(-1)!.comment).toBe(
      'ip-masq: outbound traffic is subject to SNAT to 192.0.2.9 (must be last in chain)',
    );
    const v6 = table(plan, 'ip6').rules;
    expect(ruleText('ip6', v6.at(-2)!)).toBe(
      'meta l4proto { tcp, udp, sctp } counter snat to [2001:db8:1::9]:20000-20099 fully-random',
    );
    const plain = table(buildPlan({ ...config, randomFully: false, toPorts: [] }), 'ip6').rules;
    expect(ruleExprs('ip6', plain.at(-1)!).at(-1)).toEqual({ snat: { addr: '2001:db8:1::9' } });
  });

  it('explain still says masquerade, with the snat rule', () => {
    const r = explainPacket(plan, { ...packet('203.0.113.7'), protocol: 'icmp' });
    expect(r.decision).toBe('masquerade');
    expect(r.rule?.text).toBe('counter snat to 192.0.2.9 fully-random');
  });
});
