import { closeSync, fstatSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, isJournalStream, RepeatLimiter } from '../../daemon/src/daemon/log.js';
import { Backoff } from '../../daemon/src/util/backoff.js';

describe('createLogger', () => {
  it('writes plain NDJSON when stdout is not the journal', () => {
    const lines: string[] = [];
    const log = createLogger({ journal: false, write: (l) => void lines.push(l) });
    log.info({ generation: 3 }, 'applied ruleset');
    log.debug('not shown at info');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 30,
      generation: 3,
      msg: 'applied ruleset',
    });
  });

  it('prefixes each line with its syslog priority under journald, exactly once', () => {
    const lines: string[] = [];
    const log = createLogger({ journal: true, level: 'debug', write: (l) => void lines.push(l) });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    log.fatal('f');
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<7>', '<6>', '<4>', '<3>', '<2>']);
    const parsed = lines.map((l) => JSON.parse(l.slice(3)) as Record<string, unknown>);
    expect(parsed.map((p) => p.msg)).toEqual(['d', 'i', 'w', 'e', 'f']);
    // journald records pid, host and time itself.
    expect(parsed[0]).not.toHaveProperty('pid');
    expect(parsed[0]).not.toHaveProperty('hostname');
  });
});

describe('isJournalStream', () => {
  it('is true only when JOURNAL_STREAM names the device and inode of the fd', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-log-'));
    const fd = openSync(join(dir, 'out'), 'w');
    try {
      const st = fstatSync(fd, { bigint: true });
      expect(isJournalStream({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(isJournalStream({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }, fd)).toBe(false);
      expect(isJournalStream({ JOURNAL_STREAM: 'garbage' }, fd)).toBe(false);
      expect(isJournalStream({}, fd)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});

describe('RepeatLimiter', () => {
  it('admits the first occurrence, suppresses repeats within the window, then reports how many were dropped', () => {
    let t = 0;
    const r = new RepeatLimiter(60_000, () => t);
    expect(r.admit('a')).toEqual({ suppressed: 0 });
    expect(r.admit('a')).toBeNull();
    expect(r.admit('b')).toEqual({ suppressed: 0 });
    t = 30_000;
    expect(r.admit('a')).toBeNull();
    t = 60_000;
    expect(r.admit('a')).toEqual({ suppressed: 2 });
    r.reset();
    expect(r.admit('a')).toEqual({ suppressed: 0 });
  });
});

describe('Backoff', () => {
  it('doubles from the initial delay, caps, and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });
});
