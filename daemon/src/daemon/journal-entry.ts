/**
 * One log record → one native journal entry. Pure.
 *
 * Under journald the record's MESSAGE is one sentence a person reads in `journalctl -u ip-masq`
 * ("applied: +1 −0 CIDRs (+198.51.100.0/24), generation 2, 50 ms"); its data goes in native
 * fields (IP_MASQ_EVENT=applied, IP_MASQ_GENERATION=2, IP_MASQ_CIDRS_ADDED=198.51.100.0/24, one
 * field per list element so `journalctl IP_MASQ_CIDRS_ADDED=198.51.100.0/24` finds it), and each
 * kind of event has a MESSAGE_ID that never changes (journalctl MESSAGE_ID=…, catalogs).
 * PRIORITY is the record's level, as the `<N>` prefix gave it before.
 */

/** Event kinds and their MESSAGE_IDs (128-bit, fixed forever once released). */
export const MESSAGE_IDS = {
  applied: '245d101024484696bb8dee3b91b62691',
  ready: 'adc1aede384c48eebd44645364afb78a',
  'config-invalid': 'b7990109a5884b36a32d4fa02d898c50',
  'config-valid': 'dc1ce45fd15e4f6ea6cc55285a5a2397',
  'nft-failed': '07cb0a47c4f04de4a2b0df666a428fe1',
  'nft-recovered': 'e233509aeeda4f29b60e40a12897d232',
  starting: 'cef5503a71844320883d8c4fdad537e7',
  stopping: 'a76902ea46da451681495606a9152238',
  reload: '85d88b1cdd2748e9a42786d24d02c578',
  stopped: '2296b621fbe94323b6702f8557bfd00e',
  'rule-watch': 'fa861d3108e8453396f701db1251dca5',
} as const;
export type JournalEvent = keyof typeof MESSAGE_IDS;

/** pino level → syslog priority (as log.ts prefixed lines with before). */
export function priorityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** pino's own keys, and those journald records itself (_PID, timestamps). */
const NOT_DATA = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'event']);

/** `cidrsAdded` → `IP_MASQ_CIDRS_ADDED`. */
export function fieldName(key: string): string {
  const snake = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
  return `IP_MASQ_${snake}`.replace(/_+$/, '');
}

/** The sender frames one field per line, an entry per blank line: a value never carries a newline. */
function oneLine(value: string): string {
  return value.replace(/\r?\n/g, ' | ');
}

function scalar(value: unknown): string {
  return oneLine(typeof value === 'string' ? value : JSON.stringify(value));
}

function cidrList(prefix: string, cidrs: unknown): string {
  if (!Array.isArray(cidrs) || cidrs.length === 0) return '';
  const shown = cidrs.slice(0, 5).map((c) => `${prefix}${String(c)}`);
  if (cidrs.length > 5) shown.push(`… ${cidrs.length - 5} more`);
  return shown.join(', ');
}

/** The one sentence for a record. */
export function sentence(record: Record<string, unknown>): string {
  const msg = typeof record.msg === 'string' ? record.msg : '';
  if (record.event === 'ready' && typeof record.status === 'string')
    return oneLine(`ready: ${record.status}`);
  if (record.event !== 'applied') return oneLine(msg);
  const added = Array.isArray(record.cidrsAdded) ? record.cidrsAdded : [];
  const removed = Array.isArray(record.cidrsRemoved) ? record.cidrsRemoved : [];
  const flannel = Array.isArray(record.flannelRulesDeleted) ? record.flannelRulesDeleted : [];
  const which = [cidrList('+', added), cidrList('−', removed)].filter((s) => s).join(', ');
  const parts = [
    `applied: +${added.length} −${removed.length} CIDRs${which ? ` (${which})` : ''}`,
    `generation ${String(record.generation ?? '?')}`,
    `${Math.round(Number(record.durationMs ?? 0))} ms`,
  ];
  if (flannel.length > 0)
    parts.push(
      `deleted ${flannel.length} flannel MASQUERADE rule${flannel.length === 1 ? '' : 's'}`,
    );
  if (typeof record.trigger === 'string') parts.push(`trigger ${record.trigger}`);
  return parts.join(', ');
}

/** The entry as journald's native protocol takes it: FIELD=value lines. */
export function journalEntry(record: Record<string, unknown>): string[] {
  const level = typeof record.level === 'number' ? record.level : 30;
  const lines = [
    `MESSAGE=${sentence(record)}`,
    `PRIORITY=${priorityOf(level)}`,
    'SYSLOG_IDENTIFIER=ip-masq',
  ];
  const event = record.event;
  if (typeof event === 'string') {
    lines.push(`IP_MASQ_EVENT=${oneLine(event)}`);
    const id = (MESSAGE_IDS as Record<string, string>)[event];
    if (id) lines.push(`MESSAGE_ID=${id}`);
  }
  for (const [key, value] of Object.entries(record)) {
    if (NOT_DATA.has(key) || value === null || value === undefined) continue;
    const name = fieldName(key);
    if (Array.isArray(value)) for (const v of value) lines.push(`${name}=${scalar(v)}`);
    else lines.push(`${name}=${scalar(value)}`);
  }
  return lines;
}
