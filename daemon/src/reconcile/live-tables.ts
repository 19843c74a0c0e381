/**
 * Our tables as the kernel holds them, compared with a Plan: the read half of reconcile, also
 * used by `status` and `doctor` to say whether the node matches its config.
 */
import { formatCidr } from '../net/cidr.js';
import type { NftBackend } from '../nft/backend.js';
import { expectedState, liveState, tableDifference, type TableState } from '../nft/normalize.js';
import { FAMILIES, TABLE_NAME, type NftTableFamily, type Plan } from '../plan/plan.js';

/** Both of our tables, normalized; null entries are absent tables. */
export type LiveTables = Record<NftTableFamily, TableState | null>;

/** Our live tables, normalized (one `nft -j list table` per family, in parallel). */
export async function readLiveTables(client: NftBackend): Promise<LiveTables> {
  const [ip, ip6] = await Promise.all(
    FAMILIES.map(async (f) => liveState(await client.list(['table', f, TABLE_NAME]), f)),
  );
  return { ip: ip ?? null, ip6: ip6 ?? null };
}

/** First difference between the plan and the live tables, or null when they match. */
export function planDifference(plan: Plan, live: LiveTables): string | null {
  for (const family of FAMILIES) {
    const table = plan.tables.find((t) => t.family === family);
    const diff = tableDifference(table ? expectedState(table) : null, live[family]);
    if (diff) return diff;
  }
  return null;
}

/** The CIDRs a write of `plan` adds to and removes from the live sets (for the audit log). */
export function setDiff(plan: Plan, live: LiveTables): { added: string[]; removed: string[] } {
  const want = new Set(plan.tables.flatMap((t) => t.set.map(formatCidr)));
  const have = new Set(FAMILIES.flatMap((f) => live[f]?.set ?? []));
  return {
    added: [...want].filter((c) => !have.has(c)),
    removed: [...have].filter((c) => !want.has(c)),
  };
}
