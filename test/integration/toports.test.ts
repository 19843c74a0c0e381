/**
 * toPorts against the real kernel: the rules nft 1.0.6 installs and lists back (a second
 * reconcile must find nothing to change), and real UDP/TCP flows from a pod namespace through a
 * node namespace to an outside host that reports the source address and port it saw.
 *
 *   pod 10.244.1.2 ── 10.244.1.1 node 192.0.2.1 ── 192.0.2.2 outside (203.0.113.10 on lo)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../daemon/src/reconcile/reconcile.js';
import { parseConfigText } from '../helpers/config.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { link, Netns, canUseNetns } from '../helpers/netns.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

const PEER = join(import.meta.dirname, '..', '..', 'scripts', 'udp-peer.mjs');
const OUTSIDE = '203.0.113.10';
const NODE_IP = '192.0.2.1';
const PORT = 7777;

let pod: Netns;
let node: Netns;
let outside: Netns;
let client: NftClient;
let server: ChildProcess | null = null;

beforeAll(async () => {
  if (!NETNS) return;
  pod = await Netns.create('tp-pod');
  node = await Netns.create('tp-nod');
  outside = await Netns.create('tp-out');
  await link(pod, '10.244.1.2/24', node, '10.244.1.1/24');
  await link(node, `${NODE_IP}/24`, outside, '192.0.2.2/24');
  await pod.mustExec(['ip', 'route', 'add', 'default', 'via', '10.244.1.1']);
  await node.mustExec(['ip', 'route', 'add', 'default', 'via', '192.0.2.2']);
  await node.mustExec(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  await outside.mustExec(['ip', 'addr', 'add', `${OUTSIDE}/32`, 'dev', 'lo']);
  await outside.mustExec(['ip', 'route', 'add', '10.244.0.0/16', 'via', NODE_IP]);
  client = new NftClient({ argv: node.nftArgv() });

  server = spawn(
    'ip',
    ['netns', 'exec', outside.name, process.execPath, PEER, 'serve-ports', String(PORT), OUTSIDE],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
    server!.on('exit', (code) => reject(new Error(`peer server exited ${code}`)));
  });
});

afterAll(async () => {
  if (!NETNS) return;
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.on('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  for (const ns of [pod, node, outside]) await ns?.dispose();
});

/** `count` new flows from the pod; each answer is what the outside host saw. */
async function flows(
  proto: 'udp' | 'tcp',
  count: number,
): Promise<Array<{ address: string; port: number }>> {
  const out = await pod.mustExec([
    process.execPath,
    PEER,
    'flows',
    proto,
    OUTSIDE,
    String(PORT),
    String(count),
  ]);
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [address, port] = line.split(' ');
      return { address: address as string, port: Number(port) };
    });
}

function configFor(text: string) {
  return parseConfigText(text, 'toports.yaml');
}

describe.runIf(NETNS)('toPorts (real nft, real packets)', () => {
  it('installs one rule per range with the exact split, and a second reconcile changes nothing', async () => {
    const config = configFor('toPorts: "20000-20099,40000-40999"\n');
    expect((await reconcile({ client }, config)).changed).toBe(true);
    const text = await node.mustExec(['nft', 'list', 'chain', 'ip', 'ip-masq', 'postrouting']);
    // 100 of 1100 ports: the first range takes 100/1100 of new flows, the rest go to the second.
    expect(text).toMatch(
      /meta l4proto \{ tcp, udp, sctp \} numgen random mod 1100 < 100 counter packets \d+ bytes \d+ masquerade to :20000-20099 fully-random/,
    );
    expect(text).toMatch(
      /meta l4proto \{ tcp, udp, sctp \} counter packets \d+ bytes \d+ masquerade to :40000-40999 fully-random/,
    );
    expect(text).toMatch(
      /\n\s+counter packets \d+ bytes \d+ masquerade fully-random comment "ip-masq: outbound traffic/,
    );
    expect(await reconcile({ client }, config)).toMatchObject({ changed: false, transactions: 0 });
  });

  it('reads back single ports and ranges without fully-random as unchanged', async () => {
    for (const text of [
      'toPorts: "30000"\nrandomFully: false\n',
      'toPorts: "1024-29999,32768-65535"\n',
      'toPorts: "30000-30009,30005-30019,31000"\nrandomFully: false\n',
      // The ip6 table gets the same rules (meta l4proto works in both families).
      'toPorts: "1024-29999,32768-65535"\nenableIPv6: true\nnonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8]\n',
    ]) {
      const config = configFor(text);
      await reconcile({ client }, config);
      expect((await reconcile({ client }, config)).changed).toBe(false);
    }
    expect(await node.mustExec(['nft', 'list', 'chain', 'ip6', 'ip-masq', 'postrouting'])).toMatch(
      /numgen random mod 61744 < 28976 counter packets \d+ bytes \d+ masquerade to :1024-29999 fully-random/,
    );
  });

  it('UDP flows leave from the node address with a source port in one of the ranges, both ranges used', async () => {
    await reconcile({ client }, configFor('toPorts: "20000-20099,40000-40999"\n'));
    const seen = await flows('udp', 200);
    expect(seen).toHaveLength(200);
    for (const s of seen) {
      expect(s.address).toBe(NODE_IP);
      expect((s.port >= 20000 && s.port <= 20099) || (s.port >= 40000 && s.port <= 40999)).toBe(
        true,
      );
    }
    // Expected 200 × 1/11 ≈ 18 in the small range; none at all has probability (10/11)^200 < 1e-8.
    const small = seen.filter((s) => s.port < 30000).length;
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThan(200);
  });

  it('TCP flows get a port in the range too, and without fully-random', async () => {
    await reconcile({ client }, configFor('toPorts: "33000-33049"\nrandomFully: false\n'));
    const seen = await flows('tcp', 30);
    expect(seen).toHaveLength(30);
    for (const s of seen) {
      expect(s.address).toBe(NODE_IP);
      expect(s.port).toBeGreaterThanOrEqual(33000);
      expect(s.port).toBeLessThanOrEqual(33049);
    }
  });

  it('other protocols (ICMP) are masqueraded by the plain rule, to the node address', async () => {
    await reconcile({ client }, configFor('toPorts: "33000-33049"\n'));
    const before = await lastRuleCount();
    const echo = await pod.exec(['hping3', '--icmp', '-c', '1', OUTSIDE]);
    expect(echo.stdout + echo.stderr).toMatch(/1 packets received/);
    expect(await lastRuleCount()).toBe(before + 1);
    const tracked = await node.mustExec(['conntrack', '-L', '-p', 'icmp']).catch(() => '');
    expect(tracked).toMatch(
      new RegExp(
        `src=10\\.244\\.1\\.2 dst=${OUTSIDE.replace(/\./g, '\\.')} .* src=${OUTSIDE.replace(/\./g, '\\.')} dst=${NODE_IP.replace(/\./g, '\\.')}`,
      ),
    );
  });
});

/** Packets counted by the plain masquerade rule (the chain's last rule). */
async function lastRuleCount(): Promise<number> {
  const listing = JSON.parse(
    await node.mustExec(['nft', '-j', 'list', 'chain', 'ip', 'ip-masq', 'postrouting']),
  ) as {
    nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }>;
  };
  const rules = listing.nftables.flatMap((o) => (o.rule ? [o.rule] : []));
  const counter = rules[rules.length - 1]?.expr.find((e) => e.counter)?.counter;
  return counter?.packets ?? 0;
}
