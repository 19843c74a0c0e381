/**
 * The daemon's view of ruleset changes, paid for in proportion to what concerns us rather than
 * to a co-tenant's churn. On a kube-proxy (iptables mode) node every Service change rewrites
 * thousands of nat rules; an unfiltered `nft -j monitor` decodes and prints each of them, and
 * the daemon's tree spent ~29 % of a core on 4,000 rules/s. nft drops the object types it was
 * not asked for before decoding them, so (figures and reasoning in docs/ARCHITECTURE.md):
 *
 *   always     `nft -j monitor chains`: our tables deleted (`delete table` and `flush ruleset`
 *              delete every chain first), our base chain deleted or redefined.
 *   on demand  `nft -j monitor new rules`, from the start and while flannel MASQUERADE rules
 *              were deleted within the last `ruleWindowMs` (flanneld with --ip-masq re-adds them
 *              every 5 s): such a re-add is seen at once. It stops after a window without one.
 *   resync     the rest (rule and set-element edits inside our tables, a flannel re-add after a
 *              quiet window): the resync timer's full pass reads and repairs them.
 */
import type { NftEventHandlers, NftEventStream } from './backend.js';
import type { MonitorEvent } from './monitor.js';

/** flannel/episodes.ts's quiet period: a re-add episode and the rule watch end together. */
export const DEFAULT_RULE_WINDOW_MS = 120_000;

export type MonitorScope = 'chains' | 'rules';

export interface ScopedMonitorOptions {
  /** Opens one filtered event stream (NftBackend.monitor). */
  open: (handlers: NftEventHandlers) => NftEventStream;
  onEvent: (ev: MonitorEvent) => void;
  /** A child started; restarts > 0 means events may have been lost while it was down. */
  onStart?: (restarts: number, scope: MonitorScope) => void;
  onExit?: (reason: string, retryInMs: number, scope: MonitorScope) => void;
  /** Lines containing none of these are dropped undecoded (monitor.ts CONCERN_NEEDLES). */
  mustContainAny?: readonly string[];
  /** Either child reported events lost to a netlink overrun. */
  onLost?: () => void;
  /** How long the rule watch stays on after the last watchRules(). Default 120 s. */
  ruleWindowMs?: number;
}

export class ScopedMonitor {
  private readonly chains: NftEventStream;
  private rules: NftEventStream | null = null;
  private windowTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: ScopedMonitorOptions) {
    this.chains = this.child('chains', ['chains']);
  }

  /** True while the rule-level monitor runs (a flannel window is open). */
  get watchingRules(): boolean {
    return this.rules !== null;
  }

  /** True while the always-on chain monitor's child runs. */
  get running(): boolean {
    return this.chains.running;
  }

  start(): void {
    this.chains.start();
  }

  /**
   * Opens (or extends) the window in which rule additions are watched live: called after every
   * pass that deleted flannel MASQUERADE rules.
   */
  watchRules(): void {
    if (this.stopped) return;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => {
      this.windowTimer = null;
      void this.stopRules();
    }, this.options.ruleWindowMs ?? DEFAULT_RULE_WINDOW_MS);
    this.windowTimer.unref?.();
    if (this.rules) return;
    this.rules = this.child('rules', ['new', 'rules']);
    this.rules.start();
  }

  /** Kills both children and stops restarting them. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    await Promise.all([this.chains.stop(), this.stopRules()]);
  }

  private async stopRules(): Promise<void> {
    const rules = this.rules;
    this.rules = null;
    if (rules) this.stopping = rules.stop();
    await this.stopping;
  }

  private child(scope: MonitorScope, objects: string[]): NftEventStream {
    const { onStart, onExit, mustContainAny, onLost } = this.options;
    return this.options.open({
      objects,
      onEvent: this.options.onEvent,
      ...(mustContainAny ? { mustContainAny } : {}),
      ...(onLost ? { onLost } : {}),
      onStart: (restarts) => onStart?.(restarts, scope),
      onExit: (why, retryInMs) => onExit?.(why, retryInMs, scope),
    });
  }
}
