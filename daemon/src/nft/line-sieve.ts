/**
 * Splits `nft monitor`'s stdout into lines and drops the ones that cannot concern us before
 * they are decoded into strings. While the rule-level monitor runs on a kube-proxy node, nft
 * prints thousands of foreign rules a second; readline turned every one into a string and an
 * event (≈ 11 µs a line here). The sieve looks for its needles in each whole chunk first (one
 * native byte search per needle; a chunk holds many lines under a burst) and splits only the
 * chunks that contain one.
 */
const NEWLINE = 0x0a;

export class LineSieve {
  private pending: Buffer | null = null;
  private readonly needles: readonly Buffer[] | null;

  /** `needles`: a line is kept when it contains any of them; none given keeps every line. */
  constructor(
    needles: readonly string[] | undefined,
    private readonly onLine: (line: string) => void,
  ) {
    this.needles = needles && needles.length > 0 ? needles.map((n) => Buffer.from(n)) : null;
  }

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const last = buf.lastIndexOf(NEWLINE);
    if (last < 0) {
      this.pending = buf;
      return;
    }
    // Copied: a view would keep the whole chunk alive.
    this.pending = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
    const whole = buf.subarray(0, last + 1);
    if (!this.wanted(whole)) return;
    let start = 0;
    while (start < whole.length) {
      const nl = whole.indexOf(NEWLINE, start);
      const line = whole.subarray(start, nl);
      start = nl + 1;
      if (this.wanted(line)) this.onLine(line.toString('utf8'));
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest && rest.length > 0 && this.wanted(rest)) this.onLine(rest.toString('utf8'));
  }

  private wanted(bytes: Buffer): boolean {
    return this.needles === null || this.needles.some((n) => bytes.includes(n));
  }
}
