import { ExitCode } from '../errors.js';
import { planToBatch } from '../nft/to-nft.js';
import { buildPlan } from '../plan/plan.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { loadConfig } from './common.js';
import type { Verb } from './verb.js';

export const render: Verb = {
  name: 'render',
  summary: 'print the nft JSON batch that apply would run (no side effects)',
  usage: `Usage: ip-masq render [--config PATH] [--compact]

Prints the one nft transaction (libnftables JSON) that replaces ip-masq's tables, exactly as
apply pipes it to "nft -j -f -". Reads flannel's subnet.env for the pod-network exclusions.
Needs no root and changes nothing.

  --compact   one line, as sent to nft`,
  common: ['config'],
  options: { compact: { type: 'boolean' } },
  async run(ctx) {
    const { config } = await loadConfig(ctx);
    const { facts, problems } = await flannelHooks().facts(config);
    for (const p of problems) ctx.io.stderr(`warning: ${p}\n`);
    const batch = planToBatch(buildPlan(config, facts));
    ctx.io.stdout(
      `${ctx.values.compact ? JSON.stringify(batch) : JSON.stringify(batch, null, 2)}\n`,
    );
    return ExitCode.OK;
  },
};
