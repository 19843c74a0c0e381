/**
 * removeFlannelMasquerade against real iptables-nft / nft rulesets of every flannel era, each
 * built in its own throwaway netns. For every scenario it proves:
 *   - the deleted handles are exactly flannel's MASQUERADE rules, located by an oracle that does
 *     not use the matcher (the rule's position in `iptables-save`, or `nft -a list chain`);
 *   - `nft -j list ruleset` minus those handles is deep-equal before and after (counters zeroed);
 *   - `iptables-save` / `ip6tables-save` still work and lose exactly those lines;
 *   - the captured fixture (test/fixtures/flannel/<name>.json) is what the kernel really lists.
 * IPMASQ_CAPTURE_FIXTURES=1 rewrites the fixtures instead of comparing them.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NftClient } from '../../daemon/src/nft/client.js';
import { removeFlannelMasquerade } from '../../daemon/src/flannel/remove.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import { Netns, canUseNetns } from '../helpers/netns.js';
import {
  SCENARIOS,
  masqLines,
  type FlannelFixture,
  type FlannelScenario,
} from '../fixtures/flannel/scenarios.js';
import {
  buildScenario,
  flanneldReadd,
  iptablesSaveRules,
  nsMust,
  rulesetOf,
} from '../fixtures/flannel/build.js';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/flannel/', import.meta.url));
const CAPTURE = process.env['IPMASQ_CAPTURE_FIXTURES'] === '1';
const live: Netns[] = [];

afterAll(async () => {
  await Promise.all(live.map((n) => n.dispose()));
});

type Oracle = FlannelFixture['flannelMasquerade'];

/** Locates flannel's MASQUERADE rules without the matcher: by position in iptables-save / by nft -a text. */
async function oracle(
  ns: Netns,
  s: FlannelScenario,
  ruleset: Record<string, unknown>[],
): Promise<Oracle> {
  const out: Oracle = [];
  const lines = masqLines(s);
  for (const family of ['ip', 'ip6'] as const) {
    if (lines[family].length === 0) continue;
    const saved = await iptablesSaveRules(ns, family);
    for (const spec of lines[family]) {
      const chain = spec.split(' ')[1] as string;
      const inChain = saved.nat.filter((l) => l.startsWith(`-A ${chain} `));
      const index = inChain.indexOf(spec);
      expect(index, `iptables-save lists ${spec}`).toBeGreaterThanOrEqual(0);
      const rules = ruleset.flatMap((o) => {
        const r = o['rule'] as
          { family: string; table: string; chain: string; handle: number } | undefined;
        return r && r.family === family && r.table === 'nat' && r.chain === chain ? [r] : [];
      });
      expect(rules.length).toBe(inChain.length);
      out.push({
        family,
        table: 'nat',
        chain,
        handle: (rules[index] as { handle: number }).handle,
        spec,
      });
    }
  }
  for (const m of s.nftMasq ?? []) {
    const text = await nsMust(ns, ['nft', '-a', 'list', 'chain', m.family, m.table, m.chain]);
    const line = text.split('\n').find((l) => l.trim().replace(/ # handle \d+$/, '') === m.text);
    expect(line, `nft lists "${m.text}"`).toBeDefined();
    out.push({
      family: m.family,
      table: m.table,
      chain: m.chain,
      handle: Number(/# handle (\d+)$/.exec(line as string)?.[1]),
      spec: m.text,
    });
  }
  return out;
}

function withoutHandles(
  ruleset: Record<string, unknown>[],
  gone: { family: string; table: string; handle: number }[],
): Record<string, unknown>[] {
  return ruleset.filter((o) => {
    const r = o['rule'] as { family: string; table: string; handle: number } | undefined;
    return !(
      r && gone.some((g) => g.family === r.family && g.table === r.table && g.handle === r.handle)
    );
  });
}

const key = (r: { family: string; table: string; chain: string; handle: number }): string =>
  `${r.family} ${r.table} ${r.chain} #${r.handle}`;

describe.runIf(canUseNetns())('removeFlannelMasquerade on real rulesets', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.description}`, async () => {
      const ns = await Netns.create('flrm');
      live.push(ns);
      await buildScenario(ns, scenario);

      const before = await rulesetOf(ns);
      const saveBefore = {
        ip: await iptablesSaveRules(ns, 'ip'),
        ip6: await iptablesSaveRules(ns, 'ip6'),
      };
      const expected = (await oracle(ns, scenario, before)).filter(
        (o) => o.family === 'ip' || scenario.enableIPv6,
      );

      const fixturePath = `${FIXTURE_DIR}${scenario.name}.json`;
      const fixture: FlannelFixture = {
        name: scenario.name,
        description: scenario.description,
        subnetEnv: scenario.subnetEnv,
        enableIPv6: scenario.enableIPv6,
        ruleset: before,
        flannelMasquerade: expected,
      };
      if (CAPTURE || !existsSync(fixturePath)) {
        writeFileSync(fixturePath, JSON.stringify(fixture, null, 1) + '\n');
      } else {
        expect(JSON.parse(readFileSync(fixturePath, 'utf8'))).toEqual(fixture);
      }

      const { facts } = resolveFlannelFacts(
        { clusterCIDR: [], nodeSubnet: [] },
        { text: scenario.subnetEnv, path: 'subnet.env' },
      );
      const client = new NftClient({ argv: ns.nftArgv() });
      const deleted = await removeFlannelMasquerade(client, facts, {
        enableIPv6: scenario.enableIPv6,
      });

      expect(deleted.map(key).sort()).toEqual(expected.map(key).sort());

      const after = await rulesetOf(ns);
      expect(after).toEqual(withoutHandles(before, deleted));

      for (const family of ['ip', 'ip6'] as const) {
        const gone = new Set(
          expected.filter((e) => e.family === family && e.table === 'nat').map((e) => e.spec),
        );
        const saveAfter = await iptablesSaveRules(ns, family);
        expect(saveAfter.nat).toEqual(saveBefore[family].nat.filter((l) => !gone.has(l)));
        expect(saveAfter.filter).toEqual(saveBefore[family].filter);
      }

      // A second pass finds nothing: removal is idempotent.
      expect(
        await removeFlannelMasquerade(client, facts, { enableIPv6: scenario.enableIPv6 }),
      ).toEqual([]);
      await ns.dispose();
    });
  }

  it('removal after flanneld re-creates its rules (iptables-restore --noflush: -D what exists, then -A all)', async () => {
    const scenario = SCENARIOS.find((s) => s.name === 'current-dualstack') as FlannelScenario;
    const ns = await Netns.create('flre');
    live.push(ns);
    await buildScenario(ns, scenario);
    const client = new NftClient({ argv: ns.nftArgv() });
    const { facts } = resolveFlannelFacts(
      { clusterCIDR: [], nodeSubnet: [] },
      { text: scenario.subnetEnv, path: 'p' },
    );
    const opts = { enableIPv6: true };
    const first = await removeFlannelMasquerade(client, facts, opts);
    expect(first).toHaveLength(4);
    const clean = {
      ip: await iptablesSaveRules(ns, 'ip'),
      ip6: await iptablesSaveRules(ns, 'ip6'),
    };

    for (let round = 0; round < 3; round++) {
      await flanneldReadd(ns, scenario, { ip: clean.ip.nat, ip6: clean.ip6.nat });
      const readded = {
        ip: await iptablesSaveRules(ns, 'ip'),
        ip6: await iptablesSaveRules(ns, 'ip6'),
      };
      expect(readded.ip.nat.filter((l) => l.includes('MASQUERADE'))).toHaveLength(2);

      const again = await removeFlannelMasquerade(client, facts, opts);
      expect(again.map((r) => r.chain)).toEqual([
        'FLANNEL-POSTRTG',
        'FLANNEL-POSTRTG',
        'FLANNEL-POSTRTG',
        'FLANNEL-POSTRTG',
      ]);
      // Same rules as after the first removal (flannel's RETURNs and jump re-created in order).
      expect({
        ip: await iptablesSaveRules(ns, 'ip'),
        ip6: await iptablesSaveRules(ns, 'ip6'),
      }).toEqual(clean);
    }
    await ns.dispose();
  });
});
