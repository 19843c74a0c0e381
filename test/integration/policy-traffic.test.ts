/**
 * The policy keys against the real kernel, with real packets: nft 1.0.6 accepts every rendered
 * form and lists it back equal (a second reconcile changes nothing), and a UDP peer on the far
 * side of the node reports the source address (and port) it saw for each new flow.
 *
 *   pod 10.244.1.2, 10.244.1.200 ── cni0 node eth0 192.0.2.1 (+ 192.0.2.9) ── up: 198.18.x.10,
 *       fd00:10:244:1::2               2001:db8:1::1 (+ ::9)                   203.0.113.10,
 *                                                                              2001:db8:200::10
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../helpers/config.js';
import type { Config } from '../../daemon/src/config/schema.js';
import { reconcile } from '../../daemon/src/reconcile/reconcile.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { canUseNetns, link, mustExec, Netns } from '../helpers/netns.js';

const PEER = join(import.meta.dirname, '..', '..', 'scripts', 'udp-peer.mjs');
const PORT = '7777';
const PORTS_PORT = '7778';
const POD = '10.244.1.2';
const POD_OUTSIDE_SOURCES = '10.244.1.200';
const POD6 = 'fd00:10:244:1::2';
const NODE = '192.0.2.1';
const NODE_SECOND = '192.0.2.9';
const NODE6 = '2001:db8:1::1';
const NODE6_SECOND = '2001:db8:1::9';
const OUT = '203.0.113.10';
const OUT6 = '2001:db8:200::10';
/** Destinations for the nested exceptions: keep ⊃ masquerade ⊃ keep ⊃ masquerade. */
const NESTED = {
  keep1: '198.18.0.10', // 198.18.0.0/15 (nonMasqueradeCIDRs)
  masq2: '198.18.4.10', // 198.18.4.0/22 (masqueradeCIDRs)
  keep3: '198.18.5.10', // 198.18.5.0/24 (nonMasqueradeCIDRs)
  masq4: '198.18.5.200', // 198.18.5.128/25 (masqueradeCIDRs)
};

const REPO = join(import.meta.dirname, '..', '..');
const BUNDLE = join(REPO, 'dist/ip-masq.js');
const ALL_KEYS = [
  'nonMasqueradeCIDRs: [198.18.0.0/15, 198.18.5.0/24]',
  'masqueradeCIDRs: [198.18.4.0/22, 198.18.5.128/25, 169.254.169.254/32]',
  'sourceCIDRs: [10.244.1.0/25, 10.96.0.0/12, 192.168.7.1/32]',
  'outputInterfaces: ["eth*", ens3]',
  `snatAddress: ${NODE_SECOND}`,
  'flannel:',
  '  subnetEnv: /nonexistent/subnet.env',
  '',
].join('\n');

interface StatusJson {
  tables: Array<{ rules: Array<{ comment: string; rule: string | null; packets: number }> }>;
}

let pod: Netns;
let node: Netns;
let up: Netns;
let client: NftClient;
const servers: ChildProcess[] = [];

async function serve(mode: string, port: string, addrs: string[]): Promise<void> {
  const child = spawn(
    'ip',
    ['netns', 'exec', up.name, process.execPath, PEER, mode, port, ...addrs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (c) => reject(new Error(`udp peer exited ${c}`)));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
  });
}

beforeAll(async () => {
  if (!canUseNetns()) return;
  // The bundle is what ships: build it if missing (make build is a no-op when up to date).
  if (!existsSync(BUNDLE)) await mustExec(['make', '-C', REPO, 'build']);
  [pod, node, up] = await Promise.all([
    Netns.create('pp-pod'),
    Netns.create('pp-nod'),
    Netns.create('pp-up'),
  ]);
  const { aIf: podIf, bIf: cni } = await link(pod, `${POD}/24`, node, '10.244.1.1/24');
  const { aIf: uplink } = await link(node, `${NODE}/24`, up, '192.0.2.2/24');
  const run = async (ns: Netns, cmds: string[]): Promise<void> => {
    for (const c of cmds) await ns.mustExec(['sh', '-c', c]);
  };
  await run(pod, [
    `ip addr add ${POD_OUTSIDE_SOURCES}/24 dev ${podIf}`,
    `ip -6 addr add ${POD6}/64 dev ${podIf} nodad`,
    'ip route add default via 10.244.1.1',
    'ip -6 route add default via fd00:10:244:1::1',
  ]);
  await run(node, [
    // The uplink is renamed so that the interface wildcards below mean something.
    `ip link set ${uplink} down`,
    `ip link set ${uplink} name eth0`,
    'ip link set eth0 up',
    `ip addr add ${NODE_SECOND}/24 dev eth0`,
    `ip -6 addr add ${NODE6}/64 dev eth0 nodad`,
    `ip -6 addr add ${NODE6_SECOND}/64 dev eth0 nodad`,
    `ip -6 addr add fd00:10:244:1::1/64 dev ${cni} nodad`,
    'ip route add default via 192.0.2.2',
    'ip -6 route add default via 2001:db8:1::2',
    'sysctl -qw net.ipv4.ip_forward=1',
    'sysctl -qw net.ipv6.conf.all.forwarding=1',
  ]);
  const lo = [OUT, ...Object.values(NESTED)].map((a) => `ip addr add ${a}/32 dev lo`);
  const upIf = (await up.mustExec(['ip', '-o', 'link', 'show'])).match(/\d+: (v\w+)@/)?.[1];
  await run(up, [
    ...lo,
    `ip -6 addr add ${OUT6}/128 dev lo`,
    `ip -6 addr add 2001:db8:1::2/64 dev ${upIf} nodad`,
    // Pods are routable from the far side, so a kept source still gets its answer.
    `ip route add 10.244.0.0/16 via ${NODE}`,
    `ip -6 route add fd00:10:244::/48 via ${NODE6}`,
  ]);
  await serve('serve', PORT, [OUT, OUT6, ...Object.values(NESTED)]);
  await serve('serve-ports', PORTS_PORT, [OUT, OUT6]);
  client = new NftClient({ argv: node.nftArgv() });
});

afterAll(async () => {
  for (const s of servers) s.kill();
  for (const ns of [pod, node, up]) await ns?.dispose();
});

/** The source address `dst` saw for a fresh UDP flow from the pod (from `from` if given). */
async function seen(dst: string, from?: string): Promise<string> {
  const argv = [process.execPath, PEER, 'ask', dst, PORT, '10', ...(from ? [from] : [])];
  return (await pod.mustExec(argv)).trim();
}

/** Applies `text`, then checks that nft lists back exactly what was planned. */
async function apply(text: string): Promise<Config> {
  const config = parseConfigText(text, 'policy.yaml');
  expect((await reconcile({ client }, config)).changed).toBe(true);
  expect(await reconcile({ client }, config)).toMatchObject({ changed: false, transactions: 0 });
  return config;
}

describe.runIf(canUseNetns())('policy keys with real packets', () => {
  it('masqueradeCIDRs nested three levels inside nonMasqueradeCIDRs: the longest prefix wins', async () => {
    await apply(
      [
        'nonMasqueradeCIDRs: [198.18.0.0/15, 198.18.5.0/24]',
        'masqueradeCIDRs: [198.18.4.0/22, 198.18.5.128/25]',
        '',
      ].join('\n'),
    );
    expect(await seen(NESTED.keep1)).toBe(POD);
    expect(await seen(NESTED.masq2)).toBe(NODE);
    expect(await seen(NESTED.keep3)).toBe(POD);
    expect(await seen(NESTED.masq4)).toBe(NODE);
    expect(await seen(OUT)).toBe(NODE);
    const set = await node.mustExec(['nft', 'list', 'set', 'ip', 'ip-masq', 'nomasq']);
    expect(set).toMatch(/169\.254\.0\.0\/16/); // link-local is a keep entry of the one set
  });

  it('outputInterfaces: a wildcard that matches the uplink masquerades, one that does not keeps the source', async () => {
    await apply('nonMasqueradeCIDRs: []\noutputInterfaces: ["eth*"]\n');
    expect(await seen(OUT)).toBe(NODE);
    await apply('nonMasqueradeCIDRs: []\noutputInterfaces: ["wan*", "eth1"]\n');
    expect(await seen(OUT)).toBe(POD);
  });

  it('sourceCIDRs: a source outside the list keeps its address, a listed one is masqueraded', async () => {
    await apply('nonMasqueradeCIDRs: []\nsourceCIDRs: [10.244.1.0/25]\n');
    expect(await seen(OUT, POD)).toBe(NODE);
    expect(await seen(OUT, POD_OUTSIDE_SOURCES)).toBe(POD_OUTSIDE_SOURCES);
  });

  it('snatAddress / snatAddressIPv6: the far end sees the second address of the uplink', async () => {
    await apply(
      [
        'nonMasqueradeCIDRs: []',
        'enableIPv6: true',
        `snatAddress: ${NODE_SECOND}`,
        `snatAddressIPv6: "${NODE6_SECOND}"`,
        '',
      ].join('\n'),
    );
    expect(await seen(OUT)).toBe(NODE_SECOND);
    expect(await seen(OUT6)).toBe(NODE6_SECOND);
  });

  it('snatAddress with toPorts and randomFully: false: the address and a port in the range', async () => {
    await apply(
      [
        'nonMasqueradeCIDRs: []',
        'enableIPv6: true',
        'randomFully: false',
        'toPorts: "21000-21049"',
        `snatAddress: ${NODE_SECOND}`,
        `snatAddressIPv6: "${NODE6_SECOND}"`,
        '',
      ].join('\n'),
    );
    for (const [dst, want] of [
      [OUT, NODE_SECOND],
      [OUT6, NODE6_SECOND],
    ] as const) {
      const out = await pod.mustExec([
        process.execPath,
        PEER,
        'flows',
        'udp',
        dst,
        PORTS_PORT,
        '8',
      ]);
      for (const line of out.trim().split('\n')) {
        const [address, port] = line.split(' ');
        expect(address).toBe(want);
        expect(Number(port)).toBeGreaterThanOrEqual(21000);
        expect(Number(port)).toBeLessThanOrEqual(21049);
      }
    }
    const chain = await node.mustExec(['nft', 'list', 'chain', 'ip', 'ip-masq', 'postrouting']);
    expect(chain).toMatch(/snat to 192\.0\.2\.9:21000-21049 comment/);
  });

  it('all keys together, sources from several lines: still one set lookup and listed back equal', async () => {
    await apply(ALL_KEYS);
    expect(await seen(NESTED.masq4)).toBe(NODE_SECOND);
    expect(await seen(NESTED.keep3)).toBe(POD);
    expect(await seen(NESTED.masq4, POD_OUTSIDE_SOURCES)).toBe(POD_OUTSIDE_SOURCES);

    // `ip-masq status` (the bundle) matches the same file and counts each new rule's packets.
    const dir = mkdtempSync(join(tmpdir(), 'ipm-policy-'));
    try {
      writeFileSync(join(dir, 'config.yaml'), ALL_KEYS);
      const status = await node.exec([
        process.execPath,
        BUNDLE,
        'status',
        '--json',
        '--config',
        join(dir, 'config.yaml'),
        '--state-dir',
        dir,
      ]);
      expect(status.stderr).toBe('');
      expect(status.status).toBe(0);
      const rules = (JSON.parse(status.stdout) as StatusJson).tables[0]!.rules;
      const count = (needle: string): number =>
        rules.find((r) => r.comment.includes(needle))?.packets ?? -1;
      expect(count('sources outside sourceCIDRs')).toBeGreaterThanOrEqual(1);
      expect(count('minus masqueradeCIDRs')).toBeGreaterThanOrEqual(1);
      expect(count('SNAT to 192.0.2.9')).toBeGreaterThanOrEqual(1);
      expect(rules.find((r) => r.comment.includes('outputInterfaces'))?.rule).toBe(
        'oifname != "eth*" oifname != "ens3" counter return',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
