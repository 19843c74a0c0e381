/**
 * flannel's re-adds seen by listing its chains, while a co-tenant's churn floods the rule
 * monitor (nft/scoped-monitor.ts polls through this instead). Only the chains the daemon deleted
 * flannel rules from, or saw flanneld create, are listed: ≈ 1 ms of nft each, however large the
 * rest of the nat table is (`nft list chain` fetches that chain's rules only).
 */
import { mayBeFlannelMasquerade } from '../flannel/match.js';
import type { NftBackend } from '../nft/backend.js';

export interface ChainRef {
  family: string;
  table: string;
  chain: string;
}

export class FlannelChainPoll {
  private readonly chains = new Map<string, ChainRef>();
  /**
   * Per chain, the handles of the candidate rules last reported. A re-added rule gets a new
   * handle; a MASQUERADE the pass decided is not flannel's (docker's in `nat POSTROUTING`) keeps
   * its handle and is reported once, not twice a second.
   */
  private readonly reported = new Map<string, Set<number>>();

  constructor(
    private readonly list: NftBackend['list'],
    private readonly onReadd: (where: ChainRef) => void,
  ) {}

  /** Chains to list from now on (at most flannel's candidate chains: six). */
  note(refs: Iterable<ChainRef>): void {
    for (const { family, table, chain } of refs)
      this.chains.set(`${family} ${table} ${chain}`, { family, table, chain });
  }

  get chainCount(): number {
    return this.chains.size;
  }

  /** Lists every noted chain; reports the first that holds a candidate rule not reported yet. */
  async poll(): Promise<void> {
    for (const [key, ref] of this.chains) {
      const listing = await this.list(['chain', ref.family, ref.table, ref.chain]);
      const handles = new Set<number>();
      for (const o of listing ?? []) {
        if (!('rule' in o) || typeof o.rule.handle !== 'number') continue;
        if (mayBeFlannelMasquerade(ref.family, ref.table, ref.chain, o.rule.expr))
          handles.add(o.rule.handle);
      }
      const before = this.reported.get(key);
      this.reported.set(key, handles);
      if ([...handles].some((h) => !before?.has(h))) {
        this.onReadd(ref);
        return;
      }
    }
  }
}
