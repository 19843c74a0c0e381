/**
 * The one serialized reconcile loop. Every trigger (config directory events, SIGHUP, the resync
 * timer, nft monitor events) lands here; at most one pass runs at a time, triggers that arrive
 * while a pass runs make exactly one more pass run after it (so a burst of 1,000 writes costs a
 * handful of passes and the last pass always sees the last content), and a failing pass is
 * retried after the delay it asks for.
 *
 * There is deliberately no long debounce: the target is "file written → rules live" in well
 * under 100 ms, so a burst is coalesced by "run again if triggered while running", plus an
 * optional settle of a few ms before a pass starts.
 */

/** Why a pass runs. */
export type Trigger =
  | 'start' // the first pass
  | 'file' // an event in the config directory
  | 'sighup' // systemctl reload
  | 'resync' // the resyncInterval timer (backstop)
  | 'drift' // nft monitor: someone changed our tables
  | 'flannel' // nft monitor: flannel (re-)added a MASQUERADE rule
  | 'facts' // flannel's subnet.env written, renamed into place or deleted (watch-facts.ts)
  | 'retry'; // the backoff timer after a failed pass

/** Triggers that come from the operator: they start a pass even while a retry is pending. */
const OPERATOR_TRIGGERS: ReadonlySet<Trigger> = new Set<Trigger>(['start', 'file', 'sighup']);

export interface PassOutcome {
  /** The pass failed (or must be repeated): run again after this many ms. */
  retryAfterMs?: number;
}

export interface ReconcileLoopOptions {
  /** One pass. Gets the triggers that accumulated since the previous pass, in arrival order. */
  pass: (triggers: Trigger[]) => Promise<PassOutcome | void>;
  /** ms to wait after the first trigger before starting a pass (default 0: next macrotask). */
  settleMs?: number;
  /** A pass threw (a bug: passes report failures through retryAfterMs). */
  onPassError?: (error: unknown) => void;
  /** Retry delay after a pass threw. Default 1000 ms. */
  crashRetryMs?: number;
  now?: () => number;
}

export class ReconcileLoop {
  private readonly pending: Trigger[] = [];
  private running: Promise<void> | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private passStartedAt: number | null = null;
  private idleWaiters: Array<() => void> = [];
  private passCount = 0;

  constructor(private readonly options: ReconcileLoopOptions) {}

  /** Passes run so far. */
  get passes(): number {
    return this.passCount;
  }

  /** True while a retry is scheduled (the previous pass failed). */
  get retrying(): boolean {
    return this.retryTimer !== null;
  }

  /**
   * How long the current pass has been running (0 when idle). The watchdog pings only while
   * this stays short, so a hung nft makes systemd restart us.
   */
  busyFor(): number {
    const now = this.options.now ?? Date.now;
    return this.passStartedAt === null ? 0 : now() - this.passStartedAt;
  }

  trigger(reason: Trigger): void {
    if (this.stopped) return;
    if (!this.pending.includes(reason)) this.pending.push(reason);
    if (this.running || this.settleTimer) return;
    if (this.retryTimer) {
      // Waiting out a backoff: only the operator (an edit, a reload) cuts it short; monitor
      // events and the resync timer wait for the retry, which runs a full pass anyway.
      if (!OPERATOR_TRIGGERS.has(reason)) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.schedule();
  }

  /** Resolves once no pass is running, pending, settling or waiting to retry… or stopped. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** No new passes; resolves when the current pass (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.settleTimer = null;
    this.retryTimer = null;
    this.pending.length = 0;
    if (this.running) await this.running;
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return (
      this.stopped ||
      (!this.running && !this.settleTimer && !this.retryTimer && this.pending.length === 0)
    );
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private schedule(): void {
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.running = this.drain().finally(() => {
        this.running = null;
        this.notifyIdle();
      });
    }, this.options.settleMs ?? 0);
  }

  private async drain(): Promise<void> {
    const now = this.options.now ?? Date.now;
    while (this.pending.length > 0 && !this.stopped) {
      const triggers = this.pending.splice(0);
      let outcome: PassOutcome | void;
      this.passStartedAt = now();
      this.passCount++;
      try {
        outcome = await this.options.pass(triggers);
      } catch (e) {
        this.options.onPassError?.(e);
        outcome = { retryAfterMs: this.options.crashRetryMs ?? 1000 };
      } finally {
        this.passStartedAt = null;
      }
      if (this.stopped) return;
      if (outcome && outcome.retryAfterMs !== undefined) {
        // Triggers that arrived during the failed pass: an operator edit deserves an immediate
        // attempt, anything else is covered by the retry.
        const operator = this.pending.filter((t) => OPERATOR_TRIGGERS.has(t));
        this.pending.length = 0;
        if (operator.length > 0) {
          this.pending.push(...operator);
          continue;
        }
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.trigger('retry');
        }, outcome.retryAfterMs);
        return;
      }
    }
  }
}
