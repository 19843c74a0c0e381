/** Under journald: one sentence per record, the data in IP_MASQ_* fields, a MESSAGE_ID per event. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  fieldName,
  journalEntry,
  MESSAGE_IDS,
  sentence,
} from '../../daemon/src/daemon/journal-entry.js';
import { JournalSender } from '../../daemon/src/daemon/journal-sender.js';
import { createLogger } from '../../daemon/src/daemon/log.js';
import { script, tempDir } from '../helpers/cli.js';

const applied = {
  level: 30,
  event: 'applied',
  trigger: 'file',
  triggers: ['file'],
  generation: 2,
  reason: 'table ip ip-masq: set nomasq holds 1 elements, expected 2 (missing 198.51.100.0/24)',
  cidrsAdded: ['198.51.100.0/24'],
  cidrsRemoved: [],
  flannelRulesDeleted: [],
  transactions: 1,
  durationMs: 50.1,
  msg: 'applied ruleset',
};

describe('journalEntry', () => {
  it('applied: a sentence, native fields, one per list element, and its MESSAGE_ID', () => {
    expect(sentence(applied)).toBe(
      'applied: +1 −0 CIDRs (+198.51.100.0/24), generation 2, 50 ms, trigger file',
    );
    const entry = journalEntry(applied);
    expect(entry.slice(0, 5)).toEqual([
      'MESSAGE=applied: +1 −0 CIDRs (+198.51.100.0/24), generation 2, 50 ms, trigger file',
      'PRIORITY=6',
      'SYSLOG_IDENTIFIER=ip-masq',
      'IP_MASQ_EVENT=applied',
      `MESSAGE_ID=${MESSAGE_IDS.applied}`,
    ]);
    expect(entry).toContain('IP_MASQ_GENERATION=2');
    expect(entry).toContain('IP_MASQ_CIDRS_ADDED=198.51.100.0/24');
    expect(entry).toContain('IP_MASQ_TRIGGERS=file');
    expect(entry).toContain('IP_MASQ_DURATION_MS=50.1');
    expect(entry.some((l) => l.startsWith('IP_MASQ_CIDRS_REMOVED='))).toBe(false);
    for (const line of entry) expect(line).not.toContain('\n');
  });

  it('keeps the priority of the level, and never lets a value break a line', () => {
    const entry = journalEntry({
      level: 50,
      event: 'config-invalid',
      issues: ['c.yaml:1:1: a', 'c.yaml:2:1: b\nsecond line'],
      msg: 'config invalid: c.yaml:1:1: a (and 1 more); no rules applied yet',
    });
    expect(entry).toContain('PRIORITY=3');
    expect(entry).toContain('IP_MASQ_ISSUES=c.yaml:1:1: a');
    expect(entry).toContain('IP_MASQ_ISSUES=c.yaml:2:1: b | second line');
    expect(entry[0]).toBe(
      'MESSAGE=config invalid: c.yaml:1:1: a (and 1 more); no rules applied yet',
    );
    expect(journalEntry({ level: 40, msg: 'w' })).toContain('PRIORITY=4');
    expect(journalEntry({ level: 20, msg: 'd' })).toContain('PRIORITY=7');
  });

  it('a record without an event kind has no MESSAGE_ID; ready says what it enforces', () => {
    expect(journalEntry({ level: 30, msg: 'x' }).some((l) => l.startsWith('MESSAGE_ID='))).toBe(
      false,
    );
    expect(
      sentence({
        event: 'ready',
        status: 'enforcing /etc/ip-masq/config.yaml, generation 1',
        msg: 'ready',
      }),
    ).toBe('ready: enforcing /etc/ip-masq/config.yaml, generation 1');
  });

  it('MESSAGE_IDs are distinct 128-bit ids; field names are journal-safe', () => {
    const ids = Object.values(MESSAGE_IDS);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(fieldName('cidrsAdded')).toBe('IP_MASQ_CIDRS_ADDED');
    expect(fieldName('flannelRulesDeleted')).toBe('IP_MASQ_FLANNEL_RULES_DELETED');
    expect(fieldName('retryInMs')).toBe('IP_MASQ_RETRY_IN_MS');
  });
});

describe('JournalSender and the journal logger', () => {
  it('hands each record to the helper in order, as FIELD=value lines', async () => {
    const dir = tempDir('journal');
    const out = join(dir, 'entries');
    // Stands in for the perl sender: same protocol (blank line ends an entry, "ok" acks it).
    const helper = script(
      dir,
      'helper',
      `while IFS= read -r line; do if [ -z "$line" ]; then echo --- >> '${out}'; echo ok; else echo "$line" >> '${out}'; fi; done`,
    );
    const fallback: string[] = [];
    const sender = new JournalSender({ helper: [helper], fallback: (l) => fallback.push(l) });
    const log = createLogger({ journal: true, native: sender, write: () => undefined });
    log.info(
      { event: 'applied', generation: 1, cidrsAdded: ['10.0.0.0/8'], durationMs: 80 },
      'applied ruleset',
    );
    log.warn({ problem: 'p' }, 'a warning');
    await sender.flushed();
    const entries = readFileSync(out, 'utf8')
      .split('---\n')
      .filter((e) => e);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toContain(
      'MESSAGE=applied: +1 −0 CIDRs (+10.0.0.0/8), generation 1, 80 ms\n',
    );
    expect(entries[0]).toContain('IP_MASQ_EVENT=applied\n');
    expect(entries[1]).toContain('MESSAGE=a warning\nPRIORITY=4\n');
    expect(entries[1]).toContain('IP_MASQ_PROBLEM=p\n');
    expect(fallback).toEqual([]);
  });

  it('without a working helper, says so once and falls back to <N> NDJSON lines', async () => {
    const fallback: string[] = [];
    const sender = new JournalSender({
      helper: [join(tempDir('journal'), 'no-such-logger')],
      fallback: (l) => fallback.push(l),
    });
    const log = createLogger({ journal: true, native: sender, write: () => undefined });
    log.info({ event: 'ready', status: 's' }, 'ready');
    await sender.flushed();
    log.error({ event: 'nft-failed' }, 'reconcile failed');
    expect(fallback).toHaveLength(3);
    expect(fallback[0]).toMatch(/^<4>\{.*journal fields unavailable/);
    expect(fallback[1]).toMatch(/^<6>\{.*"event":"ready"/);
    expect(fallback[2]).toMatch(/^<3>\{.*"msg":"reconcile failed"/);
  });
});
