/**
 * The daemon's backend: the NftClient, with every listing sent to one long-lived `nft -j -i`
 * (session.ts) instead of a new nft process each. A pass lists six to eight objects (our two
 * tables, flannel's candidate chains, the read-back); spawning nft for each cost ≈ 4 ms of CPU
 * (Node's fork plus nft's start-up), the session ≈ 0.1 ms. That matters where passes are
 * frequent: flanneld with --ip-masq re-adds every 5 s on a node with kube-proxy's churn
 * (docs/ARCHITECTURE.md, "The monitor").
 *
 * A listing the session cannot answer (nft died, timed out, printed something unexpected) is
 * asked again of a one-shot nft, whose errors are the classified ones (permission, missing
 * binary, no JSON). Three such failures in a row and the session is left alone for 10 min.
 */
import type { NftBackend, NftEventHandlers, NftEventStream, NftProbe } from './backend.js';
import type { NftListSession } from './session.js';
import type { NftBatch, NftListing } from './types.js';

const BYPASS_AFTER_FAILURES = 3;
const BYPASS_MS = 600_000;

export class SessionBackedNft implements NftBackend {
  private readonly session: NftListSession;
  private failures = 0;
  private bypassUntil = 0;

  constructor(
    private readonly inner: NftBackend,
    private readonly now: () => number = Date.now,
  ) {
    this.session = inner.openSession();
  }

  get argv(): readonly string[] | undefined {
    return this.inner.argv;
  }

  describe(args?: readonly string[]): string {
    return this.inner.describe(args);
  }

  async list(what: readonly string[]): Promise<NftListing | null> {
    if (this.now() < this.bypassUntil) return this.inner.list(what);
    try {
      const listing = await this.session.list(what);
      this.failures = 0;
      return listing;
    } catch {
      // An nft whose interactive mode does not work here would cost a failed child per listing
      // on top of the one-shot: after a few failures in a row, one-shot only for a while.
      if (++this.failures >= BYPASS_AFTER_FAILURES) {
        this.failures = 0;
        this.bypassUntil = this.now() + BYPASS_MS;
        this.session.close();
      }
      return this.inner.list(what);
    }
  }

  applyBatch(batch: NftBatch, options?: { check?: boolean }): Promise<void> {
    return this.inner.applyBatch(batch, options);
  }

  probe(): Promise<NftProbe> {
    return this.inner.probe();
  }

  monitor(handlers: NftEventHandlers): NftEventStream {
    return this.inner.monitor(handlers);
  }

  /** The one session (the poll of flannel's chains shares it with the passes). */
  openSession(): NftListSession {
    return { list: (what) => this.list(what), close: () => this.session.close() };
  }

  close(): void {
    this.session.close();
  }
}
