/**
 * flannel rules written with iptables-legacy in a throwaway netns: invisible to nft, detected
 * through the netns's own /proc/net/ip*_tables_names, reported with exact commands, removed
 * (opt-in) with the exact spec — and the printed command itself works when pasted into a shell.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  findLegacyFlannel,
  legacyPass,
  removeLegacyFlannel,
  defaultExec,
  type LegacyDeps,
} from '../../daemon/src/flannel/legacy.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import { Netns, canUseNetns } from '../helpers/netns.js';
import {
  SCENARIOS,
  masqLines,
  restoreText,
  type FlannelScenario,
} from '../fixtures/flannel/scenarios.js';
import { nsExec, nsMust, rulesetOf } from '../fixtures/flannel/build.js';

const FIXTURE = fileURLToPath(
  new URL('../fixtures/flannel/legacy-current-dualstack.save.txt', import.meta.url),
);
const CAPTURE = process.env['IPMASQ_CAPTURE_FIXTURES'] === '1';
const live: Netns[] = [];
afterAll(async () => {
  await Promise.all(live.map((n) => n.dispose()));
});

const depsFor = (ns: Netns): LegacyDeps => ({
  readFile: (p) => nsMust(ns, ['cat', p]),
  exec: (argv) => defaultExec([...ns.prefix(), ...argv]),
});
const saveRules = async (ns: Netns, family: 'ip' | 'ip6'): Promise<string[]> =>
  (
    await nsMust(ns, [
      family === 'ip' ? 'iptables-legacy-save' : 'ip6tables-legacy-save',
      '-t',
      'nat',
    ])
  )
    .split('\n')
    .filter((l) => l.startsWith('-A '));

describe.runIf(canUseNetns(['iptables-legacy']))('flannel rules in iptables-legacy', () => {
  it('nothing legacy on a fresh netns: no tables, no rules, no problems', async () => {
    const ns = await Netns.create('flleg');
    live.push(ns);
    const r = await findLegacyFlannel(null, depsFor(ns));
    expect(r).toEqual({ tables: { ip: [], ip6: [], unchecked: null }, rules: [], problems: [] });
    // Looking must not create a legacy table.
    expect((await nsMust(ns, ['cat', '/proc/net/ip_tables_names'])).trim()).toBe('');
  });

  for (const name of ['current-dualstack', 'old-mixed-node', 'v0.10-postrouting']) {
    it(`${name}: detected, reported with exact commands, removed only flannel's MASQUERADE`, async () => {
      const s = SCENARIOS.find((x) => x.name === name) as FlannelScenario;
      const ns = await Netns.create('flleg');
      live.push(ns);
      for (const step of s.steps) {
        if ('ip' in step)
          await nsMust(ns, ['iptables-legacy-restore', '--noflush'], restoreText(step.ip));
        if ('ip6' in step)
          await nsMust(ns, ['ip6tables-legacy-restore', '--noflush'], restoreText(step.ip6));
      }
      expect(await rulesetOf(ns)).toEqual([]); // invisible to nft
      expect((await nsExec(ns, ['iptables-nft-save'])).stderr).toMatch(
        /iptables-legacy tables present/,
      );

      if (name === 'current-dualstack') {
        const saved = await nsMust(ns, ['iptables-legacy-save', '-t', 'nat']);
        const body = saved
          .split('\n')
          .filter((l) => !l.startsWith('#'))
          .join('\n');
        if (CAPTURE || !existsSync(FIXTURE)) writeFileSync(FIXTURE, body);
        else expect(body).toBe(readFileSync(FIXTURE, 'utf8'));
      }

      const facts = resolveFlannelFacts(
        { clusterCIDR: [], nodeSubnet: [] },
        { text: s.subnetEnv, path: 'p' },
      ).facts;
      const report = await findLegacyFlannel(facts, depsFor(ns));
      expect(report.problems).toEqual([]);
      expect(report.tables.ip).toContain('nat');
      const expected = masqLines(s);
      expect(report.rules.map((r) => `${r.family} ${r.line}`)).toEqual([
        ...expected.ip.map((l) => `ip ${l}`),
        ...expected.ip6.map((l) => `ip6 ${l}`),
      ]);

      const before = {
        ip: await saveRules(ns, 'ip'),
        ip6: s.enableIPv6 ? await saveRules(ns, 'ip6') : [],
      };
      const result = await removeLegacyFlannel(
        report.rules,
        { enableIPv6: s.enableIPv6 },
        depsFor(ns),
      );
      expect(result.failed).toEqual([]);
      expect(result.removed).toHaveLength(
        expected.ip.length + (s.enableIPv6 ? expected.ip6.length : 0),
      );
      expect(await saveRules(ns, 'ip')).toEqual(before.ip.filter((l) => !expected.ip.includes(l)));
      if (s.enableIPv6)
        expect(await saveRules(ns, 'ip6')).toEqual(
          before.ip6.filter((l) => !expected.ip6.includes(l)),
        );
      expect(
        (await findLegacyFlannel(facts, depsFor(ns))).rules.filter((r) => r.family === 'ip'),
      ).toEqual([]);
    });
  }

  it('the reported command works when pasted into a shell', async () => {
    const ns = await Netns.create('flleg');
    live.push(ns);
    const s = SCENARIOS.find((x) => x.name === 'v0.20.2-inserted') as FlannelScenario;
    for (const step of s.steps)
      if ('ip' in step)
        await nsMust(ns, ['iptables-legacy-restore', '--noflush'], restoreText(step.ip));
    const report = await findLegacyFlannel(null, depsFor(ns));
    expect(report.rules).toHaveLength(2);
    for (const r of report.rules) await nsMust(ns, ['sh', '-c', r.command]);
    expect((await saveRules(ns, 'ip')).filter((l) => l.includes('MASQUERADE'))).toEqual([
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
    ]);
  });

  it('legacyPass: reports without removeLegacy (nothing deleted), deletes with it', async () => {
    const ns = await Netns.create('flleg');
    live.push(ns);
    const s = SCENARIOS.find((x) => x.name === 'current-no-random') as FlannelScenario;
    for (const step of s.steps)
      if ('ip' in step)
        await nsMust(ns, ['iptables-legacy-restore', '--noflush'], restoreText(step.ip));
    const facts = resolveFlannelFacts(
      { clusterCIDR: [], nodeSubnet: [] },
      { text: s.subnetEnv, path: 'p' },
    ).facts;
    const before = await saveRules(ns, 'ip');
    const report = await legacyPass(facts, { removeLegacy: false, enableIPv6: false }, depsFor(ns));
    expect(report.found).toHaveLength(2);
    expect(report.problems[0]).toContain(
      'set flannel.removeLegacy: true or run: iptables-legacy -w -t nat -D FLANNEL-POSTRTG',
    );
    expect(await saveRules(ns, 'ip')).toEqual(before);
    const removed = await legacyPass(facts, { removeLegacy: true, enableIPv6: false }, depsFor(ns));
    expect(removed.removed).toHaveLength(2);
    expect(removed.problems).toEqual([]);
    expect(await saveRules(ns, 'ip')).toEqual(before.filter((l) => !l.includes('MASQUERADE')));
  });
});
