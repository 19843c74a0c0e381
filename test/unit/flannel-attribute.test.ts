/**
 * Only flannel's rules are deleted: shape-matched rules are attributed by their xt comment
 * (flannel/attribute.ts), rejected facts hold their family, and no flannel fact ever yields a
 * rule that keeps the source for every destination.
 */
import { describe, expect, it } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { defaultConfig } from '../../daemon/src/config/settings.js';
import { heldFamilies, toPlanFacts } from '../../daemon/src/reconcile/flannel-hooks.js';
import { attributeFlannelRules } from '../../daemon/src/flannel/attribute.js';
import type { Exec } from '../../daemon/src/flannel/legacy.js';
import { legacyPass } from '../../daemon/src/flannel/legacy.js';
import { findLegacyFlannelMasquerade } from '../../daemon/src/flannel/legacy-save.js';
import { findFlannelMasquerade, type ChainListing } from '../../daemon/src/flannel/match.js';
import { MIN_NETWORK_PREFIX } from '../../daemon/src/plan/pod-bounds.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import type { NftExpr, NftListing, NftRule } from '../../daemon/src/nft/types.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';

const ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n';
const facts = resolveFlannelFacts(
  { clusterCIDR: [], nodeSubnet: [] },
  { text: ENV, path: 'p' },
).facts!;

const addr = (field: 'saddr' | 'daddr', op: '==' | '!=', a: string, len: number): NftExpr => ({
  match: {
    op,
    left: { payload: { protocol: 'ip', field } },
    right: { prefix: { addr: a, len } },
  },
});
const COMMENT: NftExpr = { xt: { type: 'match', name: 'comment' } };
const MASQ: NftExpr = { xt: { type: 'target', name: 'MASQUERADE' } };
const COUNTER: NftExpr = { counter: { packets: 0, bytes: 0 } };
const outRule = (handle: number, commented: boolean): NftRule => ({
  family: 'ip',
  table: 'nat',
  chain: 'POSTROUTING',
  handle,
  expr: [
    addr('saddr', '==', '10.244.0.0', 16),
    addr('daddr', '!=', '224.0.0.0', 4),
    ...(commented ? [COMMENT] : []),
    COUNTER,
    MASQ,
  ],
});
const SAVE_LINES: Record<number, string> = {
  10: '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "admin: my own pod masquerade" -j MASQUERADE',
  11: '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
  12: '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE',
};
const rules = [outRule(10, true), outRule(11, true), outRule(12, false)];
const listing: ChainListing = { family: 'ip', table: 'nat', chain: 'POSTROUTING', rules };

/** nft that lists the chain as `relisted` (the second listing of attribute.ts). */
class ListNft extends NftClient {
  lists = 0;
  constructor(private readonly relisted: () => NftRule[]) {
    super({ argv: ['false'] });
  }
  override async list(): Promise<NftListing | null> {
    this.lists++;
    return this.relisted().map((rule) => ({ rule }));
  }
}
const save =
  (lines: string[]): Exec =>
  async (argv) => {
    // One chain's rules, as `iptables-nft -S CHAIN` prints them (no table header, no COMMIT).
    expect(argv).toEqual(['iptables-nft', '-t', 'nat', '-S', 'POSTROUTING']);
    return { status: 0, stdout: `-P POSTROUTING ACCEPT\n${lines.join('\n')}\n`, stderr: '' };
  };
const refs = () => findFlannelMasquerade([listing], facts, { enableIPv6: false });

describe('attributeFlannelRules', () => {
  it("finds all three by shape; deletes flannel's comment and none, keeps the look-alike", async () => {
    expect(refs()).toHaveLength(3);
    const a = await attributeFlannelRules(new ListNft(() => rules), [listing], refs(), {
      exec: save([10, 11, 12].map((h) => SAVE_LINES[h]!)),
    });
    expect(a.flannel.map((r) => [r.handle, r.comment, r.iptables])).toEqual([
      [11, 'flanneld masq', SAVE_LINES[11]],
      [12, null, '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE'],
    ]);
    expect(a.kept).toEqual([
      expect.objectContaining({ kind: 'lookalike', detail: 'admin: my own pod masquerade' }),
    ]);
  });

  it('a chain that changed between the two listings: commented rules kept this pass', async () => {
    const a = await attributeFlannelRules(
      new ListNft(() => [outRule(9, true), ...rules]),
      [listing],
      refs(),
      { exec: save([10, 11, 12].map((h) => SAVE_LINES[h]!)) },
    );
    expect(a.flannel.map((r) => r.handle)).toEqual([12]);
    expect(a.kept.map((k) => [k.ref.handle, k.kind])).toEqual([
      [10, 'unknown'],
      [11, 'unknown'],
    ]);
    expect(a.kept[0]?.detail).toMatch(/changed while its comments were read/);
  });

  it('a save that does not line up with nft (count) keeps them too', async () => {
    const a = await attributeFlannelRules(new ListNft(() => rules), [listing], refs(), {
      exec: save([SAVE_LINES[11]!, SAVE_LINES[12]!]),
    });
    expect(a.kept.map((k) => k.kind)).toEqual(['unknown', 'unknown']);
  });

  it('without iptables-nft: commented POSTROUTING rules kept, FLANNEL-POSTRTG still deleted', async () => {
    const postrtg: ChainListing = {
      family: 'ip',
      table: 'nat',
      chain: 'FLANNEL-POSTRTG',
      rules: [{ ...outRule(20, true), chain: 'FLANNEL-POSTRTG' }],
    };
    const all = findFlannelMasquerade([listing, postrtg], facts, { enableIPv6: false });
    const a = await attributeFlannelRules(new ListNft(() => []), [listing, postrtg], all, {
      exec: async () => ({ status: null, stdout: '', stderr: '', notFound: true }),
    });
    expect(a.flannel.map((r) => [r.handle, r.comment])).toEqual([
      [12, null],
      [20, null],
    ]);
    expect(a.kept[0]?.detail).toMatch(/iptables-nft is not installed/);
  });

  it('costs nothing when no shape-matched rule has a comment', async () => {
    const plain: ChainListing = { ...listing, rules: [outRule(12, false)] };
    const nft = new ListNft(() => []);
    const a = await attributeFlannelRules(
      nft,
      [plain],
      findFlannelMasquerade([plain], facts, { enableIPv6: false }),
      { exec: async () => Promise.reject(new Error('must not run')) },
    );
    expect(a.flannel).toHaveLength(1);
    expect(nft.lists).toBe(0);
  });
});

describe('legacy look-alikes', () => {
  it("a POSTROUTING rule of flannel's shape with another comment is not flannel's", () => {
    const text = `*nat\n${SAVE_LINES[10]}\n${SAVE_LINES[11]}\n${SAVE_LINES[12]}\nCOMMIT\n`;
    expect(findLegacyFlannelMasquerade(text, 'ip', facts).map((r) => [r.line, r.comment])).toEqual([
      [SAVE_LINES[11], 'flanneld masq'],
      [SAVE_LINES[12], null],
    ]);
  });
});

describe('rejected facts hold their family', () => {
  const implausible = resolveFlannelFacts(
    { clusterCIDR: [], nodeSubnet: [] },
    { text: 'FLANNEL_NETWORK=0.0.0.0/0\nFLANNEL_SUBNET=10.244.1.1/24\n', path: 'p' },
  ).facts;

  it('no pod-network rule, and the family is held', () => {
    expect(implausible?.ipv4).toBeUndefined();
    expect(heldFamilies(implausible)).toEqual(['ip']);
    const ids = buildPlan(defaultConfig(), toPlanFacts(implausible)).tables[0]!.rules.map(
      (r) => r.id,
    );
    expect(ids).not.toContain('pod-to-pod');
    expect(ids).not.toContain('node-pod-subnet');
  });

  it('no nft rule of a held family is matched for deletion', () => {
    expect(findFlannelMasquerade([listing], facts, { enableIPv6: false, hold: ['ip'] })).toEqual(
      [],
    );
  });

  it('no legacy rule of a held family is deleted', async () => {
    const calls: string[][] = [];
    const exec: Exec = async (argv) => {
      calls.push([...argv]);
      return { status: 0, stdout: `*nat\n${SAVE_LINES[11]}\nCOMMIT\n`, stderr: '' };
    };
    const r = await legacyPass(
      facts,
      { removeLegacy: true, enableIPv6: false, hold: ['ip'] },
      { exec, readFile: async (p) => (p.endsWith('ip_tables_names') ? 'nat\n' : '') },
    );
    expect(r.removed).toEqual([]);
    expect(calls.some((c) => c.includes('-D'))).toBe(false);
  });
});

describe('no flannel fact keeps the source for every destination', () => {
  const prefix = fc
    .tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.boolean())
    .map(([a, l, host]) => `${host ? a : a.replace(/\d+$/, '0')}/${l}`);
  fcTest.prop([prefix, prefix, fc.boolean()])(
    'every address match of every return rule is at least the documented bound',
    (net, sub, viaOverride) => {
      const text = `FLANNEL_NETWORK=${net}\nFLANNEL_SUBNET=${sub}\n`;
      const r = viaOverride
        ? resolveFlannelFacts(resolveOverrides(net, sub), null)
        : resolveFlannelFacts({ clusterCIDR: [], nodeSubnet: [] }, { text, path: 'p' });
      const plan = buildPlan({ ...defaultConfig(), nonMasqueradeCIDRs: [] }, toPlanFacts(r.facts));
      for (const rule of plan.tables.flatMap((t) => t.rules)) {
        if (rule.verdict.kind !== 'return') continue;
        for (const m of rule.match)
          if (m.kind === 'daddr' || m.kind === 'saddr')
            expect(m.cidr.len).toBeGreaterThanOrEqual(MIN_NETWORK_PREFIX[m.cidr.family]);
      }
    },
  );
});

/** The same prefixes as config overrides (exact prefixes: host bits cleared). */
function resolveOverrides(net: string, sub: string) {
  const toCidr = (t: string) => {
    const [a, l] = t.split('/') as [string, string];
    const len = Number(l);
    const n = a.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
    const mask = len === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - len)) - 1n);
    return { family: 'ipv4' as const, addr: n & mask, len };
  };
  return { clusterCIDR: [toCidr(net)], nodeSubnet: [toCidr(sub)] };
}
