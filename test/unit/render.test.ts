import { describe, expect, it } from 'vitest';
import { planToBatch, cleanupBatch } from '../../daemon/src/nft/to-nft.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { cidr, makeConfig } from '../helpers/config.js';

const replaceIp = [
  { add: { table: { family: 'ip', name: 'ip-masq' } } },
  { delete: { table: { family: 'ip', name: 'ip-masq' } } },
  { add: { table: { family: 'ip6', name: 'ip-masq' } } },
  { delete: { table: { family: 'ip6', name: 'ip-masq' } } },
];
const daddr = { payload: { protocol: 'ip', field: 'daddr' } };

describe('planToBatch (golden)', () => {
  it('renders ip-masq-agent defaults as one atomic replace of table ip ip-masq', () => {
    expect(planToBatch(buildPlan(makeConfig()))).toEqual({
      nftables: [
        { metainfo: { json_schema_version: 1 } },
        ...replaceIp,
        { add: { table: { family: 'ip', name: 'ip-masq' } } },
        {
          add: {
            set: {
              family: 'ip',
              table: 'ip-masq',
              name: 'nomasq',
              type: 'ipv4_addr',
              flags: ['interval'],
              elem: [
                { prefix: { addr: '10.0.0.0', len: 8 } },
                { prefix: { addr: '172.16.0.0', len: 12 } },
                { prefix: { addr: '192.168.0.0', len: 16 } },
              ],
            },
          },
        },
        {
          add: {
            chain: {
              family: 'ip',
              table: 'ip-masq',
              name: 'postrouting',
              type: 'nat',
              hook: 'postrouting',
              prio: 110,
              policy: 'accept',
            },
          },
        },
        {
          add: {
            rule: {
              family: 'ip',
              table: 'ip-masq',
              chain: 'postrouting',
              comment: 'ip-masq: destination is local to this node',
              expr: [
                {
                  match: {
                    op: '==',
                    left: { fib: { result: 'type', flags: ['daddr'] } },
                    right: 'local',
                  },
                },
                { counter: null },
                { return: null },
              ],
            },
          },
        },
        {
          add: {
            rule: {
              family: 'ip',
              table: 'ip-masq',
              chain: 'postrouting',
              comment: 'ip-masq: link-local is not subject to MASQUERADE',
              expr: [
                {
                  match: {
                    op: '==',
                    left: daddr,
                    right: { prefix: { addr: '169.254.0.0', len: 16 } },
                  },
                },
                { counter: null },
                { return: null },
              ],
            },
          },
        },
        {
          add: {
            rule: {
              family: 'ip',
              table: 'ip-masq',
              chain: 'postrouting',
              comment: 'ip-masq: nonMasqueradeCIDRs are not subject to MASQUERADE',
              expr: [
                { match: { op: '==', left: daddr, right: '@nomasq' } },
                { counter: null },
                { return: null },
              ],
            },
          },
        },
        {
          add: {
            rule: {
              family: 'ip',
              table: 'ip-masq',
              chain: 'postrouting',
              comment: 'ip-masq: outbound traffic is subject to MASQUERADE (must be last in chain)',
              expr: [{ counter: null }, { masquerade: { flags: ['fully-random'] } }],
            },
          },
        },
      ],
    });
  });

  it('collapses overlapping CIDRs before they reach the set (nft 1.0.6 has no JSON auto-merge)', () => {
    const batch = planToBatch(
      buildPlan(
        makeConfig({
          nonMasqueradeCIDRs: ['10.1.0.0/16', '10.0.0.0/8', '10.0.0.0/8', '11.0.0.0/8'],
        }),
      ),
    );
    const set = batch.nftables.find((c) => 'add' in c && 'set' in c.add) as {
      add: { set: { elem: unknown[] } };
    };
    expect(set.add.set.elem).toEqual([{ prefix: { addr: '10.0.0.0', len: 7 } }]);
  });

  it('masquerades without fully-random when randomFully is false, and masquerades link-local when asked', () => {
    const plan = buildPlan(makeConfig({ randomFully: false, masqLinkLocal: true }));
    expect(plan.tables[0]?.rules.map((r) => r.id)).toEqual([
      'local',
      'non-masquerade',
      'masquerade',
    ]);
    const rules = planToBatch(plan).nftables.filter((c) => 'add' in c && 'rule' in c.add) as {
      add: { rule: { expr: unknown[] } };
    }[];
    expect(rules.at(-1)?.add.rule.expr).toEqual([{ counter: null }, { masquerade: null }]);
  });

  it('leaves out the set rule (but keeps the empty set) when nonMasqueradeCIDRs is empty', () => {
    const plan = buildPlan(makeConfig({ nonMasqueradeCIDRs: [] }));
    expect(plan.tables[0]?.rules.map((r) => r.id)).toEqual(['local', 'link-local', 'masquerade']);
    const set = planToBatch(plan).nftables.find((c) => 'add' in c && 'set' in c.add) as unknown as {
      add: { set: Record<string, unknown> };
    };
    expect(set.add.set.elem).toBeUndefined();
  });

  it('adds flannel pod-network exclusions before the masquerade, per family', () => {
    const plan = buildPlan(makeConfig({ nonMasqueradeCIDRs: ['192.168.0.0/16'] }), {
      podNetwork: { ipv4: { network: cidr('10.244.0.0/16'), subnet: cidr('10.244.1.0/24') } },
    });
    const ip = plan.tables[0];
    expect(ip?.rules.map((r) => r.id)).toEqual([
      'local',
      'pod-to-pod',
      'node-pod-subnet',
      'link-local',
      'non-masquerade',
      'masquerade',
    ]);
    const rules = planToBatch(plan).nftables.filter((c) => 'add' in c && 'rule' in c.add) as {
      add: { rule: { expr: unknown[] } };
    }[];
    expect(rules[1]?.add.rule.expr).toEqual([
      {
        match: {
          op: '==',
          left: { payload: { protocol: 'ip', field: 'saddr' } },
          right: { prefix: { addr: '10.244.0.0', len: 16 } },
        },
      },
      { match: { op: '==', left: daddr, right: { prefix: { addr: '10.244.0.0', len: 16 } } } },
      { counter: null },
      { return: null },
    ]);
  });

  it('renders an ip6 table only with enableIPv6, with fe80::/10 unless masqLinkLocalIPv6', () => {
    const v4only = buildPlan(makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8'] }));
    expect(v4only.tables.map((t) => t.family)).toEqual(['ip']);
    expect(v4only.absent).toEqual(['ip6']);

    const dual = buildPlan(
      makeConfig({ enableIPv6: true, nonMasqueradeCIDRs: ['10.0.0.0/8', 'fd00::/8'] }),
    );
    expect(dual.tables.map((t) => t.family)).toEqual(['ip', 'ip6']);
    const batch = JSON.stringify(planToBatch(dual));
    expect(batch).toContain('{"prefix":{"addr":"fe80::","len":10}}');
    expect(batch).toContain('{"prefix":{"addr":"fd00::","len":8}}');
    expect(batch).toContain('"type":"ipv6_addr"');

    const noLL6 = buildPlan(
      makeConfig({ enableIPv6: true, masqLinkLocalIPv6: true, nonMasqueradeCIDRs: [] }),
    );
    expect(noLL6.tables[1]?.rules.map((r) => r.id)).toEqual(['local', 'masquerade']);
  });

  it('every rule has a counter and an ip-masq comment that fits nft’s 128-byte limit', () => {
    const plan = buildPlan(makeConfig({ enableIPv6: true, nonMasqueradeCIDRs: ['10.0.0.0/8'] }), {
      podNetwork: { ipv4: { network: cidr('10.244.0.0/16'), subnet: cidr('10.244.1.0/24') } },
    });
    for (const c of planToBatch(plan).nftables) {
      if (!('add' in c) || !('rule' in c.add)) continue;
      expect(c.add.rule.comment).toMatch(/^ip-masq: /);
      expect(Buffer.byteLength(c.add.rule.comment ?? '')).toBeLessThanOrEqual(128);
      expect(c.add.rule.expr).toContainEqual({ counter: null });
    }
  });

  it('cleanup deletes both families with add+delete (no `destroy` on nft 1.0.6)', () => {
    expect(cleanupBatch()).toEqual({
      nftables: [{ metainfo: { json_schema_version: 1 } }, ...replaceIp],
    });
  });
});
