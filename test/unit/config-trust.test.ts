/**
 * The config is trusted only when nobody but root (or the daemon's own uid) could have written
 * it (config/trust.ts): real files in a temp dir, owners changed with chown (tests run as root).
 */
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configTrustIssues, untrusted } from '../../daemon/src/config/trust.js';
import { loadConfigTree } from '../../daemon/src/config/tree.js';

const asRoot = process.getuid?.() === 0;
let roots: string[] = [];
afterEach(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});
function etc(): { dir: string; config: string; dropIns: string } {
  const base = mkdtempSync(join(tmpdir(), 'ipm-trust-'));
  roots.push(base);
  const dir = join(base, 'ip-masq');
  mkdirSync(join(dir, 'config.d'), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'config.d'), 0o755);
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'masqLinkLocal: true\n', { mode: 0o644 });
  return { dir, config, dropIns: join(dir, 'config.d') };
}
const st = (uid: number, mode: number, dir = false) => ({
  uid,
  mode,
  isDirectory: () => dir,
  isSymbolicLink: () => false,
});

describe('untrusted (pure)', () => {
  it('root or our own uid, not group/other-writable: trusted', () => {
    expect(untrusted('/etc/ip-masq/config.yaml', st(0, 0o100644), 0)).toBeNull();
    expect(untrusted('/etc/ip-masq/config.yaml', st(61234, 0o100600), 61234)).toBeNull();
    expect(untrusted('/tmp', st(0, 0o41777, true), 0)).toBeNull();
  });

  it('names the owner and mode, and the chown/chmod fix', () => {
    expect(untrusted('/etc/ip-masq/config.yaml', st(1000, 0o100666), 0)).toBe(
      "untrusted file (mode 0666, uid 1000): owned by uid 1000, not root and writable by group and others, so someone other than root could change the node's SNAT policy; fix: chown root:root /etc/ip-masq/config.yaml && chmod go-w /etc/ip-masq/config.yaml",
    );
    expect(untrusted('/etc/ip-masq', st(0, 0o40777, true), 0)).toMatch(
      /^untrusted directory \(mode 0777, uid 0\): writable by group and others, .*fix: chmod go-w \/etc\/ip-masq$/,
    );
    expect(untrusted('/x', st(0, 0o100620), 0)).toMatch(/writable by group,/);
  });
});

describe.runIf(asRoot)('configTrustIssues (real files)', () => {
  it('a stock /etc/ip-masq (root, 0755/0644) is trusted', async () => {
    const e = etc();
    writeFileSync(join(e.dropIns, 'a.yaml'), 'masqLinkLocal: true\n', { mode: 0o644 });
    expect(await configTrustIssues(e.config, e.dropIns, [join(e.dropIns, 'a.yaml')])).toEqual([]);
  });

  it('a world-writable config.yaml, a world-writable config.d, a drop-in owned by another user', async () => {
    const e = etc();
    const dropIn = join(e.dropIns, 'evil.yaml');
    writeFileSync(dropIn, 'nonMasqueradeCIDRs: [0.0.0.0/0]\n', { mode: 0o644 });
    chownSync(dropIn, 4242, 4242);
    chmodSync(e.config, 0o666);
    chmodSync(e.dropIns, 0o777);
    const issues = await configTrustIssues(e.config, e.dropIns, [dropIn]);
    expect(issues.map((i) => [i.file, i.message.split(':')[0]])).toEqual([
      [e.config, 'untrusted file (mode 0666, uid 0)'],
      [e.dropIns, 'untrusted directory (mode 0777, uid 0)'],
      [dropIn, 'untrusted file (mode 0644, uid 4242)'],
    ]);
  });

  it('a symlink: its target and the target directory count; a sticky directory is fine', async () => {
    const e = etc();
    const elsewhere = mkdtempSync(join(tmpdir(), 'ipm-trust-target-'));
    roots.push(elsewhere);
    const target = join(elsewhere, 'real.yaml');
    writeFileSync(target, 'masqLinkLocal: true\n', { mode: 0o644 });
    rmSync(e.config);
    symlinkSync(target, e.config);
    chmodSync(elsewhere, 0o1777);
    expect(await configTrustIssues(e.config, e.dropIns, [])).toEqual([]);
    chmodSync(elsewhere, 0o777);
    expect((await configTrustIssues(e.config, e.dropIns, [])).map((i) => i.file)).toEqual([
      elsewhere,
    ]);
    chmodSync(elsewhere, 0o1777);
    chownSync(target, 4242, 4242);
    expect((await configTrustIssues(e.config, e.dropIns, [])).map((i) => i.file)).toEqual([target]);
  });

  it('loadConfigTree refuses an untrusted config: CONFIG_INVALID (exit 6) with the fix', async () => {
    const e = etc();
    chmodSync(e.config, 0o646);
    await expect(loadConfigTree(e.config)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      exitCode: 6,
      message: expect.stringContaining(`fix: chmod go-w ${e.config}`),
    });
  });
});
