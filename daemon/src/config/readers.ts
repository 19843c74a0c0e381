/**
 * Readers for the scalar settings: YAML node → typed value, or a message at the node that is
 * wrong. Each returns undefined after reporting; the wording is the operator's one line
 * (what was expected, what was found, and the fix when there is an obvious one).
 */
import { isScalar } from 'yaml';
import { MAX_RESYNC_INTERVAL_MS } from './defaults.js';
import { parseGoDuration } from './duration.js';
import { reportAt, type Field, type ReadContext } from './setting.js';
import {
  parseMetricsListen,
  parsePortRanges,
  type MetricsListen,
  type PortRange,
} from './values.js';

const YAML11_TRUE = new Set(['yes', 'y', 'on']);
const YAML11_FALSE = new Set(['no', 'n', 'off']);

export function readBool(field: Field, cx: ReadContext): boolean | undefined {
  const { node } = field;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  let hint = '';
  if (isScalar(node) && typeof node.value === 'string') {
    const lower = node.value.toLowerCase();
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    if (quoted && (lower === 'true' || lower === 'false')) hint = `; write ${lower} without quotes`;
    else if (YAML11_TRUE.has(lower)) hint = '; write true (YAML 1.2 reads yes/on as a string)';
    else if (YAML11_FALSE.has(lower)) hint = '; write false (YAML 1.2 reads no/off as a string)';
  } else if (isScalar(node) && (node.value === 0 || node.value === 1)) {
    hint = `; write ${node.value === 1 ? 'true' : 'false'}`;
  }
  reportAt(cx, field, `expected boolean, got ${cx.describe(node)}${hint}`);
  return undefined;
}

/** A Go duration string ("60s", "1m30s"), greater than zero and within Node's timer range. */
export function readDuration(field: Field, cx: ReadContext): string | undefined {
  const { node } = field;
  if (!isScalar(node) || typeof node.value !== 'string') {
    const n = isScalar(node) && typeof node.value === 'number' ? node.value : null;
    const hint = n !== null && n > 0 ? `; add a unit, e.g. "${n}s"` : '';
    reportAt(
      cx,
      field,
      `expected a Go duration string such as "60s" or "1m30s", got ${cx.describe(node)}${hint}`,
    );
    return undefined;
  }
  const text = node.value;
  const ms = parseGoDuration(text);
  let problem: string | null = null;
  if (ms === null)
    problem = `${JSON.stringify(text)} is not a Go duration (a number with a unit ns, us, ms, s, m or h, e.g. "60s", "1m30s", "1.5h")`;
  else if (ms <= 0)
    problem = `${JSON.stringify(text)} must be greater than zero (it is how often the rules are re-checked)`;
  else if (ms > MAX_RESYNC_INTERVAL_MS)
    problem = `${JSON.stringify(text)} is longer than the maximum "596h31m23.647s" (Node timers cannot wait longer)`;
  if (problem === null) return text;
  reportAt(cx, field, problem);
  return undefined;
}

export function readWholeNumber(field: Field, cx: ReadContext): number | undefined {
  const { node } = field;
  if (
    isScalar(node) &&
    typeof node.value === 'number' &&
    Number.isSafeInteger(node.value) &&
    node.value >= 0
  ) {
    return node.value;
  }
  reportAt(cx, field, `expected a non-negative whole number, got ${cx.describe(node)}`);
  return undefined;
}

/** `toPorts`: ip-masq-agent's interval list; empty (null or "") means off. */
export function readPortRanges(field: Field, cx: ReadContext): PortRange[] | undefined {
  const { node } = field;
  // `toPorts:` (null) and `toPorts: ""` mean off, like upstream's default empty flag.
  if (isScalar(node) && (node.value === null || node.value === '')) return [];
  if (!isScalar(node) || typeof node.value !== 'string') {
    const n = isScalar(node) && typeof node.value === 'number' ? node.value : null;
    const hint = n !== null ? `; quote it: toPorts: "${String(n)}"` : '';
    reportAt(
      cx,
      field,
      `expected a string of port ranges such as "1024-29999,32768-65535", got ${cx.describe(node)}${hint}`,
    );
    return undefined;
  }
  const parsed = parsePortRanges(node.value);
  if (parsed.ok) return parsed.ranges;
  reportAt(cx, field, parsed.reason);
  return undefined;
}

/** An absolute path; `example` names a typical value in the message. */
export function readAbsolutePath(
  example: string,
): (field: Field, cx: ReadContext) => string | undefined {
  return (field, cx) => {
    const v = field.node;
    if (isAbsolutePath(v)) return v.value;
    reportAt(cx, field, `expected an absolute path such as "${example}", got ${cx.describe(v)}`);
    return undefined;
  };
}

/** An absolute directory (trailing slashes dropped); empty means off (null). */
export function readOptionalDirectory(
  example: string,
): (field: Field, cx: ReadContext) => string | null | undefined {
  return (field, cx) => {
    const v = field.node;
    // `textfileDir:` with no value: off, the same as leaving it out.
    if (isScalar(v) && v.value === null) return null;
    if (isAbsolutePath(v)) return v.value.length > 1 ? v.value.replace(/\/+$/, '') : v.value;
    reportAt(
      cx,
      field,
      `expected an absolute directory such as "${example}", got ${cx.describe(v)}`,
    );
    return undefined;
  };
}

function isAbsolutePath(v: Field['node']): v is Field['node'] & { value: string } {
  return (
    isScalar(v) && typeof v.value === 'string' && v.value.startsWith('/') && !v.value.includes('\0')
  );
}

/** `metrics.listen`: ADDRESS:PORT (see values.ts); empty means no socket (null). */
export function readListen(field: Field, cx: ReadContext): MetricsListen | null | undefined {
  const v = field.node;
  // `listen:` with no value: no socket.
  if (isScalar(v) && v.value === null) return null;
  if (isScalar(v) && (typeof v.value === 'string' || typeof v.value === 'number')) {
    const parsed = parseMetricsListen(String(v.value));
    if (parsed.ok) return parsed.listen;
    reportAt(cx, field, parsed.reason);
    return undefined;
  }
  reportAt(cx, field, `expected "ADDRESS:PORT" such as "127.0.0.1:9817", got ${cx.describe(v)}`);
  return undefined;
}
