/**
 * doctor's ip-masq-agent check against the agent's real rules, made with iptables-nft inside a
 * throwaway netns exactly as the agent's restore writes them, under a custom chain name
 * (`--masq-chain=IP-MASQ`, kube-up's and GKE's). The printed removal commands are then run in
 * the namespace and must leave nothing of the agent, and nothing else touched.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkIpMasqAgent } from '../../daemon/src/doctor/agent-leftover.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { Netns, canUseNetns } from '../helpers/netns.js';

const cleanup: Netns[] = [];
afterAll(async () => {
  for (const ns of cleanup) await ns.dispose();
});

/** ip-masq-agent's restore (reference §1.9) for chain `chain`, plus kube-proxy's look-alike. */
function agentRules(chain: string, comment = 'ip-masq-agent'): string {
  return [
    '*nat',
    `:${chain} - [0:0]`,
    ':KUBE-POSTROUTING - [0:0]',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A POSTROUTING -m comment --comment "${comment}: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom ${chain} chain" -m addrtype ! --dst-type LOCAL -j ${chain}`,
    `-A ${chain} -d 169.254.0.0/16 -m comment --comment "${comment}: local traffic is not subject to MASQUERADE" -j RETURN`,
    `-A ${chain} -d 10.0.0.0/8 -m comment --comment "${comment}: local traffic is not subject to MASQUERADE" -j RETURN`,
    `-A ${chain} -m comment --comment "${comment}: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE --random-fully`,
    'COMMIT',
    '',
  ].join('\n');
}

async function node(rules: string): Promise<{ ns: Netns; client: NftClient }> {
  const ns = await Netns.create('agent');
  cleanup.push(ns);
  await ns.mustExec(['iptables-nft-restore', '--noflush'], rules);
  return { ns, client: new NftClient({ argv: ns.nftArgv() }) };
}

describe.runIf(canUseNetns())('doctor: ip-masq-agent leftovers under any chain name', () => {
  it('finds the agent under --masq-chain=IP-MASQ by its comments, prints commands that remove exactly it', async () => {
    const { ns, client } = await node(agentRules('IP-MASQ'));
    const exec = (argv: readonly string[]) => ns.exec(argv);
    const check = await checkIpMasqAgent(client, exec);
    expect(check.status).toBe('FAIL');
    expect(check.message).toContain('ip nat IP-MASQ (3 rules, jumped to from POSTROUTING)');
    expect(check.message).not.toContain('KUBE-POSTROUTING');
    const commands = (check.fix ?? '').replace(/^.*then on this node: /, '').split(' && ');
    expect(commands).toHaveLength(3);
    for (const c of commands) await ns.mustExec(c.split(' '));
    const save = await ns.mustExec(['iptables-nft-save', '-t', 'nat']);
    expect(save).not.toMatch(/IP-MASQ\b|ip-masq-agent/);
    // kube-proxy's chain and its jump are untouched.
    expect(save).toContain(
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    );
    expect(save).toContain('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN');
    expect((await checkIpMasqAgent(client, exec)).status).toBe('PASS');
  });

  it('finds it by the POSTROUTING jump and the chain shape when the comments cannot be read', async () => {
    // GKE's comment prefix "ip-masq:", and no iptables-nft-save to read comments with.
    const { client } = await node(agentRules('MY-SNAT', 'ip-masq'));
    const noSave = async () => ({ status: 127, stdout: '', stderr: 'not found', notFound: true });
    const check = await checkIpMasqAgent(client, noSave);
    expect(check.status).toBe('FAIL');
    expect(check.message).toContain('ip nat MY-SNAT (3 rules, jumped to from POSTROUTING)');
    expect(check.fix).toMatch(
      /nft delete rule ip nat POSTROUTING handle \d+ && nft flush chain ip nat MY-SNAT && nft delete chain ip nat MY-SNAT$/,
    );
  });

  it('passes a node with only kube-proxy and flannel-style rules', async () => {
    const { ns, client } = await node(
      [
        '*nat',
        ':KUBE-POSTROUTING - [0:0]',
        ':FLANNEL-POSTRTG - [0:0]',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        'COMMIT',
        '',
      ].join('\n'),
    );
    const check = await checkIpMasqAgent(client, (argv) => ns.exec(argv));
    expect(check).toEqual({
      id: 'ip-masq-agent-leftover',
      status: 'PASS',
      message: 'no ip-masq-agent chain',
    });
  });
});
