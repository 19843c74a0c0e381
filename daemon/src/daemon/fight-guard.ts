/**
 * Someone keeps rewriting or deleting our table (another agent, a script in a loop): the daemon
 * restores it each time, but not as fast as it can. This counts consecutive passes that had to
 * rewrite the table on machine triggers alone and, past a threshold, says how long to wait.
 * Pure apart from the Backoff it owns.
 */
import { Backoff } from '../util/backoff.js';
import type { Trigger } from './loop.js';

/** Triggers that do not come from the operator: a table rewrite on these alone may be a fight. */
const MACHINE_TRIGGERS: ReadonlySet<Trigger> = new Set<Trigger>([
  'drift',
  'flannel',
  'retry',
  'resync',
]);

export class FightGuard {
  private count = 0;
  private readonly backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });

  /** `threshold`: consecutive machine-triggered rewrites before the daemon slows down. */
  constructor(private readonly threshold = 5) {}

  /** One pass done; null when it is no fight (yet), else how many restores and the delay. */
  record(triggers: Trigger[], rewrote: boolean): { restored: number; delayMs: number } | null {
    if (!rewrote || !triggers.every((t) => MACHINE_TRIGGERS.has(t))) {
      this.count = 0;
      this.backoff.reset();
      return null;
    }
    this.count++;
    if (this.count < this.threshold) return null;
    return { restored: this.count, delayMs: this.backoff.next() };
  }
}
