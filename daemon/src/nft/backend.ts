/**
 * The seam between ip-masq and nftables: everything the program asks of nft, as one interface.
 * Two implementations: NftClient (client.ts + monitor.ts: runs the real binary) and the
 * in-memory fake the unit tests drive reconcile and the flannel pass with (test/helpers/).
 */
import type { MonitorEvent } from './monitor.js';
import type { NftListSession } from './session.js';
import type { NftBatch, NftListing } from './types.js';

export interface NftProbe {
  /** e.g. "1.0.6" */
  version: string;
}

/** What a consumer of the event stream is told (see NftMonitorOptions in monitor.ts). */
export interface NftEventHandlers {
  /**
   * nft's own event filter (`nft -j monitor new rules` is ['new', 'rules']); default: every
   * event. Filtered-out events are dropped by nft before it decodes them.
   */
  objects?: readonly string[];
  onEvent: (ev: MonitorEvent) => void;
  /** The stream started (first time or after a restart). */
  onStart?: (restarts: number) => void;
  /** The stream broke; it is restarted after `retryInMs`. */
  onExit?: (reason: string, retryInMs: number) => void;
  /** Cheap test on the raw line before it is parsed (a busy node streams many events). */
  prefilter?: (line: string) => boolean;
  /** Lines containing none of these are dropped before they are decoded (the cheap prefilter). */
  mustContainAny?: readonly string[];
  /** Events were lost (netlink overrun): whatever they were, look again. */
  onLost?: () => void;
  /** Bytes the stream printed, before any filter: what a flood detector counts. */
  onVolume?: (bytes: number) => void;
}

/** A running `nft -j monitor` (or its fake): start it once, stop it once. */
export interface NftEventStream {
  start(): void;
  /** Stops the stream and any restart; resolves once it is gone. */
  stop(): Promise<void>;
  readonly running: boolean;
}

export interface NftBackend {
  /**
   * argv that runs nft, when a binary is run (NftClient): tools reading the same ruleset
   * (iptables-nft-save, flannel/attribute.ts) run with the same prefix, e.g. `ip netns exec x`.
   */
  readonly argv?: readonly string[];
  /** A human-readable form of how nft is run (`nft`, `ip netns exec x nft`), for messages. */
  describe(args?: readonly string[]): string;
  /**
   * `nft -j list <what…>` (e.g. ['table','ip','ip-masq']) without the metainfo entry, or null
   * when the object does not exist.
   */
  list(what: readonly string[]): Promise<NftListing | null>;
  /**
   * One transaction (`nft -j -f -`): all of it or none of it. `check` only validates it
   * (`nft -c`). Rejects with an NftError; success is not proof, callers read back.
   */
  applyBatch(batch: NftBatch, options?: { check?: boolean }): Promise<void>;
  /** nft runs, has JSON support, and may read the ruleset; rejects with a classified NftError. */
  probe(): Promise<NftProbe>;
  /** The change stream (`nft -j monitor`), not yet started. */
  monitor(handlers: NftEventHandlers): NftEventStream;
  /**
   * Listings asked for many times a second (a poll): one long-lived nft (session.ts) instead of
   * one process per listing. Started at its first list().
   */
  openSession(): NftListSession;
}
