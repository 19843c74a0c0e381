/**
 * `ip-masq cleanup` before an uninstall: in a netns with our table applied, it warns (stderr and
 * the journal hook) exactly when nothing else would masquerade pod egress afterwards, and
 * deletes the tables in every case.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../daemon/src/cli.js';
import { Netns, canUseNetns } from '../helpers/netns.js';
import { script, tempDir } from '../helpers/cli.js';

const namespaces: Netns[] = [];
afterAll(async () => {
  for (const ns of namespaces) await ns.dispose();
});

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const journal: string[] = [];
  const code = await runCli(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: {},
    journal: async (m) => void journal.push(m),
  });
  return { code, stdout, stderr, journal };
}

/** A node with ip-masq applied; flannel's lease file says `ipMasq`. */
async function node(ipMasq: boolean, flannelRule: boolean) {
  const ns = await Netns.create('rmwarn');
  namespaces.push(ns);
  const dir = tempDir('cleanup');
  const nft = script(dir, 'nft', `exec ${ns.nftArgv().join(' ')} "$@"`);
  const subnetEnv = join(dir, 'subnet.env');
  writeFileSync(
    subnetEnv,
    `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=${ipMasq}\n`,
  );
  const config = join(dir, 'config.yaml');
  // removeMasquerade off: the flannel rule of the second case must survive the apply.
  writeFileSync(config, `flannel:\n  subnetEnv: ${subnetEnv}\n  removeMasquerade: false\n`);
  expect((await run(['apply', '--config', config, '--nft', nft])).code).toBe(0);
  if (flannelRule)
    await ns.mustExec([
      'iptables-nft',
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-s',
      '10.244.0.0/16',
      '!',
      '-d',
      '224.0.0.0/4',
      '-m',
      'comment',
      '--comment',
      'flanneld masq',
      '-j',
      'MASQUERADE',
      '--random-fully',
    ]);
  return { ns, config, nft };
}

describe.runIf(canUseNetns())('ip-masq cleanup: uninstall without an outage', () => {
  it('warns loudly, with the rollback, when nothing else masquerades pod egress', async () => {
    const { ns, config, nft } = await node(false, false);
    const r = await run(['cleanup', '--config', config, '--nft', nft]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('deleted: tables ip-masq\n');
    expect(r.stderr).toMatch(
      /^ip-masq cleanup: WARNING: after ip-masq's tables are deleted NOTHING masquerades pod egress on this node \(no flannel MASQUERADE rules are present and flanneld runs without --ip-masq \(FLANNEL_IPMASQ=false\)\)/,
    );
    expect(r.stderr).toContain('systemctl enable --now ip-masq');
    expect(r.stderr).toContain(
      'iptables -t nat -A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -m comment --comment "ip-masq rollback" -j MASQUERADE --random-fully',
    );
    expect(r.journal).toHaveLength(1);
    expect(r.journal[0]).toMatch(/^ip-masq cleanup: WARNING: .* Rollback \(any one of these\):/);
    expect(await ns.exec(['nft', 'list', 'table', 'ip', 'ip-masq'])).toMatchObject({ status: 1 });
    // The rollback command works as printed (here inside the namespace).
    await ns.mustExec([
      'sh',
      '-c',
      r.stderr
        .split('\n')
        .find((l) => l.includes('3. '))!
        .replace(/^.*by hand, until 1 or 2 is done: /, ''),
    ]);
    expect(await ns.mustExec(['iptables-nft-save', '-t', 'nat'])).toContain('ip-masq rollback');
    // A second cleanup has nothing to lose: no warning.
    const again = await run(['cleanup', '--config', config, '--nft', nft]);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('nothing to delete: no ip-masq table\n');
  });

  it('stays quiet when flannel still masquerades (its rules present, or --ip-masq on)', async () => {
    for (const [ipMasq, rule] of [
      [false, true],
      [true, false],
    ] as const) {
      const { config, nft } = await node(ipMasq, rule);
      const r = await run(['cleanup', '--config', config, '--nft', nft]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('deleted: tables ip-masq\n');
      expect(r.stderr).toBe('');
      expect(r.journal).toEqual([]);
    }
  });
});
