import { describe, expect, it } from 'vitest';
import { FlannelChainPoll, type ChainRef } from '../../daemon/src/daemon/flannel-poll.js';
import type { NftExpr, NftListing, NftRule } from '../../daemon/src/nft/types.js';

const XT_MASQ: NftExpr = { xt: { type: 'target', name: 'MASQUERADE' } };
const SADDR: NftExpr = {
  match: {
    op: '==',
    left: { payload: { protocol: 'ip', field: 'saddr' } },
    right: { prefix: { addr: '10.244.0.0', len: 16 } },
  },
};
const COUNTER: NftExpr = { counter: { packets: 0, bytes: 0 } };

const POSTRTG: ChainRef = { family: 'ip', table: 'nat', chain: 'FLANNEL-POSTRTG' };
const NFT_MODE: ChainRef = { family: 'ip', table: 'flannel-ipv4', chain: 'postrtg' };

/** An iptables-nft rule of `ref` with `handle`. */
function rule(ref: ChainRef, handle: number, expr: NftExpr[]): { rule: NftRule } {
  return {
    rule: {
      family: ref.family as NftRule['family'],
      table: ref.table,
      chain: ref.chain,
      handle,
      expr,
    },
  };
}
const masq = (handle: number) => rule(POSTRTG, handle, [SADDR, COUNTER, XT_MASQ]);
const ret = (handle: number) => rule(POSTRTG, handle, [COUNTER, { return: null }]);
const nativeMasq = (handle: number) =>
  rule(NFT_MODE, handle, [SADDR, { masquerade: { flags: 'fully-random' } }]);

/** A stub `list` answering from a mutable map keyed by `family table chain`. */
function stub(): {
  list: (what: readonly string[]) => Promise<NftListing | null>;
  set: (ref: ChainRef, listing: NftListing | null) => void;
  calls: string[];
} {
  const chains = new Map<string, NftListing | null>();
  const calls: string[] = [];
  return {
    list: async (what) => {
      calls.push(what.join(' '));
      expect(what[0]).toBe('chain');
      return chains.get(what.slice(1).join(' ')) ?? null;
    },
    set: (ref, listing) => chains.set(`${ref.family} ${ref.table} ${ref.chain}`, listing),
    calls,
  };
}

function setup(): { nft: ReturnType<typeof stub>; poll: FlannelChainPoll; readds: ChainRef[] } {
  const nft = stub();
  const readds: ChainRef[] = [];
  const poll = new FlannelChainPoll(nft.list, (where) => readds.push(where));
  return { nft, poll, readds };
}

describe('FlannelChainPoll', () => {
  it('lists nothing while no chain was noted', async () => {
    const { nft, poll, readds } = setup();
    nft.set(POSTRTG, [masq(7)]);
    await poll.poll();
    await poll.poll();
    expect(nft.calls).toEqual([]);
    expect(readds).toEqual([]);
    expect(poll.chainCount).toBe(0);
  });

  it('lists each noted chain with ["chain", family, table, chain]', async () => {
    const { nft, poll } = setup();
    poll.note([POSTRTG, NFT_MODE]);
    await poll.poll();
    expect(nft.calls).toEqual(['chain ip nat FLANNEL-POSTRTG', 'chain ip flannel-ipv4 postrtg']);
  });

  it('reports a re-added MASQUERADE once, by its new handle', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG]);
    nft.set(POSTRTG, []);
    await poll.poll();
    expect(readds).toEqual([]);

    nft.set(POSTRTG, [ret(5), masq(7)]);
    await poll.poll();
    expect(readds).toEqual([POSTRTG]);

    // Same handle at the next polls: not again.
    await poll.poll();
    await poll.poll();
    expect(readds).toHaveLength(1);
  });

  it('a rule deleted and re-added with a new handle is reported again', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG]);
    nft.set(POSTRTG, [masq(7)]);
    await poll.poll();
    expect(readds).toHaveLength(1);

    nft.set(POSTRTG, []);
    await poll.poll();
    expect(readds).toHaveLength(1);

    nft.set(POSTRTG, [masq(9)]);
    await poll.poll();
    expect(readds).toHaveLength(2);
  });

  it('a new handle next to one already reported is reported', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG]);
    nft.set(POSTRTG, [masq(7)]);
    await poll.poll();
    nft.set(POSTRTG, [masq(7), masq(8)]);
    await poll.poll();
    expect(readds).toHaveLength(2);
  });

  it('ignores rules that are not a flannel MASQUERADE (RETURN, native masquerade in nat)', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG]);
    nft.set(POSTRTG, [
      ret(5),
      ret(6),
      rule(POSTRTG, 8, [{ masquerade: null }]),
      { chain: { family: 'ip', table: 'nat', name: 'FLANNEL-POSTRTG', handle: 1 } },
    ]);
    await poll.poll();
    nft.set(POSTRTG, [ret(10), ret(11)]);
    await poll.poll();
    expect(readds).toEqual([]);
  });

  it('ignores a masquerade rule without a handle', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG]);
    const noHandle = masq(7);
    delete noHandle.rule.handle;
    nft.set(POSTRTG, [noHandle]);
    await poll.poll();
    expect(readds).toEqual([]);
  });

  it('recognises nftables-mode rules (native masquerade in flannel-ipv4 postrtg)', async () => {
    const { nft, poll, readds } = setup();
    poll.note([NFT_MODE]);
    nft.set(NFT_MODE, [nativeMasq(3)]);
    await poll.poll();
    expect(readds).toEqual([NFT_MODE]);
    // An xt MASQUERADE is not nftables mode's.
    nft.set(NFT_MODE, [rule(NFT_MODE, 4, [XT_MASQ])]);
    await poll.poll();
    expect(readds).toHaveLength(1);
  });

  it('a chain that is gone (null listing) is fine, and its rules count as new when it returns', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG]);
    nft.set(POSTRTG, [masq(7)]);
    await poll.poll();
    nft.set(POSTRTG, null);
    await expect(poll.poll()).resolves.toBeUndefined();
    expect(readds).toHaveLength(1);
    nft.set(POSTRTG, [masq(7)]);
    await poll.poll();
    expect(readds).toHaveLength(2);
  });

  it('noting the same chain twice lists it once', async () => {
    const { nft, poll } = setup();
    poll.note([POSTRTG]);
    poll.note([{ ...POSTRTG }, POSTRTG]);
    expect(poll.chainCount).toBe(1);
    await poll.poll();
    expect(nft.calls).toEqual(['chain ip nat FLANNEL-POSTRTG']);
  });

  it('reports the first chain with a new rule and lists the rest at the next poll', async () => {
    const { nft, poll, readds } = setup();
    poll.note([POSTRTG, NFT_MODE]);
    nft.set(POSTRTG, [masq(7)]);
    nft.set(NFT_MODE, [nativeMasq(3)]);
    await poll.poll();
    expect(readds).toEqual([POSTRTG]);
    await poll.poll();
    expect(readds).toEqual([POSTRTG, NFT_MODE]);
    await poll.poll();
    expect(readds).toHaveLength(2);
  });

  it('passes a listing error on to the caller', async () => {
    const readds: ChainRef[] = [];
    const poll = new FlannelChainPoll(
      async () => {
        throw new Error('nft: permission denied');
      },
      (w) => readds.push(w),
    );
    poll.note([POSTRTG]);
    await expect(poll.poll()).rejects.toThrow('permission denied');
    expect(readds).toEqual([]);
  });
});
