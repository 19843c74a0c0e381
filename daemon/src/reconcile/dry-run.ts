/**
 * `apply --dry-run`: everything a reconcile pass decides, with every write replaced by the
 * kernel's own check of it (`nft -c`), so a config is tried against this kernel without
 * touching it. Reads need CAP_NET_ADMIN, as `nft -c` does.
 *
 * It follows reconcile.ts step by step (facts → plan → live tables → difference → batch →
 * flannel's rules) but runs the batch only in check mode, and also when nothing would change:
 * the point is to learn whether this kernel accepts the transaction.
 */
import type { Config } from '../config/schema.js';
import { findLegacyFlannel, type LegacyDeps } from '../flannel/legacy.js';
import { deleteRulesBatch, findFlannelMasquerade } from '../flannel/match.js';
import { listFlannelCandidates } from '../flannel/remove.js';
import type { NftBackend } from '../nft/backend.js';
import { planToBatch } from '../nft/to-nft.js';
import { buildPlan, type Plan } from '../plan/plan.js';
import type { FlannelHooks } from './flannel-hooks.js';
import { planDifference, readLiveTables, setDiff } from './live-tables.js';

/** A flannel MASQUERADE rule a real apply would delete. */
export interface WouldDelete {
  /** Where: `ip nat FLANNEL-POSTRTG handle 8`, or `ip nat (iptables-legacy) POSTROUTING`. */
  where: string;
  /** The rule in iptables-save syntax (nft syntax for flannel's nftables mode). */
  rule: string;
}

export interface DryRunResult {
  /** Why apply would replace our tables; null when they already match. */
  reason: string | null;
  cidrsAdded: string[];
  cidrsRemoved: string[];
  flannelWouldDelete: WouldDelete[];
  warnings: string[];
  plan: Plan;
}

export interface DryRunDeps {
  client: NftBackend;
  flannel: FlannelHooks;
  /** iptables-legacy access (tests). */
  legacy?: LegacyDeps;
}

/** Throws NftError (NFT_PERMISSION without CAP_NET_ADMIN, NFT_FAILED when the kernel refuses). */
export async function dryRun(deps: DryRunDeps, config: Config): Promise<DryRunResult> {
  const read = await deps.flannel.facts(config);
  const warnings = [...read.problems];
  const plan = buildPlan(config, read.facts);
  const live = await readLiveTables(deps.client);
  const reason = planDifference(plan, live);
  const diff = reason === null ? { added: [], removed: [] } : setDiff(plan, live);
  await deps.client.applyBatch(planToBatch(plan), { check: true });

  const flannelWouldDelete: WouldDelete[] = [];
  if (config.flannel.removeMasquerade) {
    const opts = { enableIPv6: config.enableIPv6 };
    const refs = findFlannelMasquerade(
      await listFlannelCandidates(deps.client, opts),
      read.flannel,
      opts,
    );
    if (refs.length > 0) await deps.client.applyBatch(deleteRulesBatch(refs), { check: true });
    for (const r of refs)
      flannelWouldDelete.push({
        where: `${r.family} ${r.table} ${r.chain} handle ${r.handle}`,
        rule: r.iptables,
      });

    const legacy = await findLegacyFlannel(read.flannel, deps.legacy);
    warnings.push(...legacy.problems);
    const deletable = legacy.rules.filter((r) => r.family === 'ip' || config.enableIPv6);
    if (config.flannel.removeLegacy) {
      for (const r of deletable)
        flannelWouldDelete.push({
          where: `${r.family} nat (iptables-legacy) ${r.chain}`,
          rule: r.line,
        });
    } else if (legacy.rules.length > 0) {
      warnings.push(
        `${legacy.rules.length} flannel MASQUERADE rule(s) in iptables-legacy would stay (invisible to nft); set flannel.removeLegacy: true or run: ${legacy.rules.map((r) => r.command).join(' && ')}`,
      );
    }
  }
  return {
    reason,
    cidrsAdded: diff.added,
    cidrsRemoved: diff.removed,
    flannelWouldDelete,
    warnings,
    plan,
  };
}
