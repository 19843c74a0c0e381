/**
 * One reconcile pass, shared by `ip-masq apply` and every trigger of `ip-masq run`:
 * facts → plan → compare with the live tables → (only if different) one atomic transaction →
 * read back and verify → delete flannel's MASQUERADE rules (after our table is in place, so
 * there is never a moment with neither flannel's nor our masquerade).
 *
 * A pass with nothing to change runs no nft write at all: only the read of our own tables.
 */
import type { Config } from '../config/schema.js';
import { IpMasqError } from '../errors.js';
import type { NftBackend } from '../nft/backend.js';
import { cleanupBatch, planToBatch } from '../nft/to-nft.js';
import { buildPlan, NO_FACTS, type Plan } from '../plan/plan.js';
import type { DeletedForeignRule, FlannelFactsRead, FlannelHooks } from './flannel-hooks.js';
import { planDifference, readLiveTables, setDiff, type LiveTables } from './live-tables.js';

/**
 * What a long-running caller (the daemon) keeps between passes: our tables as last verified in
 * the kernel. With it, a pass whose plan changed skips the read before the write — a write is
 * needed whatever the kernel holds, and on a 100,000-element set the read costs as much as the
 * write. A pass whose plan did not change still reads, since that read is the drift check.
 */
export interface ReconcileMemo {
  verified?: LiveTables;
}

export interface ReconcileDeps {
  client: NftBackend;
  flannel?: FlannelHooks;
  memo?: ReconcileMemo;
}

export interface ReconcileResult {
  /** A transaction replaced our tables. */
  changed: boolean;
  /** Why they were replaced (first difference found), null when nothing changed. */
  reason: string | null;
  cidrsAdded: string[];
  cidrsRemoved: string[];
  flannelDeleted: DeletedForeignRule[];
  /** Problems that did not stop the pass (e.g. a malformed flannel subnet.env). */
  warnings: string[];
  /**
   * Rejected flannel facts (implausible, unreadable): the rest of the policy was applied, but
   * no pod-network rule was built and no flannel rule deleted for that family.
   */
  errors?: string[];
  /** nft write transactions run (0 when nothing changed). */
  transactions: number;
  durationMs: number;
  plan: Plan;
}

export async function reconcile(deps: ReconcileDeps, config: Config): Promise<ReconcileResult> {
  const started = performance.now();
  const warnings: string[] = [];
  let read: FlannelFactsRead = { facts: NO_FACTS, flannel: null, problems: [] };
  if (deps.flannel) {
    read = await deps.flannel.facts(config);
    warnings.push(...read.problems);
  }
  const errors = [...(read.rejected ?? [])];

  const plan = buildPlan(config, read.facts);
  const memo = deps.memo;
  const remembered = memo?.verified;
  // Forget first: if anything below fails, the next pass must look at the kernel again.
  if (memo) delete memo.verified;
  const before =
    remembered && planDifference(plan, remembered) !== null
      ? remembered
      : await readLiveTables(deps.client);
  const reason = planDifference(plan, before);
  let transactions = 0;
  let diff = { added: [] as string[], removed: [] as string[] };
  let verified = before;

  if (reason !== null) {
    diff = setDiff(plan, before);
    await deps.client.applyBatch(planToBatch(plan));
    transactions++;
    verified = await readLiveTables(deps.client);
    const mismatch = planDifference(plan, verified);
    if (mismatch !== null) {
      throw new IpMasqError(
        'VERIFY_FAILED',
        `nft accepted the ruleset but the kernel holds something else: ${mismatch}`,
      );
    }
  }
  if (memo) memo.verified = verified;

  let flannelDeleted: DeletedForeignRule[] = [];
  if (deps.flannel && config.flannel.removeMasquerade) {
    const removal = await deps.flannel.remove(deps.client, config, read.flannel);
    flannelDeleted = removal.deleted;
    warnings.push(...removal.problems);
    if (flannelDeleted.some((d) => d.handle !== undefined)) transactions++;
  }

  return {
    changed: reason !== null,
    reason,
    cidrsAdded: diff.added,
    cidrsRemoved: diff.removed,
    flannelDeleted,
    warnings,
    errors,
    transactions,
    durationMs: performance.now() - started,
    plan,
  };
}

/** Deletes our tables (both families). Idempotent: true if anything was there to delete. */
export async function cleanup(client: NftBackend): Promise<boolean> {
  const live = await readLiveTables(client);
  const existed = live.ip !== null || live.ip6 !== null;
  if (existed) await client.applyBatch(cleanupBatch());
  return existed;
}
