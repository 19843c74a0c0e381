/**
 * The daemon's view of ruleset changes, paid for in proportion to what concerns us rather than
 * to a co-tenant's churn. On a kube-proxy (iptables mode) node every Service change rewrites
 * thousands of nat rules; an unfiltered `nft -j monitor` decodes and prints each of them, and
 * the daemon's tree spent ~29 % of a core on 4,000 rules/s. nft drops the object types it was
 * not asked for before decoding them, so (figures and reasoning in docs/ARCHITECTURE.md):
 *
 *   always     `nft -j monitor chains`: our tables deleted (`delete table` and `flush ruleset`
 *              delete every chain first), our base chain deleted or redefined, flannel's chains
 *              created.
 *   on demand  flannel's re-adds are watched from the start and while flannel MASQUERADE rules
 *              were deleted within the last `ruleWindowMs` (flanneld with --ip-masq re-adds them
 *              every 5 s); the watch stops after a window without a deletion. Two ways:
 *     stream   `nft -j monitor new rules`: a re-add is seen at once. nft decodes every rule of
 *              every table to print it, so on a churning node this alone costs ≈ 8 % of a core
 *              at 4,000 rules/s;
 *     poll     hence when that stream floods (more than `floodBytesPerS`), it is stopped and
 *              `poll` runs every `pollMs` instead (the daemon lists the chains flannel's rules
 *              were deleted from through its long-lived nft session, ≈ 0.1 ms each). A probe
 *              restarts the stream after a backoff (2 min doubling to 30 min: each probe decodes
 *              one more burst, and the poll is nearly as quick) to see whether the churn has
 *              calmed. A window opened more than 30 min after the last flood tries the stream
 *              first.
 *   resync     the rest (rule and set-element edits inside our tables, a flannel re-add after a
 *              quiet window): the resync timer's full pass reads and repairs them.
 */
import { Backoff } from '../util/backoff.js';
import type { NftEventHandlers, NftEventStream } from './backend.js';
import { FloodMeter } from './flood-meter.js';
import type { MonitorEvent } from './monitor.js';

/** flannel/episodes.ts's quiet period: a re-add episode and the rule watch end together. */
export const DEFAULT_RULE_WINDOW_MS = 120_000;
/** ≈ 200 rule events a second: where the rule stream's cost passes ≈ 0.5 % of a core. */
export const DEFAULT_FLOOD_BYTES_PER_S = 64 * 1024;
/**
 * Twice a second: a look through the daemon's nft session (session.ts) costs ≈ 0.2 ms of nft
 * and, in the unit's `--lite-mode` node, ≈ 1 ms of Node, so ≈ 0.25 % of a core; a re-add is
 * deleted within ≈ 0.6 s (flanneld itself looks every 5 s; the target is 1 s). Four looks a
 * second measured ≈ 0.3 % more at 4,000 co-tenant rules/s.
 */
export const DEFAULT_POLL_MS = 500;
/** A probe's stream overlaps the poll this long: nft needs a moment to subscribe. */
const PROBE_OVERLAP_MS = 1000;
/** A stream that ran this long before flooding counts as a calm spell: probes start over. */
const CALM_SPELL_MS = 60_000;
/** A window opened this long after the last flood starts with the stream, not the poll. */
export const FLOOD_MEMORY_MS = 1_800_000;

export type MonitorScope = 'chains' | 'rules';
/** How flannel's re-adds are watched right now. */
export type RuleWatch = 'off' | 'stream' | 'poll';

export interface FloodInfo {
  /** Bytes the rule stream printed in the second that tripped the limit. */
  bytesInSecond: number;
  /** When the stream is tried again. */
  probeInMs: number;
}

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
  /**
   * Looks for flannel's re-adds without the rule stream. Without it the stream runs whatever
   * it costs (no flood handling).
   */
  poll?: () => Promise<void>;
  pollMs?: number;
  floodBytesPerS?: number;
  /** The stream flooded and was replaced by the poll. */
  onFlood?: (info: FloodInfo) => void;
  /** A probe's stream stayed calm: the poll is over. */
  onCalm?: () => void;
  /** Probe delays (default 2 min doubling to 30 min). */
  probeBackoff?: Backoff;
  now?: () => number;
}

export class ScopedMonitor {
  private readonly chains: NftEventStream;
  private rules: NftEventStream | null = null;
  private rulesStartedAt = 0;
  private windowTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private stopped = false;
  /** The rule stream flooded and no probe has found it calm since. Outlives windows. */
  private flooded = false;
  private floodedAt = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  private pollRunning = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private calmTimer: NodeJS.Timeout | null = null;
  private readonly probes: Backoff;
  private readonly now: () => number;

  constructor(private readonly options: ScopedMonitorOptions) {
    this.chains = this.child('chains', ['chains']);
    this.probes = options.probeBackoff ?? new Backoff({ initialMs: 120_000, maxMs: 1_800_000 });
    this.now = options.now ?? Date.now;
  }

  /** True while flannel's re-adds are watched (a window is open), by stream or by poll. */
  get watchingRules(): boolean {
    return this.windowTimer !== null;
  }

  get ruleWatch(): RuleWatch {
    if (!this.watchingRules) return 'off';
    return this.flooded ? 'poll' : 'stream';
  }

  /** True while the always-on chain monitor's child runs. */
  get running(): boolean {
    return this.chains.running;
  }

  start(): void {
    this.chains.start();
  }

  /**
   * Opens (or extends) the window in which flannel's re-adds are watched: called after every
   * pass that deleted flannel MASQUERADE rules.
   */
  watchRules(): void {
    if (this.stopped) return;
    const opening = this.windowTimer === null;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => {
      this.windowTimer = null;
      void this.closeWindow();
    }, this.options.ruleWindowMs ?? DEFAULT_RULE_WINDOW_MS);
    this.windowTimer.unref?.();
    if (!opening) return;
    // A flood long ago says little about now: try the stream first again.
    if (this.flooded && this.now() - this.floodedAt >= FLOOD_MEMORY_MS) {
      this.flooded = false;
      this.probes.reset();
    }
    if (this.flooded) {
      this.startPolling();
      this.scheduleProbe(this.probes.next());
    } else this.startStream();
  }

  /** Kills both children, ends the poll and stops restarting anything. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    await Promise.all([this.chains.stop(), this.closeWindow()]);
  }

  private async closeWindow(): Promise<void> {
    for (const t of [this.pollTimer, this.probeTimer, this.calmTimer]) if (t) clearTimeout(t);
    this.pollTimer = this.probeTimer = this.calmTimer = null;
    await this.stopStream();
  }

  private startStream(): void {
    const meter = new FloodMeter(this.options.floodBytesPerS ?? DEFAULT_FLOOD_BYTES_PER_S);
    const stream = this.child('rules', ['new', 'rules'], (bytes) => {
      if (this.rules !== stream || !meter.add(bytes, this.now())) return;
      this.onFlood(meter.current);
    });
    this.rules = stream;
    this.rulesStartedAt = this.now();
    stream.start();
  }

  private async stopStream(): Promise<void> {
    const rules = this.rules;
    this.rules = null;
    if (rules) this.stopping = rules.stop();
    await this.stopping;
  }

  private onFlood(bytesInSecond: number): void {
    if (this.calmTimer) clearTimeout(this.calmTimer);
    this.calmTimer = null;
    if (this.now() - this.rulesStartedAt >= CALM_SPELL_MS) this.probes.reset();
    this.stopStream().catch(() => undefined);
    const probeInMs = this.probes.next();
    const wasPolling = this.flooded;
    this.flooded = true;
    this.floodedAt = this.now();
    if (!wasPolling) this.startPolling();
    this.scheduleProbe(probeInMs);
    this.options.onFlood?.({ bytesInSecond, probeInMs });
  }

  /** Tries the stream again; the poll goes on until the stream has been calm for a moment. */
  private scheduleProbe(delayMs: number): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.stopped || !this.watchingRules || this.rules) return;
      this.startStream();
      this.calmTimer = setTimeout(() => {
        this.calmTimer = null;
        if (!this.rules) return;
        this.flooded = false;
        this.options.onCalm?.();
      }, PROBE_OVERLAP_MS);
      this.calmTimer.unref?.();
    }, delayMs);
    this.probeTimer.unref?.();
  }

  private startPolling(): void {
    const poll = this.options.poll;
    if (!poll || this.pollTimer || this.pollRunning) return;
    const tick = async (): Promise<void> => {
      this.pollTimer = null;
      if (this.stopped || !this.flooded || !this.watchingRules) return;
      this.pollRunning = true;
      try {
        await poll();
      } catch {
        // The poll reports its own failures; the resync timer is the backstop either way.
      } finally {
        this.pollRunning = false;
      }
      if (this.stopped || !this.flooded || !this.watchingRules) return;
      this.pollTimer = setTimeout(() => void tick(), this.options.pollMs ?? DEFAULT_POLL_MS);
      this.pollTimer.unref?.();
    };
    void tick();
  }

  private child(
    scope: MonitorScope,
    objects: string[],
    onVolume?: (bytes: number) => void,
  ): NftEventStream {
    const { onStart, onExit, mustContainAny, onLost } = this.options;
    return this.options.open({
      objects,
      onEvent: this.options.onEvent,
      ...(mustContainAny ? { mustContainAny } : {}),
      ...(onLost ? { onLost } : {}),
      ...(onVolume && this.options.poll ? { onVolume } : {}),
      onStart: (restarts) => onStart?.(restarts, scope),
      onExit: (why, retryInMs) => onExit?.(why, retryInMs, scope),
    });
  }
}
