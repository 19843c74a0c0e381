import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE_DIR, resolveStateDir, StateStore } from '../../daemon/src/daemon/state.js';
import { IpMasqError } from '../../daemon/src/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ipm-state-'));

describe('resolveStateDir', () => {
  it('prefers --state-dir, then the first entry of $STATE_DIRECTORY, then /var/lib/ip-masq', () => {
    expect(resolveStateDir('/x', { STATE_DIRECTORY: '/y' })).toBe('/x');
    expect(resolveStateDir(undefined, { STATE_DIRECTORY: '/var/lib/ip-masq:/var/lib/other' })).toBe(
      '/var/lib/ip-masq',
    );
    expect(resolveStateDir(undefined, { STATE_DIRECTORY: '/y' })).toBe('/y');
    expect(resolveStateDir(undefined, { STATE_DIRECTORY: '' })).toBe(DEFAULT_STATE_DIR);
    expect(resolveStateDir(undefined, {})).toBe(DEFAULT_STATE_DIR);
  });
});

describe('StateStore', () => {
  it('has nothing before the first save, round-trips a save, and leaves no temp file', async () => {
    const dir = join(tmp(), 'nested', 'state');
    const s = new StateStore(dir);
    expect(await s.load()).toBeNull();
    const v = {
      origin: 'file' as const,
      source: '/etc/ip-masq/config.yaml',
      text: 'nonMasqueradeCIDRs: []\n',
      savedAt: '2026-11-30T00:00:00.000Z',
    };
    await s.save(v);
    expect(await s.load()).toEqual(v);
    await s.save({ ...v, text: 'x' });
    expect((await s.load())?.text).toBe('x');
    expect(readdirSync(dir)).toEqual(['last-good-config.json']);
  });

  it('treats a corrupt file as none and says why', async () => {
    const dir = tmp();
    const s = new StateStore(dir);
    writeFileSync(s.file, '{"origin":"file","text":');
    const reasons: string[] = [];
    expect(await s.load((r) => reasons.push(r))).toBeNull();
    expect(reasons[0]).toContain(s.file);
    writeFileSync(s.file, '{"origin":"elsewhere"}');
    expect(await s.load((r) => reasons.push(r))).toBeNull();
    expect(reasons[1]).toBe(`${s.file}: unexpected content`);
  });

  it('fails with STATE_FAILED (and no temp file) when the directory cannot be written', async () => {
    const dir = tmp();
    const blocker = join(dir, 'file');
    writeFileSync(blocker, '');
    const s = new StateStore(join(blocker, 'state'));
    const err = await s
      .save({ origin: 'absent', source: 'x', text: '', savedAt: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpMasqError);
    expect((err as IpMasqError).code).toBe('STATE_FAILED');
    expect((err as Error).message).toContain('cannot save the last good config');
    chmodSync(dir, 0o755);
    expect(readFileSync(blocker, 'utf8')).toBe('');
  });
});
