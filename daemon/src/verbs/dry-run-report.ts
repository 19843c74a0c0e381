/** What `apply --dry-run` prints: what a real apply would change, in a few plain lines. */
import { IpMasqError, NftError } from '../errors.js';
import type { DryRunResult } from '../reconcile/dry-run.js';
import { plural } from './common.js';

function list(items: readonly string[]): string {
  return items.length === 0 ? 'none' : items.join(', ');
}

export function describeDryRun(r: DryRunResult): string {
  const tables = r.plan.tables
    .map(
      (t) =>
        `${t.family} ip-masq (${plural(t.set.length, 'prefix').replace('prefixs', 'prefixes')})`,
    )
    .join(', ');
  const lines = ['dry run: nothing was changed'];
  lines.push(`  kernel check (nft -c): accepts the transaction for table ${tables}`);
  if (r.reason === null)
    lines.push('  tables: already match the config; apply would not touch them');
  else lines.push(`  tables: apply would replace them (${r.reason})`);
  lines.push(`  CIDRs added (${r.cidrsAdded.length}): ${list(r.cidrsAdded)}`);
  lines.push(`  CIDRs removed (${r.cidrsRemoved.length}): ${list(r.cidrsRemoved)}`);
  lines.push(
    `  flannel MASQUERADE rules apply would delete (${r.flannelWouldDelete.length}):${r.flannelWouldDelete.length === 0 ? ' none' : ''}`,
  );
  for (const d of r.flannelWouldDelete) lines.push(`    ${d.where}: ${d.rule}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** The dry run's own words for a missing CAP_NET_ADMIN: why it needs it, and what needs none. */
export function dryRunPermission(e: unknown): unknown {
  if (!(e instanceof NftError) || e.code !== 'NFT_PERMISSION') return e;
  return new IpMasqError(
    'NFT_PERMISSION',
    `--dry-run needs CAP_NET_ADMIN, as "nft -c" does (the kernel checks the transaction and our tables are read): run it as root (sudo); "ip-masq render --format nft" needs no privilege (${e.message})`,
    { cause: e },
  );
}
