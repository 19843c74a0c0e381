/**
 * Parsers for the string-valued settings whose syntax is not YAML's: `toPorts` (ip-masq-agent's
 * `--to-ports` interval list) and `metrics.listen` (ADDRESS:PORT). Pure; each returns a reason
 * worded for the operator instead of throwing.
 */
import { formatIp, parseIp } from '../net/cidr.js';

/** One `toPorts` interval: source ports `first`..`last` inclusive (equal for a single port). */
export interface PortRange {
  first: number;
  last: number;
}

/** Where `/metrics` is served. */
export interface MetricsListen {
  /** An IP literal ("127.0.0.1", "::1", "0.0.0.0"). */
  host: string;
  port: number;
  /** 127.0.0.0/8 or ::1: anything else is logged as a warning at start. */
  loopback: boolean;
}

const INTERVAL = /^([0-9]+)(?:-([0-9]+))?$/;

/**
 * `"1024-29999,32768-65535"`, `"5000"`: upstream's interval syntax (pkg/interval): comma-separated
 * `N` or `N-M`, no spaces, no open ends, `N <= M`. Rejected like upstream: `42 - 44`,
 * `42-43-44`, `4x`, `-44`, `42-`, `42-41`, `42, 43`. Duplicates, overlaps and order are kept, as
 * upstream keeps them. Stricter than upstream: every port must be 1–65535 (upstream leaves that
 * to iptables-restore, which then fails on every resync).
 */
export function parsePortRanges(
  text: string,
): { ok: true; ranges: PortRange[] } | { ok: false; reason: string } {
  const ranges: PortRange[] = [];
  const parts = text.split(',');
  for (const part of parts) {
    const m = INTERVAL.exec(part);
    if (!m) {
      const why =
        part === ''
          ? 'has an empty entry'
          : part.trim() !== part
            ? `has spaces around "${part.trim()}"`
            : `has "${part}", which is not a port N or a range N-M`;
      return {
        ok: false,
        reason: `${JSON.stringify(text)} ${why}; write comma-separated ports or ranges without spaces, e.g. "1024-29999,32768-65535"`,
      };
    }
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (const digits of [m[1] as string, m[2]]) {
      if (digits === undefined) continue;
      const port = Number(digits);
      if (port < 1 || port > 65535)
        return {
          ok: false,
          reason: `${JSON.stringify(text)}: port ${digits} is out of range; ports are 1-65535`,
        };
    }
    if (last < first)
      return {
        ok: false,
        reason: `${JSON.stringify(text)}: the range "${part}" ends before it starts; did you mean ${last}-${first}?`,
      };
    ranges.push({ first, last });
  }
  return { ok: true, ranges };
}

/** `1024-29999,32768-65535` (single ports as `N`). */
export function formatPortRanges(ranges: readonly PortRange[]): string {
  return ranges.map(formatPortRange).join(',');
}

export function formatPortRange(r: PortRange): string {
  return r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
}

/** Number of ports in a range (its weight in the random split). */
export function portRangeSize(r: PortRange): number {
  return r.last - r.first + 1;
}

/**
 * `metrics.listen`: `127.0.0.1:9817`, `[::1]:9817`, `localhost:9817`; a bare `9817` or `:9817`
 * means 127.0.0.1 (loopback unless the operator writes another address). Host names other than
 * localhost are not resolved: the daemon must not depend on DNS to start.
 */
export function parseMetricsListen(
  text: string,
): { ok: true; listen: MetricsListen } | { ok: false; reason: string } {
  const fail = (why: string): { ok: false; reason: string } => ({
    ok: false,
    reason: `${JSON.stringify(text)} ${why}`,
  });
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2] as string;
  } else if (/^[0-9]+$/.test(text)) {
    host = '127.0.0.1';
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) return fail('has no port; write ADDRESS:PORT, e.g. "127.0.0.1:9817"');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':'))
      return fail(`has an IPv6 address without brackets; write "[${host}]:${portText}"`);
    if (host === '') host = '127.0.0.1';
  }
  if (host === 'localhost') host = '127.0.0.1';
  const ip = parseIp(host);
  if (!ip)
    return fail(
      `: "${host}" is not an IP address (host names other than localhost are not resolved); write e.g. "127.0.0.1:9817"`,
    );
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return fail(`: port "${portText}" is not a number from 1 to 65535`);
  }
  const loopback = ip.family === 'ipv4' ? ip.addr >> 24n === 127n : ip.addr === 1n;
  return {
    ok: true,
    listen: { host: formatIp(ip.family, ip.addr), port: Number(portText), loopback },
  };
}

/** "127.0.0.1:9817", "[::1]:9817". */
export function formatListen(listen: { host: string; port: number }): string {
  return listen.host.includes(':')
    ? `[${listen.host}]:${listen.port}`
    : `${listen.host}:${listen.port}`;
}
