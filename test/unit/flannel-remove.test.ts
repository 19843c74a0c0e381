import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NftError } from '../../daemon/src/errors.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import type { NftBatch, NftListing } from '../../daemon/src/nft/types.js';
import { removeFlannelMasquerade, listFlannelCandidates } from '../../daemon/src/flannel/remove.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import type { FlannelFixture } from '../fixtures/flannel/scenarios.js';

const fx = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../fixtures/flannel/current-dualstack.json', import.meta.url)),
    'utf8',
  ),
) as FlannelFixture;
const facts = resolveFlannelFacts(
  { clusterCIDR: [], nodeSubnet: [] },
  { text: fx.subnetEnv, path: 'p' },
).facts;
const enoent = (argv: string[]) =>
  new NftError('NFT_FAILED', 'x', {
    argv,
    exitStatus: 1,
    stderr: 'Error: Could not process rule: No such file or directory',
  });

/** An NftClient over an in-memory ruleset: `list chain` filters it, batches delete from it. */
class FakeNft extends NftClient {
  ruleset: NftListing;
  batches: NftBatch[] = [];
  lists: string[][] = [];
  failNextApply = 0;
  constructor(ruleset: NftListing) {
    super({ argv: ['false'] });
    this.ruleset = ruleset;
  }
  override async list(what: readonly string[]): Promise<NftListing | null> {
    this.lists.push([...what]);
    const [, family, table, chain] = what;
    const exists = this.ruleset.some(
      (o) =>
        'chain' in o &&
        o.chain.family === family &&
        o.chain.table === table &&
        o.chain.name === chain,
    );
    if (!exists) return null;
    return this.ruleset.filter(
      (o) =>
        ('chain' in o &&
          o.chain.name === chain &&
          o.chain.table === table &&
          o.chain.family === family) ||
        ('rule' in o &&
          o.rule.chain === chain &&
          o.rule.table === table &&
          o.rule.family === family),
    );
  }
  override async applyBatch(batch: NftBatch): Promise<void> {
    this.batches.push(batch);
    if (this.failNextApply > 0) {
      this.failNextApply--;
      throw enoent(['nft']);
    }
    for (const c of batch.nftables) {
      if (!('delete' in c) || !('rule' in c.delete)) throw new Error('only deletes expected');
      const d = c.delete.rule;
      const i = this.ruleset.findIndex(
        (o) =>
          'rule' in o &&
          o.rule.family === d.family &&
          o.rule.table === d.table &&
          o.rule.handle === d.handle,
      );
      if (i < 0) throw enoent(['nft']);
      this.ruleset.splice(i, 1);
    }
  }
}

describe('removeFlannelMasquerade (fake nft)', () => {
  it('lists only the candidate chains, deletes in one batch, and skips missing chains', async () => {
    const nft = new FakeNft(structuredClone(fx.ruleset) as unknown as NftListing);
    const deleted = await removeFlannelMasquerade(nft, facts, { enableIPv6: true });
    expect(deleted).toHaveLength(4);
    expect(nft.batches).toHaveLength(1);
    expect(nft.lists.every((w) => w[0] === 'chain')).toBe(true);
    expect(nft.lists).toHaveLength(6);
    const listed = await listFlannelCandidates(nft, { enableIPv6: true });
    expect(listed.map((l) => `${l.family} ${l.table} ${l.chain}`)).toEqual([
      'ip nat POSTROUTING',
      'ip nat FLANNEL-POSTRTG',
      'ip6 nat POSTROUTING',
      'ip6 nat FLANNEL-POSTRTG',
    ]);
  });

  it('no batch at all when nothing matches', async () => {
    const nft = new FakeNft([]);
    expect(await removeFlannelMasquerade(nft, facts, { enableIPv6: true })).toEqual([]);
    expect(nft.batches).toEqual([]);
  });

  it('re-lists and retries once when a handle vanished (ENOENT), then gives up', async () => {
    const nft = new FakeNft(structuredClone(fx.ruleset) as unknown as NftListing);
    nft.failNextApply = 1;
    expect(await removeFlannelMasquerade(nft, facts, { enableIPv6: true })).toHaveLength(4);
    expect(nft.batches).toHaveLength(2);

    const stubborn = new FakeNft(structuredClone(fx.ruleset) as unknown as NftListing);
    stubborn.failNextApply = 2;
    await expect(removeFlannelMasquerade(stubborn, facts, { enableIPv6: true })).rejects.toThrow(
      NftError,
    );
    expect(stubborn.batches).toHaveLength(2);
  });

  it('does not retry other nft failures', async () => {
    const nft = new FakeNft(structuredClone(fx.ruleset) as unknown as NftListing);
    nft.applyBatch = async (b) => {
      nft.batches.push(b);
      throw new NftError('NFT_PERMISSION', 'denied', {
        argv: [],
        exitStatus: 1,
        stderr: 'Operation not permitted',
      });
    };
    await expect(removeFlannelMasquerade(nft, facts, { enableIPv6: true })).rejects.toMatchObject({
      code: 'NFT_PERMISSION',
    });
    expect(nft.batches).toHaveLength(1);
  });
});
