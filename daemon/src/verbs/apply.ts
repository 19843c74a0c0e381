import { ExitCode } from '../errors.js';
import { dryRun } from '../reconcile/dry-run.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { reconcile, type ReconcileResult } from '../reconcile/reconcile.js';
import { loadConfig, plural, reconcileDeps } from './common.js';
import { describeDryRun, dryRunPermission } from './dry-run-report.js';
import type { Verb } from './verb.js';

/** The one line apply prints: what changed, or that nothing had to. */
export function describeResult(r: ReconcileResult): string {
  const tables = r.plan.tables
    .map(
      (t) =>
        `${t.family} ip-masq (${plural(t.set.length, 'prefix').replace('prefixs', 'prefixes')})`,
    )
    .join(', ');
  const parts: string[] = [];
  if (r.changed) {
    const delta =
      r.cidrsAdded.length + r.cidrsRemoved.length > 0
        ? `, +${r.cidrsAdded.length} −${r.cidrsRemoved.length}`
        : '';
    parts.push(`applied: table ${tables} replaced and verified${delta} (${r.reason})`);
  } else {
    parts.push(`unchanged: table ${tables} already matches the config`);
  }
  if (r.flannelDeleted.length > 0) {
    parts.push(
      `deleted ${plural(r.flannelDeleted.length, 'flannel MASQUERADE rule')}: ${r.flannelDeleted.map((d) => d.iptables).join('; ')}`,
    );
  }
  return `${parts.join('; ')} [${r.durationMs.toFixed(0)} ms]`;
}

export const apply: Verb = {
  name: 'apply',
  summary:
    'one reconcile pass: probe nft, plan, apply atomically, verify, remove flannel masquerade',
  usage: `Usage: ip-masq apply [--config PATH] [--nft PATH] [--dry-run]

Loads the config, replaces ip-masq's nft tables in one atomic transaction if they differ from
it, reads them back to verify, then deletes flannel's MASQUERADE rules. Idempotent: a second
run changes nothing. Prints one line saying what changed.

  --dry-run   change nothing: plan, build the real transaction, have the kernel check it
              (nft -c), and print the CIDRs that would be added and removed, the flannel
              rules that would be deleted, and any warnings. Needs CAP_NET_ADMIN, as nft -c does`,
  common: ['config', 'nft'],
  options: { 'dry-run': { type: 'boolean' } },
  async run(ctx) {
    const { config } = await loadConfig(ctx);
    if (ctx.values['dry-run']) {
      const client = ctx.nft();
      const result = await client
        .probe()
        .then(() => dryRun({ client, flannel: flannelHooks() }, config))
        .catch((e: unknown) => {
          throw dryRunPermission(e);
        });
      ctx.io.stdout(describeDryRun(result));
      return ExitCode.OK;
    }
    const deps = reconcileDeps(ctx);
    await deps.client.probe();
    const result = await reconcile(deps, config);
    for (const w of result.warnings) ctx.io.stderr(`warning: ${w}\n`);
    // Rejected flannel facts: the rest was applied, flannel's rules of that family stay.
    for (const e of result.errors ?? [])
      ctx.io.stderr(
        `error: ${e}; flannel's rules of that family were left in place, no pod-network rule built\n`,
      );
    ctx.io.stdout(`${describeResult(result)}\n`);
    return (result.errors ?? []).length > 0 ? ExitCode.FAILURE : ExitCode.OK;
  },
};
