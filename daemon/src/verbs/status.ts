import { ExitCode } from '../errors.js';
import { expectedState, tableDifference } from '../nft/normalize.js';
import { readLiveTables } from '../daemon/reconcile.js';
import { flannelHooks } from '../daemon/flannel-hooks.js';
import { buildPlan, type NftTableFamily } from '../plan/plan.js';
import { ruleText } from '../plan/explain.js';
import { loadConfig } from './common.js';
import type { Verb } from './verb.js';

interface TableStatus {
  family: NftTableFamily;
  present: boolean;
  wanted: boolean;
  matches: boolean;
  difference: string | null;
  rules: { position: number; comment: string; rule: string | null; packets: number; bytes: number }[];
}

export const status: Verb = {
  name: 'status',
  summary: 'is our table there and does it match the config? per-rule packet counters',
  usage: `Usage: ip-masq status [--config PATH] [--nft PATH] [--json]

Compares the live tables with what the config asks for and prints each rule with its
counters. Exits 0 when everything matches, 1 otherwise.

  --json   machine-readable output`,
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    const { config } = await loadConfig(ctx);
    const { facts } = await flannelHooks().facts(config);
    const plan = buildPlan(config, facts);
    const live = await readLiveTables(ctx.nft());
    const tables: TableStatus[] = (['ip', 'ip6'] as const).map((family) => {
      const planned = plan.tables.find((t) => t.family === family);
      const l = live[family];
      const difference = tableDifference(planned ? expectedState(planned) : null, l);
      return {
        family,
        present: l !== null,
        wanted: planned !== undefined,
        matches: difference === null,
        difference,
        rules: (l?.rules ?? []).map((r, i) => {
          const p = planned?.rules.find((pr) => pr.comment === r.comment);
          return { position: i + 1, comment: r.comment, rule: p ? ruleText(family, p) : null, packets: r.packets, bytes: r.bytes };
        }),
      };
    });
    const ok = tables.every((t) => t.matches);
    if (ctx.values.json) {
      ctx.io.stdout(`${JSON.stringify({ matches: ok, config: ctx.configPath, tables }, null, 2)}\n`);
      return ok ? ExitCode.OK : ExitCode.FAILURE;
    }
    for (const t of tables) {
      if (!t.present && !t.wanted) continue;
      const state = t.matches ? 'present, matches the config' : `DOES NOT MATCH: ${t.difference}`;
      ctx.io.stdout(`table ${t.family} ip-masq: ${state}\n`);
      const width = Math.max(0, ...t.rules.map((r) => (r.rule ?? '?').length));
      for (const r of t.rules) {
        const counters = `${String(r.packets).padStart(10)} pkts ${String(r.bytes).padStart(12)} bytes`;
        ctx.io.stdout(`  ${String(r.position).padStart(2)} ${counters}  ${(r.rule ?? '?').padEnd(width)}  # ${r.comment}\n`);
      }
    }
    if (!ok) ctx.io.stdout('run "ip-masq apply" (or start the ip-masq service) to converge\n');
    return ok ? ExitCode.OK : ExitCode.FAILURE;
  },
};
