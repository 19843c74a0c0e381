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
import { formatCidr } from '../net/cidr.js';
import type { NftBackend } from '../nft/backend.js';
import { expectedState, liveState, tableDifference, type TableState } from '../nft/normalize.js';
import { cleanupBatch, planToBatch } from '../nft/to-nft.js';
import {
  buildPlan,
  TABLE_NAME,
  type NftTableFamily,
  type Plan,
  type PlanFacts,
} from '../plan/plan.js';

/** A flannel MASQUERADE rule that was deleted, for the audit log. */
export interface DeletedForeignRule {
  family: 'ip' | 'ip6';
  table: string;
  chain: string;
  /** nft rule handle; absent for iptables-legacy rules (deleted by their exact spec). */
  handle?: number;
  /** The rule in iptables-save syntax. */
  iptables: string;
}

/** How reconcile learns about and removes flannel's rules (see daemon/src/flannel/). */
export interface FlannelHooks {
  /** Pod-network facts for the plan, plus problems to report (a malformed subnet.env). */
  facts(config: Config): Promise<{ facts: PlanFacts; problems: string[]; raw: unknown }>;
  /** Deletes flannel's MASQUERADE rules; called only after our tables are verified. */
  remove(
    client: NftBackend,
    config: Config,
    raw: unknown,
  ): Promise<{ deleted: DeletedForeignRule[]; problems: string[] }>;
}

/**
 * What a long-running caller (the daemon) keeps between passes: our tables as last verified in
 * the kernel. With it, a pass whose plan changed skips the read before the write — a write is
 * needed whatever the kernel holds, and on a 100,000-element set the read costs as much as the
 * write. A pass whose plan did not change still reads, since that read is the drift check.
 */
export interface ReconcileMemo {
  verified?: Record<NftTableFamily, TableState | null>;
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
  /** nft write transactions run (0 when nothing changed). */
  transactions: number;
  durationMs: number;
  plan: Plan;
}

const FAMILIES: readonly NftTableFamily[] = ['ip', 'ip6'];

/** Our live tables, normalized; null entries are absent tables. */
export async function readLiveTables(
  client: NftBackend,
): Promise<Record<NftTableFamily, TableState | null>> {
  const [ip, ip6] = await Promise.all(
    FAMILIES.map(async (f) => liveState(await client.list(['table', f, TABLE_NAME]), f)),
  );
  return { ip: ip ?? null, ip6: ip6 ?? null };
}

/** First difference between the plan and the live tables, or null when they match. */
export function planDifference(
  plan: Plan,
  live: Record<NftTableFamily, TableState | null>,
): string | null {
  for (const family of FAMILIES) {
    const table = plan.tables.find((t) => t.family === family);
    const diff = tableDifference(table ? expectedState(table) : null, live[family]);
    if (diff) return diff;
  }
  return null;
}

function setDiff(
  plan: Plan,
  live: Record<NftTableFamily, TableState | null>,
): { added: string[]; removed: string[] } {
  const want = new Set(plan.tables.flatMap((t) => t.set.map(formatCidr)));
  const have = new Set(FAMILIES.flatMap((f) => live[f]?.set ?? []));
  return {
    added: [...want].filter((c) => !have.has(c)),
    removed: [...have].filter((c) => !want.has(c)),
  };
}

export async function reconcile(deps: ReconcileDeps, config: Config): Promise<ReconcileResult> {
  const started = performance.now();
  const warnings: string[] = [];
  let facts: PlanFacts = { podNetwork: {} };
  let rawFacts: unknown = null;
  if (deps.flannel) {
    const f = await deps.flannel.facts(config);
    facts = f.facts;
    rawFacts = f.raw;
    warnings.push(...f.problems);
  }

  const plan = buildPlan(config, facts);
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
    const removal = await deps.flannel.remove(deps.client, config, rawFacts);
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
