/**
 * Field safety against the real kernel, each case in its own throwaway netns:
 *   - only flannel's rules are deleted: a look-alike with an admin's comment stays, every
 *     deletion carries its comment, and doctor names the look-alike;
 *   - implausible flannel facts: `apply` exits 1 naming the line, builds no pod-network rule and
 *     deletes none of flannel's rules; everything else is applied;
 *   - a FIFO at flannel.subnetEnv does not block a pass;
 *   - an nft that hangs is killed with its whole process group.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NftClient } from '../../daemon/src/nft/client.js';
import { Netns, canUseNetns } from '../helpers/netns.js';
import { nsMust } from '../fixtures/flannel/build.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(REPO, 'dist/ip-masq.js');
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

const ADMIN =
  '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "admin: my own pod masquerade" -j MASQUERADE';
const FLANNEL_COMMENTED =
  '-A POSTROUTING ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully';
const FLANNEL_PLAIN = '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE';
const POSTRTG = [
  '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
  '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
];
const ENV_OK =
  'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=false\n';

interface Node {
  ns: Netns;
  dir: string;
  config: string;
}

async function node(natLines: string[], subnetEnv: string | 'fifo', chains: string[] = []) {
  const ns = await Netns.create('fsafe');
  cleanup.push(() => ns.dispose());
  const dir = mkdtempSync(join(tmpdir(), 'ipm-fsafe-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const env = join(dir, 'subnet.env');
  if (subnetEnv === 'fifo') execFileSync('mkfifo', [env]);
  else writeFileSync(env, subnetEnv);
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `nonMasqueradeCIDRs: [198.51.100.0/24]\nflannel:\n  subnetEnv: ${env}\n`);
  const restore = ['*nat', ...chains.map((c) => `:${c} - [0:0]`), ...natLines, 'COMMIT', ''];
  await nsMust(ns, ['iptables-restore', '--noflush', '--wait'], restore.join('\n'));
  return { ns, dir, config } satisfies Node;
}

function cli(
  n: Node,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', n.ns.name, process.execPath, BUNDLE, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const saveLines = async (n: Node): Promise<string[]> =>
  (await nsMust(n.ns, ['iptables-nft-save', '-t', 'nat']))
    .split('\n')
    .filter((l) => l.startsWith('-A'));

describe.runIf(canUseNetns())('field safety (real kernel)', () => {
  it("deletes only flannel's: the admin's look-alike stays; deletions carry their comment", async () => {
    const n = await node([ADMIN, FLANNEL_COMMENTED, FLANNEL_PLAIN], ENV_OK);
    const r = await cli(n, 'apply', '--config', n.config);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(FLANNEL_COMMENTED);
    expect(r.stdout).toContain(FLANNEL_PLAIN);
    expect(await saveLines(n)).toEqual([ADMIN]);

    // The look-alike is reported by doctor, and still never deleted.
    const root = join(n.dir, 'root');
    mkdirSync(join(root, 'run/flannel'), { recursive: true });
    symlinkSync('/proc', join(root, 'proc'));
    writeFileSync(join(root, 'run/flannel/subnet.env'), ENV_OK);
    const doctorConfig = join(n.dir, 'doctor.yaml');
    writeFileSync(doctorConfig, 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    const d = await cli(n, 'doctor', '--config', doctorConfig, '--root', root, '--json');
    const checks = (JSON.parse(d.stdout) as { checks: { id: string; message: string }[] }).checks;
    const rules = checks.find((c) => c.id === 'flannel-masquerade-rules');
    expect(rules?.message).toMatch(
      /-A POSTROUTING -s 10\.244\.0\.0\/16 ! -d 224\.0\.0\.0\/4 -m comment --comment "admin: my own pod masquerade" -j MASQUERADE: shaped like flannel's, commented "admin: my own pod masquerade": left alone/,
    );
    expect(await saveLines(n)).toEqual([ADMIN]);
  });

  it('the daemon audit event of a deletion carries the comment', async () => {
    const n = await node(POSTRTG, ENV_OK, ['FLANNEL-POSTRTG']);
    const { flannelHooks } = await import('../../daemon/src/reconcile/flannel-hooks.js');
    const { reconcile } = await import('../../daemon/src/reconcile/reconcile.js');
    const { loadConfigTree } = await import('../../daemon/src/config/tree.js');
    const { config } = await loadConfigTree(n.config);
    const r = await reconcile(
      { client: new NftClient({ argv: n.ns.nftArgv() }), flannel: flannelHooks() },
      config,
    );
    expect(r.flannelDeleted.map((d) => [d.chain, d.comment, d.iptables])).toEqual([
      ['FLANNEL-POSTRTG', 'flanneld masq', POSTRTG[1]],
    ]);
  });

  it.each([
    [
      'FLANNEL_NETWORK=0.0.0.0/0\nFLANNEL_SUBNET=10.244.1.1/24\n',
      /subnet\.env:1: FLANNEL_NETWORK=0\.0\.0\.0\/0: cluster network 0\.0\.0\.0\/0 is shorter than \/8/,
    ],
    [
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.1.1.1/1\n',
      /subnet\.env:2: FLANNEL_SUBNET=10\.1\.1\.1\/1: node subnet 0\.0\.0\.0\/1 is not inside/,
    ],
  ])(
    'implausible facts %j: exit 1 naming the line; no pod rule; flannel rules stay',
    async (env, line) => {
      const n = await node(POSTRTG, env, ['FLANNEL-POSTRTG']);
      const r = await cli(n, 'apply', '--config', n.config);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(line);
      expect(r.stderr).toMatch(/^error: .*flannel's rules of that family were left in place/m);
      const table = await nsMust(n.ns, ['nft', 'list', 'table', 'ip', 'ip-masq']);
      expect(table).toContain('198.51.100.0/24');
      expect(table).not.toMatch(/saddr|pod subnet/);
      expect(await saveLines(n)).toEqual(POSTRTG);
    },
  );

  it('a FIFO at flannel.subnetEnv: the pass finishes, the rest applies, flannel rules stay', async () => {
    const n = await node(POSTRTG, 'fifo', ['FLANNEL-POSTRTG']);
    const r = await cli(n, 'apply', '--config', n.config);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read flannel's lease file .*subnet\.env: is a FIFO/);
    expect(await nsMust(n.ns, ['nft', 'list', 'table', 'ip', 'ip-masq'])).toContain(
      '198.51.100.0/24',
    );
    expect(await saveLines(n)).toEqual(POSTRTG);
  });

  it('an nft that hangs inside the namespace is killed with everything it started', async () => {
    const ns = await Netns.create('fshang');
    cleanup.push(() => ns.dispose());
    const dir = mkdtempSync(join(tmpdir(), 'ipm-fshang-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const hang = join(dir, 'nft');
    writeFileSync(hang, '#!/bin/sh\nsleep 300 &\nsleep 300\n');
    chmodSync(hang, 0o755);
    const client = new NftClient({ argv: [...ns.prefix(), hang], readTimeoutMs: 500 });
    await expect(client.list(['table', 'ip', 'ip-masq'])).rejects.toMatchObject({
      code: 'NFT_TIMEOUT',
    });
    let pids = '';
    for (let i = 0; i < 100; i++) {
      pids = execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).trim();
      if (pids === '') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(pids).toBe('');
  });
});
