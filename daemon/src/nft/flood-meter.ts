/**
 * Whether an event stream is flooding: bytes per tumbling one-second window against a limit.
 * Bytes, not lines, because they are free to count on a raw stdout chunk (line-sieve.ts never
 * splits most chunks); a rule event of nft 1.0.6's JSON is ≈ 330 bytes.
 */
export class FloodMeter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private bytes = 0;

  constructor(
    private readonly limitBytes: number,
    private readonly windowMs = 1000,
  ) {}

  /** Adds `bytes` received at `now` (ms); true once the current window holds more than the limit. */
  add(bytes: number, now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.bytes = 0;
    }
    this.bytes += bytes;
    return this.bytes > this.limitBytes;
  }

  /** Bytes counted in the current window (for the log line that reports a flood). */
  get current(): number {
    return this.bytes;
  }
}
