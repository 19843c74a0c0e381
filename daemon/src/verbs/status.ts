import { ExitCode } from '../errors.js';
import { expectedState, tableDifference } from '../nft/normalize.js';
import { readLiveTables } from '../reconcile/live-tables.js';
import { readRuntimeStatus } from '../daemon/runtime-status.js';
import { resolveStateDir } from '../daemon/state.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { buildPlan, FAMILIES, type NftTableFamily } from '../plan/plan.js';
import { ruleText } from '../plan/explain.js';
import { loadConfig } from './common.js';
import type { Verb } from './verb.js';

interface TableStatus {
  family: NftTableFamily;
  present: boolean;
  wanted: boolean;
  matches: boolean;
  difference: string | null;
  rules: {
    position: number;
    comment: string;
    rule: string | null;
    packets: number;
    bytes: number;
  }[];
}

export const status: Verb = {
  name: 'status',
  summary: 'is our table there and does it match the config? per-rule packet counters',
  usage: `Usage: ip-masq status [--config PATH] [--nft PATH] [--state-dir DIR] [--json]

Compares the live tables with what the config asks for and prints each rule with its
counters, and how often the daemon had to delete re-added flannel MASQUERADE rules (from its
state directory). Exits 0 when everything matches, 1 otherwise.

  --state-dir DIR  the daemon's state directory (default $STATE_DIRECTORY, else /var/lib/ip-masq)
  --json           machine-readable output`,
  common: ['config', 'nft'],
  options: { json: { type: 'boolean' }, 'state-dir': { type: 'string' } },
  async run(ctx) {
    const { config } = await loadConfig(ctx);
    const { facts } = await flannelHooks().facts(config);
    const plan = buildPlan(config, facts);
    const live = await readLiveTables(ctx.nft());
    const tables: TableStatus[] = FAMILIES.map((family) => {
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
          return {
            position: i + 1,
            comment: r.comment,
            rule: p ? ruleText(family, p) : null,
            packets: r.packets,
            bytes: r.bytes,
          };
        }),
      };
    });
    const ok = tables.every((t) => t.matches);
    const stateDir = ctx.values['state-dir'];
    const daemon = await readRuntimeStatus(
      resolveStateDir(typeof stateDir === 'string' ? stateDir : undefined, ctx.io.env),
    );
    if (ctx.values.json) {
      ctx.io.stdout(
        `${JSON.stringify({ matches: ok, config: ctx.configPath, tables, daemon }, null, 2)}\n`,
      );
      return ok ? ExitCode.OK : ExitCode.FAILURE;
    }
    for (const t of tables) {
      if (!t.present && !t.wanted) continue;
      const state = t.matches ? 'present, matches the config' : `DOES NOT MATCH: ${t.difference}`;
      ctx.io.stdout(`table ${t.family} ip-masq: ${state}\n`);
      const width = Math.max(0, ...t.rules.map((r) => (r.rule ?? '?').length));
      for (const r of t.rules) {
        const counters = `${String(r.packets).padStart(10)} pkts ${String(r.bytes).padStart(12)} bytes`;
        ctx.io.stdout(
          `  ${String(r.position).padStart(2)} ${counters}  ${(r.rule ?? '?').padEnd(width)}  # ${r.comment}\n`,
        );
      }
    }
    if (daemon) {
      const f = daemon.flannel;
      const last =
        f.lastReaddAt === null ? '' : `, last at ${new Date(f.lastReaddAt).toISOString()}`;
      const active = f.episodeActive
        ? ' — flanneld is re-adding them right now: run it without --ip-masq'
        : '';
      ctx.io.stdout(
        `flannel: ${f.leftoverRules} leftover MASQUERADE rule(s) deleted at start; re-added ${f.readds} time(s) (${f.readdRules} rules) in ${f.episodes} episode(s)${last}${active}\n`,
      );
    }
    if (!ok) ctx.io.stdout('run "ip-masq apply" (or start the ip-masq service) to converge\n');
    return ok ? ExitCode.OK : ExitCode.FAILURE;
  },
};
