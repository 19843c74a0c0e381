/**
 * Exponential backoff for a failing nft: 250 ms, 500 ms, 1 s, … capped at 30 s, reset by the
 * first success. Deterministic (no jitter): one daemon per node, nobody to de-synchronise from.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
  }

  /** Consecutive failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Records one more failure and returns how long to wait before the next attempt. */
  next(): number {
    const delay = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures);
    this.failures++;
    return delay;
  }

  reset(): void {
    this.failures = 0;
  }
}
