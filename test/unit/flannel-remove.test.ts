import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NftError } from '../../daemon/src/errors.js';
import { removeFlannelMasquerade, listFlannelCandidates } from '../../daemon/src/flannel/remove.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import type { FlannelFixture } from '../fixtures/flannel/scenarios.js';
import { FakeNft } from '../helpers/fake-nft.js';

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

/** Makes the next `n` batches fail as nft does when a handle vanished (nothing applied). */
function failApplies(nft: FakeNft, n: number): void {
  let left = n;
  nft.beforeApply = () => {
    if (left-- > 0) throw enoent(['nft']);
  };
}

const fake = () => new FakeNft(fx.ruleset);
const lists = (nft: FakeNft) => nft.calls.filter((c) => c[0] === 'list').map((c) => c.slice(1));

describe('removeFlannelMasquerade (fake nft)', () => {
  it('lists only the candidate chains, deletes in one batch, and skips missing chains', async () => {
    const nft = fake();
    const deleted = await removeFlannelMasquerade(nft, facts, { enableIPv6: true });
    expect(deleted).toHaveLength(4);
    expect(nft.batches).toHaveLength(1);
    expect(lists(nft).every((w) => w[0] === 'chain')).toBe(true);
    expect(lists(nft)).toHaveLength(6);
    const listed = await listFlannelCandidates(nft, { enableIPv6: true });
    expect(listed.map((l) => `${l.family} ${l.table} ${l.chain}`)).toEqual([
      'ip nat POSTROUTING',
      'ip nat FLANNEL-POSTRTG',
      'ip6 nat POSTROUTING',
      'ip6 nat FLANNEL-POSTRTG',
    ]);
  });

  it('deletes exactly the matched rules by handle; every other rule keeps its handle', async () => {
    const nft = fake();
    const chains = [
      ['ip', 'nat', 'POSTROUTING'],
      ['ip', 'nat', 'FLANNEL-POSTRTG'],
      ['ip6', 'nat', 'POSTROUTING'],
      ['ip6', 'nat', 'FLANNEL-POSTRTG'],
    ] as const;
    const before = chains.map(([f, t, c]) => nft.handles(f, t, c));
    const deleted = await removeFlannelMasquerade(nft, facts, { enableIPv6: true });
    const batch = nft.batches[0]?.nftables ?? [];
    expect(batch.every((c) => 'delete' in c && 'rule' in c.delete)).toBe(true);
    chains.forEach(([f, t, c], i) => {
      const gone = deleted.filter((d) => d.family === f && d.table === t && d.chain === c);
      expect(nft.handles(f, t, c)).toEqual(
        (before[i] ?? []).filter((h) => !gone.some((d) => d.handle === h)),
      );
    });
    // A second pass finds nothing left and writes nothing.
    expect(await removeFlannelMasquerade(nft, facts, { enableIPv6: true })).toEqual([]);
    expect(nft.batches).toHaveLength(1);
  });

  it("with IPv6 off, flannel's ip6 rules stay", async () => {
    const nft = fake();
    const ip6Before = nft.handles('ip6', 'nat', 'FLANNEL-POSTRTG');
    const deleted = await removeFlannelMasquerade(nft, facts, { enableIPv6: false });
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.every((d) => d.family === 'ip')).toBe(true);
    expect(nft.handles('ip6', 'nat', 'FLANNEL-POSTRTG')).toEqual(ip6Before);
  });

  it('no batch at all when nothing matches', async () => {
    const nft = new FakeNft();
    expect(await removeFlannelMasquerade(nft, facts, { enableIPv6: true })).toEqual([]);
    expect(nft.batches).toEqual([]);
  });

  it('re-lists and retries once when a handle vanished (ENOENT), then gives up', async () => {
    const nft = fake();
    failApplies(nft, 1);
    expect(await removeFlannelMasquerade(nft, facts, { enableIPv6: true })).toHaveLength(4);
    expect(nft.batches).toHaveLength(2);

    const stubborn = fake();
    failApplies(stubborn, 2);
    await expect(removeFlannelMasquerade(stubborn, facts, { enableIPv6: true })).rejects.toThrow(
      NftError,
    );
    expect(stubborn.batches).toHaveLength(2);
  });

  it('does not retry other nft failures', async () => {
    const nft = fake();
    nft.beforeApply = () => {
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
