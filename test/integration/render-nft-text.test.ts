/**
 * `render --format nft` is the same transaction as the JSON batch apply runs: for every render
 * golden case, `nft -c -f -` accepts the text, and loading it with `nft -f` leaves exactly the
 * tables that applying the JSON batch leaves (in a second namespace). The cases run one after
 * another in the same two namespaces, so each load also replaces the previous case's tables.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftClient } from '../../daemon/src/nft/client.js';
import { liveState } from '../../daemon/src/nft/normalize.js';
import type { NftBatch } from '../../daemon/src/nft/types.js';
import { cli, tempDir } from '../helpers/cli.js';
import { goldenRenderCases, materializeGolden } from '../helpers/golden.js';
import { Netns, canUseNetns } from '../helpers/netns.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

let viaText: Netns;
let viaJson: Netns;
let work: string;

beforeAll(async () => {
  if (!NETNS) return;
  viaText = await Netns.create('rtext');
  viaJson = await Netns.create('rjson');
  work = tempDir('rtext');
});
afterAll(async () => {
  if (!NETNS) return;
  await viaText?.dispose();
  await viaJson?.dispose();
  rmSync(work, { recursive: true, force: true });
});

async function tables(ns: Netns): Promise<unknown[]> {
  const client = new NftClient({ argv: ns.nftArgv() });
  return Promise.all(
    (['ip', 'ip6'] as const).map(async (f) =>
      liveState(await client.list(['table', f, 'ip-masq']), f),
    ),
  );
}

describe.runIf(NETNS)('render --format nft', () => {
  it.each(goldenRenderCases())(
    '%s: nft -c accepts it and nft -f loads what apply installs',
    async (name) => {
      const dir = materializeGolden(name);
      try {
        const config = join(dir, 'config.yaml');
        const text = await cli('render', '--config', config, '--format', 'nft');
        expect(text.code, text.stderr).toBe(0);
        const json = await cli('render', '--config', config);
        expect(json.code, json.stderr).toBe(0);

        const file = join(work, `${name}.nft`);
        writeFileSync(file, text.stdout);
        // `-f -` as the issue asks: stdin is the file (nft opens /dev/stdin by path).
        const before = await tables(viaText);
        const checked = await viaText.exec(['sh', '-c', `nft -c -f - < '${file}'`]);
        expect(checked.status, checked.stderr).toBe(0);
        expect(await tables(viaText)).toEqual(before); // -c changes nothing
        await viaText.mustExec(['nft', '-f', file]);

        await new NftClient({ argv: viaJson.nftArgv() }).applyBatch(
          JSON.parse(json.stdout) as NftBatch,
        );
        const loaded = await tables(viaText);
        expect(loaded[0]).not.toBeNull();
        expect(loaded).toEqual(await tables(viaJson));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('nft -c rejects a broken text, so the check above can fail', async () => {
    const file = join(work, 'broken.nft');
    writeFileSync(
      file,
      'table ip ip-masq {\n\tchain postrouting {\n\t\tip daddr @no_such_set return\n\t}\n}\n',
    );
    const r = await viaText.exec(['sh', '-c', `nft -c -f - < '${file}'`]);
    expect(r.status).not.toBe(0);
  });
});
