/**
 * Bounded children (proc/run-bounded.ts, nft/client.ts) and the system-directory lookup of nft
 * and iptables (proc/system-binary.ts). Real processes, short deadlines; nothing asserts a time.
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NftError } from '../../daemon/src/errors.js';
import { NftClient, stageBatch } from '../../daemon/src/nft/client.js';
import { nftWriteDeadlineMs } from '../../daemon/src/proc/deadlines.js';
import { runBounded } from '../../daemon/src/proc/run-bounded.js';
import { resolveSystemBinary, SYSTEM_BIN_DIRS } from '../../daemon/src/proc/system-binary.js';

const dir = mkdtempSync(join(tmpdir(), 'ipm-proc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
/** Running (a killed process may linger as a zombie until someone reaps it: that is dead). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
};

describe('runBounded', () => {
  it('returns the exit status and output of a child that finishes', async () => {
    const r = await runBounded({
      argv: [script('ok', 'echo out; echo err >&2; exit 3')],
      timeoutMs: 10_000,
    });
    expect(r).toEqual({
      kind: 'exited',
      status: 3,
      signal: null,
      stdout: 'out\n',
      stderr: 'err\n',
    });
  });

  it('kills the whole process group at the deadline: the child and what it forked', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const hang = script('hang', `sleep 300 & echo $! > ${pidFile}; sleep 300`);
    const r = await runBounded({ argv: [hang], timeoutMs: 300 });
    expect(r.kind).toBe('timeout');
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    // SIGKILL is delivered at once; the zombie may take a moment to be reaped by init.
    for (let i = 0; i < 100 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('does not wait for a grandchild that escaped the group and holds the pipe', async () => {
    const pidFile = join(dir, 'escaped.pid');
    const escape = script('escape', `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 300' & exit 0`);
    const r = await runBounded({ argv: [escape], timeoutMs: 200 });
    expect(r.kind).toBe('timeout');
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  });

  it('kills a child that prints more than the cap', async () => {
    const r = await runBounded({ argv: ['yes'], timeoutMs: 10_000, maxOutputBytes: 1 << 20 });
    expect(r.kind).toBe('output-too-large');
  });

  it('reports a missing binary as a spawn error', async () => {
    const r = await runBounded({ argv: [join(dir, 'absent')], timeoutMs: 1000 });
    expect(r.kind === 'spawn-error' && r.error.code).toBe('ENOENT');
  });
});

describe('NftClient deadlines', () => {
  it('an nft that hangs is killed and classified NFT_TIMEOUT (exit 1), never a stack trace', async () => {
    const client = new NftClient({ argv: [script('nft-hang', 'sleep 300')], readTimeoutMs: 200 });
    const e = await client.list(['table', 'ip', 'ip-masq']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NftError);
    expect(e).toMatchObject({ code: 'NFT_TIMEOUT', exitCode: 1 });
    expect((e as Error).message).toMatch(/did not finish within 0\.2 s and was killed/);
  });

  it('a hanging batch write is bounded by its own deadline', async () => {
    const client = new NftClient({
      argv: [script('nft-hang-write', 'cat >/dev/null; sleep 300')],
      writeTimeoutMs: () => 200,
    });
    await expect(client.applyBatch({ nftables: [] })).rejects.toMatchObject({
      code: 'NFT_TIMEOUT',
    });
  });

  it('write deadlines grow with the batch size', () => {
    expect(nftWriteDeadlineMs(4 * 1024 * 1024)).toBeGreaterThan(nftWriteDeadlineMs(1000));
  });

  it('nft reads the whole batch on stdin from a file that is already unlinked', async () => {
    const got = join(dir, 'got.json');
    const client = new NftClient({ argv: [script('nft-cat', `cat > ${got}`)] });
    const batch = { nftables: [{ add: { table: { family: 'ip', name: 'x'.repeat(70_000) } } }] };
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('ip-masq-batch-'));
    await client.applyBatch(batch as never);
    expect(JSON.parse(readFileSync(got, 'utf8'))).toEqual(batch);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith('ip-masq-batch-'));
    expect(after).toEqual(before);
  });

  it('staging never follows or reuses a name: random names, O_EXCL|O_NOFOLLOW', async () => {
    const stage = mkdtempSync(join(tmpdir(), 'ipm-stage-'));
    try {
      const a = await stageBatch(Buffer.from('one'), stage);
      const b = await stageBatch(Buffer.from('two'), stage);
      expect(readdirSync(stage)).toEqual([]);
      const buf = Buffer.alloc(3);
      await a.read(buf, 0, 3, null);
      expect(buf.toString()).toBe('one');
      await a.close();
      await b.close();
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });

  it('a batch that cannot be staged is NFT_STAGE_FAILED with the fix', async () => {
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = join(dir, 'no-such-dir');
    try {
      const client = new NftClient({ argv: [script('nft-unused', 'exit 0')] });
      await expect(client.applyBatch({ nftables: [] })).rejects.toMatchObject({
        code: 'NFT_STAGE_FAILED',
        message: expect.stringMatching(/cannot stage the nft batch in .*no-such-dir: .*set TMPDIR/),
      });
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
  });
});

describe('resolveSystemBinary', () => {
  it('takes the first system directory that has it, never PATH', () => {
    const has = new Set(['/sbin/nft', '/usr/bin/nft']);
    expect(resolveSystemBinary('nft', SYSTEM_BIN_DIRS, (p) => has.has(p))).toBe('/sbin/nft');
    expect(resolveSystemBinary('iptables-nft-save', SYSTEM_BIN_DIRS, () => false)).toBe(
      '/usr/sbin/iptables-nft-save',
    );
  });

  it('the default NftClient runs nft from a system directory even with a hostile PATH', () => {
    const saved = process.env['PATH'];
    process.env['PATH'] = dir;
    script('nft', 'exit 0');
    try {
      const argv0 = new NftClient().argv[0] as string;
      expect(SYSTEM_BIN_DIRS.some((d) => argv0 === `${d}/nft`)).toBe(true);
      expect(existsSync(argv0) || argv0 === '/usr/sbin/nft').toBe(true);
    } finally {
      process.env['PATH'] = saved;
    }
  });
});
