/**
 * The I/O half of flannel removal: list the candidate chains, match, delete by handle in one
 * transaction. Call it only after ip-masq's own table is in place: if the deleted rule was the
 * namespace's last NAT user, the conntrack NAT hooks go away and even existing flows lose their
 * translation (reference §2.2).
 *
 * Only ever `delete rule … handle N` in iptables-nft's tables, never an add: iptables-nft-save
 * refuses or mis-renders tables with native rules in them.
 */
import { NftError } from '../errors.js';
import type { NftBackend } from '../nft/backend.js';
import type { NftRule } from '../nft/types.js';
import {
  deleteRulesBatch,
  findFlannelMasquerade,
  flannelCandidateChains,
  type ChainListing,
  type FlannelMatchOptions,
  type FlannelRuleRef,
} from './match.js';
import {
  attributeFlannelRules,
  type Attribution,
  type AttributionDeps,
  type KeptRule,
} from './attribute.js';
import type { FlannelFacts } from './subnet-env.js';

/**
 * Lists every candidate chain (in parallel: each is one short nft process). A missing table or
 * chain is normal — iptables-nft creates even built-in chains lazily — and is left out.
 */
export async function listFlannelCandidates(
  client: NftBackend,
  opts: FlannelMatchOptions,
): Promise<ChainListing[]> {
  const chains = flannelCandidateChains(opts);
  const listed = await Promise.all(
    chains.map(async ([family, table, chain]): Promise<ChainListing | null> => {
      const listing = await client.list(['chain', family, table, chain]);
      if (listing === null) return null;
      const rules = listing.flatMap((o): NftRule[] => ('rule' in o ? [o.rule] : []));
      return { family, table, chain, rules };
    }),
  );
  return listed.filter((l): l is ChainListing => l !== null);
}

/** Lists, matches by shape, then keeps only what is flannel's by its comment (attribute.ts). */
export async function findAttributedFlannel(
  client: NftBackend,
  facts: FlannelFacts | null,
  opts: FlannelMatchOptions,
  deps: AttributionDeps = {},
): Promise<Attribution> {
  const listings = await listFlannelCandidates(client, opts);
  return attributeFlannelRules(
    client,
    listings,
    findFlannelMasquerade(listings, facts, opts),
    deps,
  );
}

/**
 * One removal pass: list → match → attribute → one delete batch. Returns the rules it deleted (empty when
 * there were none). If a rule vanished between listing and deleting (flanneld re-creating its
 * rules deletes and re-adds them), the whole batch is rejected with ENOENT; the pass re-lists
 * and retries once, then gives up with that error.
 */
export async function removeFlannelMasquerade(
  client: NftBackend,
  facts: FlannelFacts | null,
  opts: FlannelMatchOptions,
  deps: AttributionDeps & { onKept?: (kept: KeptRule[]) => void } = {},
): Promise<FlannelRuleRef[]> {
  for (let attempt = 1; ; attempt++) {
    const found = await findAttributedFlannel(client, facts, opts, deps);
    deps.onKept?.(found.kept);
    const refs = found.flannel;
    if (refs.length === 0) return refs;
    try {
      await client.applyBatch(deleteRulesBatch(refs));
      return refs;
    } catch (e) {
      if (attempt >= 2 || !(e instanceof NftError) || !e.isNotFound) throw e;
    }
  }
}
