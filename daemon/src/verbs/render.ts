import { ExitCode, IpMasqError } from '../errors.js';
import { planToBatch } from '../nft/to-nft.js';
import { planToText } from '../nft/to-text.js';
import { buildPlan } from '../plan/plan.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { loadConfig } from './common.js';
import type { Verb } from './verb.js';

const FORMATS = ['json', 'nft'] as const;

export const render: Verb = {
  name: 'render',
  summary: 'print the nft transaction apply would run, as JSON or nft text (no side effects)',
  usage: `Usage: ip-masq render [--config PATH] [--format json|nft] [--compact]

Prints the one nft transaction that replaces ip-masq's tables. Reads flannel's subnet.env for
the pod-network exclusions. Needs no root and changes nothing.

  --format FORMAT  json (default): the libnftables JSON batch, exactly as apply pipes it to
                   "nft -j -f -"; nft: the same transaction in nft's text syntax, as
                   "nft list" shows the table ("nft -f" loads it, "nft -c -f -" checks it)
  --compact        json on one line, as sent to nft`,
  common: ['config'],
  options: { format: { type: 'string' }, compact: { type: 'boolean' } },
  async run(ctx) {
    const format = ctx.values.format ?? 'json';
    if (!FORMATS.includes(format as (typeof FORMATS)[number]))
      throw new IpMasqError('USAGE', `--format must be json or nft, not "${String(format)}"`);
    if (format === 'nft' && ctx.values.compact)
      throw new IpMasqError('USAGE', '--compact applies to --format json only');
    const { config } = await loadConfig(ctx);
    const { facts, problems, rejected } = await flannelHooks().facts(config);
    for (const p of problems) ctx.io.stderr(`warning: ${p}\n`);
    for (const r of rejected ?? []) ctx.io.stderr(`error: ${r}; no pod-network rule built\n`);
    const plan = buildPlan(config, facts);
    if (format === 'nft') {
      ctx.io.stdout(planToText(plan));
      return ExitCode.OK;
    }
    const batch = planToBatch(plan);
    ctx.io.stdout(
      `${ctx.values.compact ? JSON.stringify(batch) : JSON.stringify(batch, null, 2)}\n`,
    );
    return ExitCode.OK;
  },
};
