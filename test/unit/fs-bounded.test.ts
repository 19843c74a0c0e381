/**
 * Files we do not own are read through one bounded reader (fs/read-bounded.ts); files we write
 * are replaced through random O_EXCL|O_NOFOLLOW temp names (fs/write-atomic.ts); the state file
 * carries a format version.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { readFlannelFacts } from '../../daemon/src/flannel/read-facts.js';
import { readBounded } from '../../daemon/src/fs/read-bounded.js';
import { tempNameFor, writeFileAtomic } from '../../daemon/src/fs/write-atomic.js';
import { StateStore } from '../../daemon/src/daemon/state.js';
import { MAX_CONNECTIONS, startMetricsServer } from '../../daemon/src/metrics/server.js';

const dir = mkdtempSync(join(tmpdir(), 'ipm-fs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fifo = (name: string): string => {
  const p = join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
};

describe('readBounded', () => {
  it('refuses a FIFO without blocking on it (no writer will ever come)', async () => {
    await expect(readBounded(fifo('f1'), { maxBytes: 1024 })).rejects.toMatchObject({
      code: 'ENOTREG',
      message: expect.stringMatching(/f1 is a FIFO, expected a regular file/),
    });
  });

  it('refuses a directory and a device', async () => {
    mkdirSync(join(dir, 'd'));
    await expect(readBounded(join(dir, 'd'), { maxBytes: 1024 })).rejects.toMatchObject({
      code: 'ENOTREG',
    });
    await expect(readBounded('/dev/zero', { maxBytes: 1024 })).rejects.toMatchObject({
      code: 'ENOTREG',
      message: expect.stringMatching(/is a device/),
    });
  });

  it('refuses a file over the cap (20 MB of NULs is not read into memory)', async () => {
    const big = join(dir, 'nuls');
    writeFileSync(big, Buffer.alloc(20 * 1024 * 1024));
    await expect(readBounded(big, { maxBytes: 64 * 1024 })).rejects.toMatchObject({
      code: 'EFBIG',
      message: expect.stringMatching(/larger than 64 KiB/),
    });
  });

  it('reads a file at the cap, and /proc files (which report size 0), and keeps ENOENT', async () => {
    const exact = join(dir, 'exact');
    writeFileSync(exact, 'x'.repeat(10_000));
    expect(await readBounded(exact, { maxBytes: 10_000 })).toHaveLength(10_000);
    expect(await readBounded('/proc/self/status', { maxBytes: 1 << 20 })).toMatch(/^Name:/);
    await expect(readBounded('/proc/self/status', { maxBytes: 10 })).rejects.toMatchObject({
      code: 'EFBIG',
    });
    await expect(readBounded(join(dir, 'absent'), { maxBytes: 10 })).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('a FIFO at flannel.subnetEnv: facts unknown (rejected), the call returns', async () => {
    const r = await readFlannelFacts({
      subnetEnv: fifo('subnet.env'),
      clusterCIDR: [],
      nodeSubnet: [],
    });
    expect(r.rejected).toEqual([
      expect.stringMatching(/cannot read flannel's lease file .*is a FIFO/),
    ]);
    expect(r.facts?.rejected?.ipv4).toBeDefined();
    expect(r.facts?.ipv4).toBeUndefined();
  });
});

describe('writeFileAtomic', () => {
  it('random hidden temp names; replaces the target; leaves no temp file', async () => {
    const target = join(dir, 'out', 'ip_masq.prom');
    mkdirSync(join(dir, 'out'));
    expect(tempNameFor(target)).not.toBe(tempNameFor(target));
    expect(tempNameFor(target)).toMatch(/\/\.ip_masq\.prom\.[0-9a-f]{16}\.tmp$/);
    await writeFileAtomic(target, 'one', { mode: 0o644 });
    await writeFileAtomic(target, 'two', { mode: 0o644, durable: true });
    expect(readFileSync(target, 'utf8')).toBe('two');
    expect(readdirSync(join(dir, 'out'))).toEqual(['ip_masq.prom']);
  });
});

describe('StateStore format version', () => {
  const states = (): StateStore => new StateStore(mkdtempSync(join(dir, 'state-')));

  it('writes version 1 and reads it back', async () => {
    const s = states();
    await s.save({
      origin: 'file',
      source: '/etc/ip-masq/config.yaml',
      text: 'a: 1\n',
      savedAt: 't',
    });
    expect(JSON.parse(readFileSync(s.file, 'utf8'))).toMatchObject({ version: 1 });
    expect(await s.load()).toMatchObject({ text: 'a: 1\n' });
  });

  it('a file without a version (written by 0.1) is read as version 1', async () => {
    const s = states();
    writeFileSync(
      s.file,
      JSON.stringify({ origin: 'absent', source: 'x', text: '', savedAt: 't' }),
    );
    expect(await s.load()).toMatchObject({ origin: 'absent' });
  });

  it('a newer or unknown version is ignored with a warning, never applied', async () => {
    for (const version of [2, 'next', null]) {
      const s = states();
      writeFileSync(
        s.file,
        JSON.stringify({ version, origin: 'file', source: 'x', text: 'a: 1', savedAt: 't' }),
      );
      const warnings: string[] = [];
      expect(await s.load((w) => warnings.push(w))).toBeNull();
      expect(warnings).toEqual([expect.stringMatching(/format version .*reads version 1/)]);
    }
  });

  it('a state file that is a FIFO is an error, not a hang', async () => {
    const s = states();
    execFileSync('mkfifo', [s.file]);
    await expect(s.load()).rejects.toMatchObject({ code: 'STATE_FAILED' });
  });
});

describe('metrics server limits', () => {
  it(`keeps at most ${MAX_CONNECTIONS} connections; the rest are closed at once`, async () => {
    const server = await startMetricsServer('127.0.0.1', 0, () => '');
    const sockets: Socket[] = [];
    let closed = 0;
    try {
      for (let i = 0; i < MAX_CONNECTIONS + 20; i++) {
        const s = connect(server.address.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => closed++);
        sockets.push(s);
      }
      for (let i = 0; i < 500 && closed < 20; i++) await new Promise((r) => setTimeout(r, 10));
      expect(closed).toBe(20);
    } finally {
      sockets.forEach((s) => s.destroy());
      await server.close();
    }
  });
});
