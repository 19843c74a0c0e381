/**
 * The daemon on an unlucky node: a FIFO where flannel's subnet.env should be, implausible
 * flannel facts, and an nft that hangs on writes. Every pass still ends (bounded waits), the
 * rest of the policy is applied, healing keeps working, and each problem is said at error
 * priority with its place.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canUseNetns } from '../helpers/netns.js';
import { bundleBuilt, DaemonSandbox, waitFor, type DaemonChild } from './daemon-harness.js';

const REAL_NFT =
  execFileSync('sh', ['-c', 'command -v nft'], { encoding: 'utf8' }).trim() || '/usr/sbin/nft';
const same = (a: string[] | null, b: string[]) =>
  a !== null && JSON.stringify(a) === JSON.stringify(b);

describe.runIf(canUseNetns() && bundleBuilt())('daemon field safety', () => {
  let sb: DaemonSandbox;
  let daemon: DaemonChild | null = null;

  beforeEach(async () => {
    sb = await DaemonSandbox.create('fsafe');
  });
  afterEach(async () => {
    await daemon?.kill();
    daemon = null;
    await sb.dispose();
  });

  const config = (cidr: string, subnetEnv: string): string =>
    `nonMasqueradeCIDRs: [${cidr}]\nresyncInterval: 1h\nflannel:\n  subnetEnv: ${subnetEnv}\n`;

  it('a FIFO at flannel.subnetEnv: applies the rest, says so at error priority, still heals', async () => {
    const fifo = join(sb.root, 'subnet.env');
    execFileSync('mkfifo', [fifo]);
    sb.writeConfig(config('198.51.100.0/24', fifo));
    daemon = await sb.start();
    await daemon.ready();
    expect(await sb.nomasq()).toEqual(['198.51.100.0/24']);
    const rejected = await daemon.waitForLine(
      'rejected facts',
      (l) => l.code === 'FLANNEL_FACTS_REJECTED',
    );
    expect(rejected.level).toBe(50);
    expect(String(rejected.msg)).toMatch(/subnet\.env: is a FIFO, expected a regular file/);

    await sb.ns.mustExec(['nft', 'delete', 'table', 'ip', 'ip-masq']);
    await waitFor('table restored', async () => same(await sb.nomasq(), ['198.51.100.0/24']));
    sb.writeConfig(config('192.0.2.0/24', fifo));
    await waitFor('edit applied', async () => same(await sb.nomasq(), ['192.0.2.0/24']));
  });

  it('implausible flannel facts: error naming the line, no pod-network rule', async () => {
    const env = join(sb.root, 'subnet.env');
    writeFileSync(env, 'FLANNEL_NETWORK=0.0.0.0/0\nFLANNEL_SUBNET=10.244.1.1/24\n');
    sb.writeConfig(config('198.51.100.0/24', env));
    daemon = await sb.start();
    await daemon.ready();
    const rejected = await daemon.waitForLine(
      'rejected facts',
      (l) => l.code === 'FLANNEL_FACTS_REJECTED',
    );
    expect(rejected.level).toBe(50);
    expect(String(rejected.msg)).toMatch(/subnet\.env:1: FLANNEL_NETWORK=0\.0\.0\.0\/0: /);
    const table = await sb.ns.mustExec(['nft', 'list', 'table', 'ip', 'ip-masq']);
    expect(table).not.toMatch(/saddr/);
  });

  it('an untrusted drop-in (world-writable, another owner) is refused: last good config kept', async () => {
    sb.writeConfig('nonMasqueradeCIDRs: [198.51.100.0/24]\nresyncInterval: 1h\n');
    daemon = await sb.start();
    await daemon.ready();
    const dropIns = join(sb.configDir, 'config.d');
    mkdirSync(dropIns, { mode: 0o755 });
    chmodSync(dropIns, 0o755);
    const evil = join(dropIns, 'evil.yaml');
    writeFileSync(evil, 'nonMasqueradeCIDRs: [0.0.0.0/0]\n', { mode: 0o644 });
    chownSync(evil, 4242, 4242);
    const from = daemon.lines.length;
    // The event of the new file is enough; the rules stay those of the last good config.
    const refused = await daemon.waitForLine(
      'untrusted drop-in refused',
      (l) => l.code === 'CONFIG_INVALID' && String(l.msg).includes('untrusted file'),
      from,
    );
    expect(refused.level).toBe(50);
    expect(String(refused.msg)).toContain(`fix: chown root:root ${evil}`);
    expect(await sb.nomasq()).toEqual(['198.51.100.0/24']);
    chownSync(evil, 0, 0);
    chmodSync(evil, 0o666);
    sb.writeConfig('nonMasqueradeCIDRs: [198.51.100.0/24]\nresyncInterval: 1h\n# touched\n');
    await daemon.waitForLine(
      'world-writable drop-in refused',
      (l) => l.code === 'CONFIG_INVALID' && String(l.msg).includes(`chmod go-w ${evil}`),
      from,
    );
    expect(await sb.nomasq()).toEqual(['198.51.100.0/24']);
    chmodSync(evil, 0o644);
    writeFileSync(evil, 'nonMasqueradeCIDRs: [192.0.2.0/24]\n');
    await waitFor('trusted drop-in applied', async () =>
      same(await sb.nomasq(), ['192.0.2.0/24', '198.51.100.0/24']),
    );
  });

  it('an nft that hangs on writes: killed at its deadline, NFT_TIMEOUT, backoff, recovers', async () => {
    sb.writeConfig(config('198.51.100.0/24', join(sb.root, 'absent.env')));
    daemon = await sb.start();
    await daemon.ready();
    // Reads work, every write (-f) hangs: a wedged kernel transaction, as seen from us.
    writeFileSync(
      sb.nftWrapper,
      `#!/bin/sh\ncase " $* " in *" -f "*) sleep 3600;; esac\nexec ${REAL_NFT} "$@"\n`,
    );
    chmodSync(sb.nftWrapper, 0o755);
    const from = daemon.lines.length;
    sb.writeConfig(config('192.0.2.0/24', join(sb.root, 'absent.env')));
    const failed = await daemon.waitForLine(
      'NFT_TIMEOUT',
      (l) => l.code === 'NFT_TIMEOUT',
      from,
      90_000,
    );
    expect(failed.level).toBe(50);
    expect(String(failed.msg)).toMatch(/did not finish within \d+ s and was killed/);
    expect(await sb.nomasq()).toEqual(['198.51.100.0/24']);
    sb.fixNft();
    await waitFor('recovered', async () => same(await sb.nomasq(), ['192.0.2.0/24']), 90_000);
    expect(daemon.alive).toBe(true);
  });
});
