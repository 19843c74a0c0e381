/**
 * reconcile against the in-memory nft (test/helpers/fake-nft.ts): compare, apply, verify, the
 * memo and the flannel pass, without root. test/integration/reconcile.test.ts runs the same
 * code against the kernel for what only the kernel can show.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../daemon/src/config/schema.js';
import { IpMasqError, NftError } from '../../daemon/src/errors.js';
import { formatCidr } from '../../daemon/src/net/cidr.js';
import { flannelHooks } from '../../daemon/src/reconcile/flannel-hooks.js';
import { readLiveTables } from '../../daemon/src/reconcile/live-tables.js';
import { cleanup, reconcile, type ReconcileMemo } from '../../daemon/src/reconcile/reconcile.js';
import type { FlannelFixture } from '../fixtures/flannel/scenarios.js';
import { makeConfig } from '../helpers/config.js';
import { FakeNft } from '../helpers/fake-nft.js';

const ourRules = (nft: FakeNft, family = 'ip') => nft.handles(family, 'ip-masq', 'postrouting');
const writes = (nft: FakeNft) => nft.calls.filter((c) => c[0] === 'apply').length;
const reads = (nft: FakeNft) => nft.calls.filter((c) => c[0] === 'list').length;

/** Deletes one of our rules behind reconcile's back, as `nft delete rule` would. */
async function deleteOurRule(nft: FakeNft, handle: number): Promise<void> {
  await nft.applyBatch({
    nftables: [
      { delete: { rule: { family: 'ip', table: 'ip-masq', chain: 'postrouting', handle } } },
    ],
  });
}

describe('reconcile (fake nft)', () => {
  it('change: creates both parts of the table in one transaction and verifies them', async () => {
    const nft = new FakeNft();
    const r = await reconcile({ client: nft }, makeConfig());
    expect(r).toMatchObject({
      changed: true,
      reason: 'table ip ip-masq is missing',
      transactions: 1,
      cidrsAdded: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
      cidrsRemoved: [],
      flannelDeleted: [],
    });
    expect(writes(nft)).toBe(1);
    const live = await readLiveTables(nft);
    expect(live.ip?.set).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
    expect(live.ip?.rules.map((x) => x.comment)).toEqual(
      r.plan.tables[0]?.rules.map((x) => x.comment),
    );
    expect(live.ip6).toBeNull();
  });

  it('no-op: a second pass with the same config only reads', async () => {
    const nft = new FakeNft();
    await reconcile({ client: nft }, makeConfig());
    const before = nft.ruleset();
    nft.calls.length = 0;
    const r = await reconcile({ client: nft }, makeConfig());
    expect(r).toMatchObject({ changed: false, reason: null, transactions: 0 });
    expect(writes(nft)).toBe(0);
    expect(reads(nft)).toBe(2); // ip and ip6
    expect(nft.ruleset()).toEqual(before);
  });

  it('a new config replaces the table and reports the CIDR difference', async () => {
    const nft = new FakeNft();
    await reconcile({ client: nft }, makeConfig());
    const r = await reconcile(
      { client: nft },
      makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'], enableIPv6: true }),
    );
    expect(r.changed).toBe(true);
    expect(r.cidrsAdded).toEqual(['198.51.100.0/24']);
    expect(r.cidrsRemoved).toEqual(['172.16.0.0/12', '192.168.0.0/16']);
    const live = await readLiveTables(nft);
    expect(live.ip?.set).toEqual(['10.0.0.0/8', '198.51.100.0/24']);
    expect(live.ip6).not.toBeNull();
    // IPv6 off again: the ip6 table goes in the same transaction.
    await reconcile({ client: nft }, makeConfig());
    expect((await readLiveTables(nft)).ip6).toBeNull();
  });

  it('drift: a rule deleted behind our back is found by the next pass and restored', async () => {
    const nft = new FakeNft();
    await reconcile({ client: nft }, makeConfig());
    const handles = ourRules(nft);
    await deleteOurRule(nft, handles[handles.length - 1] as number);
    const r = await reconcile({ client: nft }, makeConfig());
    expect(r.changed).toBe(true);
    expect(r.reason).toBe(
      `table ip ip-masq: chain postrouting has ${handles.length - 1} rules, expected ${handles.length}`,
    );
    expect(r.cidrsAdded).toEqual([]);
    expect(ourRules(nft)).toHaveLength(handles.length);
    expect((await reconcile({ client: nft }, makeConfig())).changed).toBe(false);
  });

  it('drift: an object someone added to our table is named, and replaced away', async () => {
    const nft = new FakeNft();
    await reconcile({ client: nft }, makeConfig());
    await nft.applyBatch({
      nftables: [{ add: { chain: { family: 'ip', table: 'ip-masq', name: 'sneaky' } } }],
    });
    const r = await reconcile({ client: nft }, makeConfig());
    expect(r.reason).toBe('table ip ip-masq holds objects we did not create (chain sneaky)');
    expect(nft.ruleset().some((o) => 'chain' in o && o.chain.name === 'sneaky')).toBe(false);
  });

  it('verify failure: nft "succeeds" but the kernel holds something else → VERIFY_FAILED', async () => {
    const nft = new FakeNft();
    // nft 1.0.6 ignoring part of its input and exiting 0, e.g. a nat flag it did not take.
    nft.afterApply = (fake) => {
      fake.afterApply = null;
      const last = ourRules(fake).at(-1) as number;
      void deleteOurRule(fake, last);
    };
    const memo: ReconcileMemo = {};
    const err = await reconcile({ client: nft, memo }, makeConfig()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpMasqError);
    expect((err as IpMasqError).code).toBe('VERIFY_FAILED');
    expect((err as Error).message).toMatch(/kernel holds something else: .*rules, expected/);
    // Nothing is remembered from a failed pass: the next one looks at the kernel and heals.
    expect(memo.verified).toBeUndefined();
    const healed = await reconcile({ client: nft, memo }, makeConfig());
    expect(healed.changed).toBe(true);
    expect(memo.verified?.ip).not.toBeNull();
  });

  it('a batch nft rejects changes nothing (atomic) and the error reaches the caller', async () => {
    const nft = new FakeNft();
    await reconcile({ client: nft }, makeConfig());
    const before = nft.ruleset();
    nft.beforeApply = () => {
      throw new NftError('NFT_PERMISSION', 'nft: permission denied', {
        argv: ['nft'],
        exitStatus: 1,
        stderr: 'Operation not permitted',
      });
    };
    await expect(
      reconcile({ client: nft }, makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8'] })),
    ).rejects.toMatchObject({ code: 'NFT_PERMISSION' });
    expect(nft.ruleset()).toEqual(before);
  });

  it('the memo: a changed plan skips the read before its write; an unchanged one reads (drift check)', async () => {
    const nft = new FakeNft();
    const memo: ReconcileMemo = {};
    await reconcile({ client: nft, memo }, makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8'] }));
    expect(reads(nft)).toBe(4); // before + verify, ip and ip6

    nft.calls.length = 0;
    const wider = makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'] });
    const changed = await reconcile({ client: nft, memo }, wider);
    expect(changed).toMatchObject({ changed: true, cidrsAdded: ['198.51.100.0/24'] });
    expect(reads(nft)).toBe(2); // only the verify

    nft.calls.length = 0;
    await deleteOurRule(nft, ourRules(nft)[0] as number);
    const healed = await reconcile({ client: nft, memo }, wider);
    expect(healed.reason).toMatch(/rules, expected/);
    expect(reads(nft)).toBe(4);
  });

  it('cleanup deletes both tables and is idempotent', async () => {
    const nft = new FakeNft([{ table: { family: 'ip', name: 'someone-else', handle: 1 } }]);
    await reconcile({ client: nft }, makeConfig({ enableIPv6: true }));
    expect(await cleanup(nft)).toBe(true);
    expect(await cleanup(nft)).toBe(false);
    expect(nft.ruleset()).toEqual([{ table: { family: 'ip', name: 'someone-else', handle: 1 } }]);
  });
});

describe('reconcile with the flannel pass (fake nft)', () => {
  const fx = JSON.parse(
    readFileSync(
      fileURLToPath(new URL('../fixtures/flannel/current-dualstack.json', import.meta.url)),
      'utf8',
    ),
  ) as FlannelFixture;
  // subnet.env from the fixture; no iptables-legacy tables (no processes run).
  const hooks = flannelHooks({
    readFile: async () => fx.subnetEnv,
    legacy: { readFile: async () => '' },
  });
  const config = (over: Partial<Config> = {}) => makeConfig({ enableIPv6: true, ...over });
  const flannelHandles = (nft: FakeNft) => ({
    ip: nft.handles('ip', 'nat', 'FLANNEL-POSTRTG'),
    ip6: nft.handles('ip6', 'nat', 'FLANNEL-POSTRTG'),
  });

  it('deletes flannel MASQUERADE rules by handle after our table is verified, once', async () => {
    const nft = new FakeNft(fx.ruleset);
    const before = flannelHandles(nft);
    const r = await reconcile({ client: nft, flannel: hooks }, config());
    expect(r.transactions).toBe(2);
    expect(r.flannelDeleted.map((d) => `${d.family} ${d.chain} ${d.handle}`)).toEqual(
      fx.flannelMasquerade.map((m) => `${m.family} ${m.chain} ${m.handle}`),
    );
    // Our table was written first, the deletes came after, in their own transaction.
    const [ours, theirs] = nft.batches;
    expect(ours?.nftables.some((c) => 'add' in c && 'table' in c.add)).toBe(true);
    expect(theirs?.nftables.every((c) => 'delete' in c && 'rule' in c.delete)).toBe(true);
    for (const family of ['ip', 'ip6'] as const) {
      const gone = r.flannelDeleted.filter((d) => d.family === family).map((d) => d.handle);
      expect(nft.handles(family, 'nat', 'FLANNEL-POSTRTG')).toEqual(
        before[family].filter((h) => !gone.includes(h)),
      );
    }
    // The plan excluded the pod network learnt from subnet.env.
    const podMatches = r.plan.tables.flatMap((t) =>
      t.rules.flatMap((x) => x.match.flatMap((m) => ('cidr' in m ? [formatCidr(m.cidr)] : []))),
    );
    expect(podMatches).toEqual(expect.arrayContaining(['10.244.0.0/16', 'fd00:10:244::/56']));
    const again = await reconcile({ client: nft, flannel: hooks }, config());
    expect(again).toMatchObject({ changed: false, flannelDeleted: [], transactions: 0 });
  });

  it('leaves flannel alone when removeMasquerade is off, or when our table failed to verify', async () => {
    const off = new FakeNft(fx.ruleset);
    const before = flannelHandles(off);
    const kept = await reconcile(
      { client: off, flannel: hooks },
      config({ flannel: { ...makeConfig().flannel, removeMasquerade: false } }),
    );
    expect(kept.flannelDeleted).toEqual([]);
    expect(flannelHandles(off)).toEqual(before);

    const broken = new FakeNft(fx.ruleset);
    broken.afterApply = (fake) => {
      fake.afterApply = null;
      void deleteOurRule(fake, ourRules(fake)[0] as number);
    };
    await expect(reconcile({ client: broken, flannel: hooks }, config())).rejects.toMatchObject({
      code: 'VERIFY_FAILED',
    });
    expect(flannelHandles(broken)).toEqual(before);
  });
});
