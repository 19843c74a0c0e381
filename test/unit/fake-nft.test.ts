/**
 * The in-memory nft behaves like the kernel where reconcile relies on it: all or nothing,
 * interval overlaps refused, handles, check mode, listings as nft prints them, monitor events.
 * (test/integration/ holds the same facts against the real nft.)
 */
import { describe, expect, it } from 'vitest';
import type { MonitorEvent } from '../../daemon/src/nft/monitor.js';
import { planToBatch } from '../../daemon/src/nft/to-nft.js';
import type { NftBatch } from '../../daemon/src/nft/types.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { makeConfig } from '../helpers/config.js';
import { FakeNft } from '../helpers/fake-nft.js';

const set = (elem: unknown[]): NftBatch =>
  ({
    nftables: [
      { add: { table: { family: 'ip', name: 't' } } },
      {
        add: {
          set: {
            family: 'ip',
            table: 't',
            name: 's',
            type: 'ipv4_addr',
            flags: ['interval'],
            elem,
          },
        },
      },
    ],
  }) as NftBatch;

describe('FakeNft', () => {
  it('applies a batch all or nothing: an overlapping interval aborts the whole of it', async () => {
    const nft = new FakeNft();
    await expect(
      nft.applyBatch(
        set([{ prefix: { addr: '10.0.0.0', len: 8 } }, { prefix: { addr: '10.1.0.0', len: 16 } }]),
      ),
    ).rejects.toThrow(/conflicting intervals specified/);
    expect(nft.ruleset()).toEqual([]);
  });

  it('check mode validates without changing anything', async () => {
    const nft = new FakeNft();
    await nft.applyBatch(set([{ prefix: { addr: '10.0.0.0', len: 8 } }]), { check: true });
    expect(nft.ruleset()).toEqual([]);
    await expect(
      nft.applyBatch(
        { nftables: [{ delete: { table: { family: 'ip', name: 'x' } } }] },
        { check: true },
      ),
    ).rejects.toMatchObject({ isNotFound: true });
  });

  it('lists what it was given the way nft prints it back', async () => {
    const nft = new FakeNft();
    await nft.applyBatch(set([{ prefix: { addr: '192.0.2.7', len: 32 } }]));
    expect(await nft.list(['table', 'ip', 't'])).toEqual([
      { table: { family: 'ip', name: 't', handle: 1 } },
      {
        set: {
          family: 'ip',
          table: 't',
          name: 's',
          type: 'ipv4_addr',
          flags: ['interval'],
          handle: 1,
          elem: ['192.0.2.7'],
        },
      },
    ]);
    expect(await nft.list(['table', 'ip6', 't'])).toBeNull();
    expect(await nft.list(['chain', 'ip', 't', 'missing'])).toBeNull();
  });

  it('gives rules increasing handles, deletes by handle, refuses an unknown handle', async () => {
    const nft = new FakeNft();
    await nft.applyBatch(planToBatch(buildPlan(makeConfig())));
    const handles = nft.handles('ip', 'ip-masq', 'postrouting');
    expect(handles).toEqual([...handles].sort((a, b) => a - b));
    const del = (handle: number): NftBatch => ({
      nftables: [
        { delete: { rule: { family: 'ip', table: 'ip-masq', chain: 'postrouting', handle } } },
      ],
    });
    await nft.applyBatch(del(handles[0] as number));
    expect(nft.handles('ip', 'ip-masq', 'postrouting')).toEqual(handles.slice(1));
    await expect(nft.applyBatch(del(handles[0] as number))).rejects.toMatchObject({
      isNotFound: true,
    });
  });

  it("honours nft's own event filter: `monitor new rules` sees rule additions only", async () => {
    const nft = new FakeNft();
    const events: MonitorEvent[] = [];
    const stream = nft.monitor({ objects: ['new', 'rules'], onEvent: (e) => events.push(e) });
    stream.start();
    await nft.applyBatch(planToBatch(buildPlan(makeConfig())));
    await nft.applyBatch({ nftables: [{ delete: { table: { family: 'ip', name: 'ip-masq' } } }] });
    await stream.stop();
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.op === 'add' && e.kind === 'rule')).toBe(true);
  });

  it('streams the events of committed batches to a started monitor, filtered by its prefilter', async () => {
    const nft = new FakeNft();
    const events: MonitorEvent[] = [];
    const stream = nft.monitor({
      onEvent: (e) => events.push(e),
      prefilter: (line) => line.includes('"ip-masq"'),
    });
    await nft.applyBatch(set([]));
    stream.start();
    await nft.applyBatch(planToBatch(buildPlan(makeConfig())));
    await stream.stop();
    await nft.applyBatch({ nftables: [{ delete: { table: { family: 'ip', name: 't' } } }] });
    expect(events.length).toBeGreaterThan(0);
    // The replace is add + delete + add: a monitor sees all of it, and nothing of table t.
    expect(events.every((e) => e.table === 'ip-masq')).toBe(true);
    expect(events.map((e) => `${e.op} ${e.kind}`)).toEqual(
      expect.arrayContaining(['add table', 'delete table', 'add set', 'add chain', 'add rule']),
    );
  });
});
