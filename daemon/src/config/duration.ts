/** Go duration strings, the syntax ip-masq-agent's `resyncInterval` uses. Pure. */

/** Go's time.ParseDuration grammar: "0", or a sequence of decimal numbers each with a unit. */
const GO_DURATION = /^[-+]?(?:0|(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;
const GO_DURATION_PART = /([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)/g;
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
/** Go durations are int64 nanoseconds. */
const GO_DURATION_MAX_NS = 9223372036854775807;

/**
 * Parse a Go duration string (`"60s"`, `"1m30s"`, `"1.5h"`, `"500ms"`, `"-5s"`, `"0"`), the
 * syntax upstream's `resyncInterval` uses. Returns milliseconds, or null if Go would reject it.
 */
export function parseGoDuration(text: string): number | null {
  if (!GO_DURATION.test(text)) return null;
  const negative = text.startsWith('-');
  let ns = 0;
  for (const m of text.matchAll(GO_DURATION_PART)) {
    const whole = m[1] === '' ? 0 : Number(m[1]);
    const fraction = m[2] ? Number(`0.${m[2]}`) : 0;
    ns += (whole + fraction) * (UNIT_NS[m[3] as string] as number);
  }
  if (ns > GO_DURATION_MAX_NS) return null;
  const ms = ns / 1e6;
  return negative && ms !== 0 ? -ms : ms;
}
