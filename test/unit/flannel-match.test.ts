import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import type { NftRule } from '../../daemon/src/nft/types.js';
import {
  classifyFlannelRule,
  deleteRulesBatch,
  findFlannelMasquerade,
  flannelCandidateChains,
} from '../../daemon/src/flannel/match.js';
import { listFlannelCandidates } from '../../daemon/src/flannel/remove.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import type { FlannelFixture } from '../fixtures/flannel/scenarios.js';
import { FakeNft } from '../helpers/fake-nft.js';

const DIR = fileURLToPath(new URL('../fixtures/flannel/', import.meta.url));
const fixtures: FlannelFixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(DIR + f, 'utf8')) as FlannelFixture);
const byName = (n: string): FlannelFixture => fixtures.find((f) => f.name === n) as FlannelFixture;
const factsOf = (fx: FlannelFixture) =>
  resolveFlannelFacts(
    { clusterCIDR: [], nodeSubnet: [] },
    { text: fx.subnetEnv, path: 'subnet.env' },
  ).facts;
/** The remover's own listing path, over the captured ruleset in the fake nft. */
const listings = (fx: FlannelFixture, opts: { enableIPv6: boolean }) =>
  listFlannelCandidates(new FakeNft(fx.ruleset), opts);
const find = async (
  fx: FlannelFixture,
  opts = { enableIPv6: fx.enableIPv6 },
  facts = factsOf(fx),
) => findFlannelMasquerade(await listings(fx, opts), facts, opts);
const keys = (l: { family: string; table: string; chain: string; handle: number }[]) =>
  l.map((r) => `${r.family} ${r.table} ${r.chain} #${r.handle}`).sort();

describe('findFlannelMasquerade on captured rulesets', () => {
  it('has the fixtures of every scenario', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const fx of fixtures) {
    it(`${fx.name}: finds exactly flannel's MASQUERADE rules`, async () => {
      expect(keys(await find(fx))).toEqual(keys(fx.flannelMasquerade));
    });
  }

  it('leaves IPv6 rules alone unless enableIPv6', async () => {
    for (const name of ['current-dualstack', 'v0.16.2-dualstack', 'nftables-mode']) {
      const found = await find(byName(name), { enableIPv6: false });
      expect(found.length).toBe(2);
      expect(found.every((r) => r.family === 'ip')).toBe(true);
    }
  });

  it('without facts never touches POSTROUTING, but still finds FLANNEL-POSTRTG and nftables mode', async () => {
    expect(await find(byName('v0.10-postrouting'), undefined, null)).toEqual([]);
    expect(await find(byName('old-mixed-node'), undefined, null)).toEqual([]);
    expect(await find(byName('current-no-random'), undefined, null)).toHaveLength(2);
    expect(await find(byName('nftables-mode'), undefined, null)).toHaveLength(4);
  });

  it('a different cluster network in the facts matches nothing in POSTROUTING', async () => {
    const other = resolveFlannelFacts(
      { clusterCIDR: [], nodeSubnet: [] },
      { text: 'FLANNEL_NETWORK=10.245.0.0/16\nFLANNEL_SUBNET=10.245.1.1/24\n', path: 'p' },
    ).facts;
    expect(await find(byName('v0.12-random-fully'), undefined, other)).toEqual([]);
  });

  it('labels the era and renders iptables-save / nft syntax for the audit log', async () => {
    const cur = await find(byName('current-no-random'));
    expect(cur.map((r) => [r.era, r.iptables])).toEqual([
      ['flannel-postrtg', '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE'],
      ['flannel-postrtg', '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE'],
    ]);
    const v16 = await find(byName('v0.16.2-dualstack'));
    expect(v16.map((r) => [r.era, r.iptables])).toEqual([
      ['postrouting', '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE'],
      ['postrouting', '-A POSTROUTING ! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE'],
      ['postrouting', '-A POSTROUTING -s fd00:10:244::/56 ! -d ff00::/8 -j MASQUERADE'],
      ['postrouting', '-A POSTROUTING ! -s fd00:10:244::/56 -d fd00:10:244::/56 -j MASQUERADE'],
    ]);
    const nftMode = await find(byName('nftables-mode'));
    expect(nftMode[0]).toMatchObject({
      era: 'nftables',
      iptables:
        'add rule ip flannel-ipv4 postrtg ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random',
    });
  });

  it('never matches a rule listed under another chain than its own', async () => {
    const fx = byName('current-no-random');
    const moved = (await listings(fx, { enableIPv6: false })).map((l) => ({
      ...l,
      rules: l.rules.map((r) => ({ ...r, chain: 'KUBE-POSTROUTING' })),
    }));
    expect(findFlannelMasquerade(moved, factsOf(fx), { enableIPv6: false })).toEqual([]);
  });
});

describe('flannelCandidateChains / deleteRulesBatch', () => {
  it('lists IPv6 chains only with enableIPv6', () => {
    expect(flannelCandidateChains({ enableIPv6: false })).toEqual([
      ['ip', 'nat', 'POSTROUTING'],
      ['ip', 'nat', 'FLANNEL-POSTRTG'],
      ['ip', 'flannel-ipv4', 'postrtg'],
    ]);
    expect(flannelCandidateChains({ enableIPv6: true })).toHaveLength(6);
    expect(flannelCandidateChains({ enableIPv6: true }).slice(3)).toEqual([
      ['ip6', 'nat', 'POSTROUTING'],
      ['ip6', 'nat', 'FLANNEL-POSTRTG'],
      ['ip6', 'flannel-ipv6', 'postrtg'],
    ]);
  });

  it('deletes by handle in one batch', async () => {
    const refs = await find(byName('current-dualstack'));
    expect(deleteRulesBatch(refs)).toEqual({
      nftables: [
        { delete: { rule: { family: 'ip', table: 'nat', chain: 'FLANNEL-POSTRTG', handle: 8 } } },
        { delete: { rule: { family: 'ip', table: 'nat', chain: 'FLANNEL-POSTRTG', handle: 9 } } },
        { delete: { rule: { family: 'ip6', table: 'nat', chain: 'FLANNEL-POSTRTG', handle: 8 } } },
        { delete: { rule: { family: 'ip6', table: 'nat', chain: 'FLANNEL-POSTRTG', handle: 9 } } },
      ],
    });
    expect(deleteRulesBatch([])).toEqual({ nftables: [] });
  });
});

describe('POSTROUTING shape is exact', () => {
  const facts = factsOf(byName('v0.10-postrouting'));
  const p = (field: string, op: string, addr: string, len: number) => ({
    match: { op, left: { payload: { protocol: 'ip', field } }, right: { prefix: { addr, len } } },
  });
  const masqRule = (expr: Record<string, unknown>[]): NftRule => ({
    family: 'ip',
    table: 'nat',
    chain: 'POSTROUTING',
    handle: 3,
    expr,
  });
  const base: Record<string, unknown>[] = [
    p('saddr', '==', '10.244.0.0', 16),
    p('daddr', '!=', '224.0.0.0', 4),
    { counter: { packets: 0, bytes: 0 } },
    { xt: { type: 'target', name: 'MASQUERADE' } },
  ];

  it('matches the bare shape, with or without comment', () => {
    expect(classifyFlannelRule('ip', 'nat', 'POSTROUTING', masqRule(base), facts)).toBe(
      'postrouting',
    );
    expect(
      classifyFlannelRule(
        'ip',
        'nat',
        'POSTROUTING',
        masqRule([
          ...base.slice(0, 2),
          { xt: { type: 'match', name: 'comment' } },
          ...base.slice(2),
        ]),
        facts,
      ),
    ).toBe('postrouting');
  });

  const extra = fc.oneof(
    fc.constant({ match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'docker0' } }),
    fc.constant({ xt: { type: 'match', name: 'addrtype' } }),
    fc.constant({ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } }),
    fc.record({
      match: fc.record({
        op: fc.constantFrom('==', '!='),
        left: fc.constant({ payload: { protocol: 'ip', field: 'saddr' } }),
        right: fc.ipV4(),
      }),
    }),
    fc.constant({
      match: { op: '==', left: { '&': [{ meta: { key: 'mark' } }, 16384] }, right: 16384 },
    }),
  );
  fcTest.prop([extra, fc.nat({ max: 3 })])(
    'any extra match anywhere makes it not flannel’s',
    (e, at) => {
      const expr = [...base];
      expr.splice(Math.min(at, 3), 0, e as Record<string, unknown>);
      expect(classifyFlannelRule('ip', 'nat', 'POSTROUTING', masqRule(expr), facts)).toBeNull();
    },
  );

  fcTest.prop([fc.integer({ min: 0, max: 32 }), fc.ipV4()])(
    'another source prefix is not flannel’s',
    (len, addr) => {
      fc.pre(!(addr === '10.244.0.0' && len === 16));
      const expr = [p('saddr', '==', addr, len), ...base.slice(1)];
      expect(classifyFlannelRule('ip', 'nat', 'POSTROUTING', masqRule(expr), facts)).toBeNull();
    },
  );

  it('RETURN or a native masquerade in POSTROUTING is never matched', () => {
    expect(
      classifyFlannelRule(
        'ip',
        'nat',
        'POSTROUTING',
        masqRule([...base.slice(0, 3), { return: null }]),
        facts,
      ),
    ).toBeNull();
    expect(
      classifyFlannelRule(
        'ip',
        'nat',
        'POSTROUTING',
        masqRule([...base.slice(0, 3), { masquerade: null }]),
        facts,
      ),
    ).toBeNull();
  });
});
