/**
 * reconcile against the real kernel: nft 1.0.6 in a throwaway network namespace.
 */
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLiveTables } from '../../daemon/src/reconcile/live-tables.js';
import { cleanup, reconcile } from '../../daemon/src/reconcile/reconcile.js';
import { IpMasqError } from '../../daemon/src/errors.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { makeConfig } from '../helpers/config.js';
import { Netns, canUseNetns } from '../helpers/netns.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

let ns: Netns;
let client: NftClient;

beforeAll(async () => {
  if (!NETNS) return;
  ns = await Netns.create('recon');
  client = new NftClient({ argv: ns.nftArgv() });
});
afterAll(async () => {
  if (!NETNS) return;
  await ns.dispose();
});

async function listSet(): Promise<unknown> {
  const out = JSON.parse(
    await ns.mustExec(['nft', '-j', 'list', 'set', 'ip', 'ip-masq', 'nomasq']),
  ) as { nftables: { set?: { elem?: unknown[] } }[] };
  return out.nftables.find((o) => o.set)?.set?.elem ?? [];
}

describe.runIf(NETNS)('reconcile (real nft)', () => {
  it('creates the table, verifies it, and a second pass runs no transaction', async () => {
    const config = makeConfig();
    const first = await reconcile({ client }, config);
    expect(first).toMatchObject({
      changed: true,
      transactions: 1,
      cidrsAdded: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
      cidrsRemoved: [],
    });
    expect(first.reason).toBe('table ip ip-masq is missing');

    const text = await ns.mustExec(['nft', 'list', 'table', 'ip', 'ip-masq']);
    expect(text).toContain('type nat hook postrouting priority srcnat + 10; policy accept;');
    expect(text).toContain(
      'fib daddr type local counter packets 0 bytes 0 return comment "ip-masq: destination is local to this node"',
    );
    expect(text).toContain('ip daddr @nomasq counter packets 0 bytes 0 return');
    expect(text).toContain('counter packets 0 bytes 0 masquerade fully-random');

    const second = await reconcile({ client }, config);
    expect(second).toMatchObject({ changed: false, transactions: 0, reason: null });
  });

  it('replaces the table with another config and reports the CIDR diff', async () => {
    const r = await reconcile(
      { client },
      makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'], randomFully: false }),
    );
    expect(r).toMatchObject({
      changed: true,
      cidrsAdded: ['198.51.100.0/24'],
      cidrsRemoved: ['172.16.0.0/12', '192.168.0.0/16'],
    });
    const text = await ns.mustExec(['nft', 'list', 'table', 'ip', 'ip-masq']);
    expect(text).not.toContain('fully-random');
    expect(await listSet()).toEqual([
      { prefix: { addr: '10.0.0.0', len: 8 } },
      { prefix: { addr: '198.51.100.0', len: 24 } },
    ]);
  });

  it('applies overlapping, duplicate and contained input CIDRs (collapsed before nft sees them)', async () => {
    const r = await reconcile(
      { client },
      makeConfig({
        nonMasqueradeCIDRs: [
          '10.0.0.0/8',
          '10.1.0.0/16',
          '10.0.0.0/8',
          '10.2.3.4/32',
          '11.0.0.0/8',
          '192.0.2.0/25',
          '192.0.2.128/25',
        ],
      }),
    );
    expect(r.changed).toBe(true);
    expect(await listSet()).toEqual([
      { prefix: { addr: '10.0.0.0', len: 7 } },
      { prefix: { addr: '192.0.2.0', len: 24 } },
    ]);
  });

  it('repairs drift: a flushed chain, a deleted element, a deleted table', async () => {
    const config = makeConfig();
    await reconcile({ client }, config);
    await ns.mustExec(['nft', 'flush', 'chain', 'ip', 'ip-masq', 'postrouting']);
    expect((await reconcile({ client }, config)).reason).toMatch(/has 0 rules/);
    await ns.mustExec(['nft', 'delete', 'element', 'ip', 'ip-masq', 'nomasq', '{ 172.16.0.0/12 }']);
    expect((await reconcile({ client }, config)).reason).toMatch(/missing 172\.16\.0\.0\/12/);
    await ns.mustExec(['nft', 'delete', 'table', 'ip', 'ip-masq']);
    expect((await reconcile({ client }, config)).reason).toBe('table ip ip-masq is missing');
    expect((await reconcile({ client }, config)).changed).toBe(false);
  });

  it('manages ip6 only with enableIPv6 and removes it when disabled again', async () => {
    await reconcile(
      { client },
      makeConfig({ enableIPv6: true, nonMasqueradeCIDRs: ['10.0.0.0/8', 'fd00::/8'] }),
    );
    expect((await readLiveTables(client)).ip6?.set).toEqual(['fd00::/8']);
    const r = await reconcile({ client }, makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8'] }));
    expect(r.reason).toMatch(/ip6 ip-masq exists but should not/);
    expect((await readLiveTables(client)).ip6).toBeNull();
  });

  it('fails verification when nft exits 0 but installed something else (misspelt flag, nft 1.0.6)', async () => {
    // A wrapper that corrupts the flag on its way to nft, as a buggy or older nft would
    // mishandle it: nft 1.0.6 prints a warning, exits 0 and installs `masquerade` without it.
    const dir = mkdtempSync(join(tmpdir(), 'ipmasq-nftwrap-'));
    const wrapper = join(dir, 'nft');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nif [ "$1" = "-j" ] && [ "$2" = "-f" ]; then sed 's/fully-random/fully-randomx/' | ${ns.nftArgv().join(' ')} "$@"; else exec ${ns.nftArgv().join(' ')} "$@"; fi\n`,
    );
    chmodSync(wrapper, 0o755);
    await cleanup(client);
    const err = await reconcile({ client: new NftClient({ argv: [wrapper] }) }, makeConfig()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IpMasqError);
    expect((err as IpMasqError).code).toBe('VERIFY_FAILED');
    expect((err as IpMasqError).message).toMatch(/rule 4 .*outbound traffic.* differs/);
  });

  it('a kernel error leaves the previous table untouched (one transaction)', async () => {
    const good = makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8'] });
    await reconcile({ client }, good);
    const before = await ns.mustExec(['nft', '-j', 'list', 'table', 'ip', 'ip-masq']);
    // Same batch plus a delete of a rule handle that does not exist: the kernel aborts it all.
    const bad = {
      nftables: [
        { add: { table: { family: 'ip' as const, name: 'ip-masq' } } },
        { delete: { table: { family: 'ip' as const, name: 'ip-masq' } } },
        {
          delete: {
            rule: { family: 'ip' as const, table: 'nat', chain: 'POSTROUTING', handle: 999 },
          },
        },
      ],
    };
    // The error carries nft's stderr and the batch (logged at debug: JSON errors have no location).
    await expect(client.applyBatch(bad)).rejects.toMatchObject({
      code: 'NFT_FAILED',
      stderr: expect.stringMatching(/No such file or directory/),
      input: JSON.stringify(bad),
    });
    expect(await ns.mustExec(['nft', '-j', 'list', 'table', 'ip', 'ip-masq'])).toBe(before);
  });

  it('cleanup deletes our tables and is idempotent; other tables stay', async () => {
    await ns.mustExec(['nft', 'add', 'table', 'ip', 'someone-else']);
    await reconcile({ client }, makeConfig({ enableIPv6: true }));
    expect(await cleanup(client)).toBe(true);
    expect(await cleanup(client)).toBe(false);
    const tables = await ns.mustExec(['nft', 'list', 'tables']);
    expect(tables.trim()).toBe('table ip someone-else');
  });
});

describe.runIf(NETNS)('reconcile with a memo (the daemon)', () => {
  it('skips the read before a write when the plan changed, still reads (drift check) when it did not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipmasq-count-'));
    const log = join(dir, 'calls');
    // Records every nft invocation's arguments, then runs the real nft in the namespace.
    const counting = join(dir, 'nft');
    writeFileSync(
      counting,
      `#!/bin/sh\necho "$*" >> ${log}\nexec ${ns.nftArgv().join(' ')} "$@"\n`,
    );
    chmodSync(counting, 0o755);
    const calls = async (): Promise<string[]> =>
      (await import('node:fs')).readFileSync(log, 'utf8').trim().split('\n');
    const counted = new NftClient({ argv: [counting] });
    const memo = {};
    await cleanup(client);

    await reconcile({ client: counted, memo }, makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8'] }));
    const first = await calls();
    expect(first.filter((c) => c.startsWith('-j list table'))).toHaveLength(4); // before + after, ip and ip6

    writeFileSync(log, '');
    const changed = await reconcile(
      { client: counted, memo },
      makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'] }),
    );
    expect(changed).toMatchObject({
      changed: true,
      cidrsAdded: ['198.51.100.0/24'],
      cidrsRemoved: [],
    });
    expect((await calls()).filter((c) => c.startsWith('-j list table'))).toHaveLength(2); // only the verify

    // Same plan: the read is the drift check, and it finds the flushed chain.
    await ns.mustExec(['nft', 'flush', 'chain', 'ip', 'ip-masq', 'postrouting']);
    writeFileSync(log, '');
    const healed = await reconcile(
      { client: counted, memo },
      makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'] }),
    );
    expect(healed.reason).toMatch(/has 0 rules/);
    expect((await calls()).filter((c) => c.startsWith('-j list table'))).toHaveLength(4);
  });
});
