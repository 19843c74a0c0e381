/**
 * End to end with real packets and the real bundle (dist/ip-masq.js, `make build`):
 *
 *   pod  10.244.1.2 / fd00:10:244:1::2 ──veth── node ──veth── up: VPC 198.51.100.10, 2001:db8:100::10
 *                                              │                 outside 203.0.113.10, 2001:db8:200::10
 *   rpod 10.244.2.5 / fd00:10:244:2::5 ─veth───┘  (a pod of another node: inside the cluster network)
 *
 * The node forwards and carries flannel's rules of one era (plus neighbours). A UDP peer
 * (scripts/udp-peer.mjs) in `up`/`rpod` answers with the source address it saw; every probe is
 * a new socket, so a new conntrack flow. Before ip-masq the VPC sees the node; after
 * `ip-masq apply` the VPC sees the pod, the outside sees the node, pod → pod is never NATed, and
 * every foreign rule but flannel's MASQUERADE is still there. Then flanneld's re-add (iptables-
 * restore) makes the VPC see the node again, and one more removal pass fixes it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, canUseNetns, mustExec } from '../helpers/netns.js';
import { SCENARIOS, type FlannelScenario } from '../fixtures/flannel/scenarios.js';
import {
  buildScenario,
  flanneldReadd,
  nsExec,
  nsMust,
  rulesetOf,
} from '../fixtures/flannel/build.js';
import type { FlannelFixture } from '../fixtures/flannel/scenarios.js';
import { readFileSync } from 'node:fs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(REPO, 'dist/ip-masq.js');
const PEER = join(REPO, 'scripts/udp-peer.mjs');
const FIXTURES = join(REPO, 'test/fixtures/flannel');
const PORT = '7777';
const TRAFFIC_SCENARIOS = [
  'v0.10-postrouting',
  'current-dualstack',
  'nftables-mode',
  'kube-docker-cni-node',
];

const ADDR = {
  pod4: '10.244.1.2',
  pod6: 'fd00:10:244:1::2',
  rpod4: '10.244.2.5',
  rpod6: 'fd00:10:244:2::5',
  node4: '192.0.2.1',
  node6: '2001:db8:1::1',
  vpc4: '198.51.100.10',
  vpc6: '2001:db8:100::10',
  out4: '203.0.113.10',
  out6: '2001:db8:200::10',
};

interface Node {
  pod: Netns;
  node: Netns;
  up: Netns;
  rpod: Netns;
  dir: string;
  config: string;
  servers: ChildProcess[];
}

const nodes: Node[] = [];
afterAll(async () => {
  for (const n of nodes) {
    for (const s of n.servers) s.kill();
    await Promise.all([n.pod, n.node, n.up, n.rpod].map((ns) => ns.dispose()));
    rmSync(n.dir, { recursive: true, force: true });
  }
});

async function serve(ns: Netns, servers: ChildProcess[], addrs: string[]): Promise<void> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns.name, process.execPath, PEER, 'serve', PORT, ...addrs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (c) => reject(new Error(`udp peer in ${ns.name} exited ${c}`)));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
  });
}

async function veth(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
  await mustExec([
    'ip',
    'link',
    'add',
    aIf,
    'netns',
    a.name,
    'type',
    'veth',
    'peer',
    'name',
    bIf,
    'netns',
    b.name,
  ]);
  await nsMust(a, ['ip', 'link', 'set', aIf, 'up']);
  await nsMust(b, ['ip', 'link', 'set', bIf, 'up']);
}

async function buildNode(s: FlannelScenario): Promise<Node> {
  const [pod, node, up, rpod] = await Promise.all([
    Netns.create('tpod'),
    Netns.create('tnode'),
    Netns.create('tup'),
    Netns.create('trpod'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'ipm-traffic-'));
  const n: Node = { pod, node, up, rpod, dir, config: join(dir, 'config.yaml'), servers: [] };
  nodes.push(n);
  const sh = (ns: Netns, cmds: string[]): Promise<unknown> =>
    Promise.all(cmds.map((c) => nsMust(ns, ['sh', '-c', c])));

  await veth(pod, 'eth0', node, 'cni0');
  await veth(rpod, 'eth0', node, 'flannel1');
  await veth(node, 'eth0', up, 'eth0');
  await sh(node, ['sysctl -qw net.ipv4.ip_forward=1', 'sysctl -qw net.ipv6.conf.all.forwarding=1']);
  for (const [ns, cmds] of [
    [
      pod,
      ['ip addr add 10.244.1.2/24 dev eth0', 'ip -6 addr add fd00:10:244:1::2/64 dev eth0 nodad'],
    ],
    [
      rpod,
      ['ip addr add 10.244.2.5/24 dev eth0', 'ip -6 addr add fd00:10:244:2::5/64 dev eth0 nodad'],
    ],
    [
      node,
      [
        'ip addr add 10.244.1.1/24 dev cni0',
        'ip -6 addr add fd00:10:244:1::1/64 dev cni0 nodad',
        'ip addr add 10.244.2.1/24 dev flannel1',
        'ip -6 addr add fd00:10:244:2::1/64 dev flannel1 nodad',
        'ip addr add 192.0.2.1/24 dev eth0',
        'ip -6 addr add 2001:db8:1::1/64 dev eth0 nodad',
      ],
    ],
    [
      up,
      [
        'ip addr add 192.0.2.2/24 dev eth0',
        'ip -6 addr add 2001:db8:1::2/64 dev eth0 nodad',
        `ip addr add ${ADDR.vpc4}/32 dev lo`,
        `ip addr add ${ADDR.out4}/32 dev lo`,
        `ip -6 addr add ${ADDR.vpc6}/128 dev lo`,
        `ip -6 addr add ${ADDR.out6}/128 dev lo`,
      ],
    ],
  ] as const) {
    for (const c of cmds) await nsMust(ns, ['sh', '-c', c]);
  }
  await sh(pod, [
    'ip route add default via 10.244.1.1',
    'ip -6 route add default via fd00:10:244:1::1',
  ]);
  await sh(rpod, [
    'ip route add default via 10.244.2.1',
    'ip -6 route add default via fd00:10:244:2::1',
  ]);
  await sh(node, [
    'ip route add default via 192.0.2.2',
    'ip -6 route add default via 2001:db8:1::2',
  ]);
  // The VPC routes the pod network back to the node (pods are routable, as in a cloud VPC).
  await sh(up, [
    'ip route add 10.244.0.0/16 via 192.0.2.1',
    'ip -6 route add fd00:10:244::/56 via 2001:db8:1::1',
  ]);

  await buildScenario(node, s);
  writeFileSync(join(dir, 'subnet.env'), s.subnetEnv);
  writeFileSync(
    n.config,
    [
      // The cluster network is deliberately NOT listed: pod → pod must stay un-NATed through
      // ip-masq's flannel exclusions alone (flannel's own RETURNs do not stop a later nat chain).
      'nonMasqueradeCIDRs:',
      '  - 198.51.100.0/24',
      ...(s.enableIPv6 ? ['  - 2001:db8:100::/48'] : []),
      `enableIPv6: ${s.enableIPv6}`,
      'flannel:',
      `  subnetEnv: ${join(dir, 'subnet.env')}`,
      '',
    ].join('\n'),
  );
  await serve(up, n.servers, [ADDR.vpc4, ADDR.out4, ADDR.vpc6, ADDR.out6]);
  await serve(rpod, n.servers, [ADDR.rpod4, ADDR.rpod6]);
  return n;
}

/** The source address `dst` saw for a fresh UDP flow from the pod. */
async function seen(n: Node, dst: string): Promise<string> {
  return (await nsMust(n.pod, [process.execPath, PEER, 'ask', dst, PORT, '10'])).trim();
}

async function ipMasq(
  n: Node,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return nsExec(n.node, [process.execPath, BUNDLE, ...args, '--config', n.config]);
}

/** The ruleset without our own tables: what must survive except flannel's MASQUERADE rules. */
const foreign = (r: Record<string, unknown>[]): Record<string, unknown>[] =>
  r.filter((o) => {
    const x = (o['table'] ?? o['chain'] ?? o['rule'] ?? o['set']) as
      { table?: string; name?: string } | undefined;
    return !(x && (x.table === 'ip-masq' || ('table' in o && x.name === 'ip-masq')));
  });

beforeAll(async () => {
  // The bundle is what ships: build it if missing (make build is a no-op when up to date).
  if (!existsSync(BUNDLE)) await mustExec(['make', '-C', REPO, 'build']);
});

describe.runIf(canUseNetns())('pod egress with real packets before and after ip-masq apply', () => {
  for (const name of TRAFFIC_SCENARIOS) {
    const s = SCENARIOS.find((x) => x.name === name) as FlannelScenario;
    it(`${name}: VPC sees the pod, outside sees the node, pod→pod not NATed`, async () => {
      const fx = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as FlannelFixture;
      const n = await buildNode(s);
      const v6 = s.enableIPv6;

      // Before: flannel masquerades everything leaving the cluster network.
      expect(await seen(n, ADDR.vpc4)).toBe(ADDR.node4);
      expect(await seen(n, ADDR.out4)).toBe(ADDR.node4);
      expect(await seen(n, ADDR.rpod4)).toBe(ADDR.pod4);
      if (v6) {
        expect(await seen(n, ADDR.vpc6)).toBe(ADDR.node6);
        expect(await seen(n, ADDR.rpod6)).toBe(ADDR.pod6);
      }
      const before = await rulesetOf(n.node);

      const r = await ipMasq(n, 'apply');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`deleted ${fx.flannelMasquerade.length} flannel MASQUERADE rules`),
      );

      expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);
      expect(await seen(n, ADDR.out4)).toBe(ADDR.node4);
      expect(await seen(n, ADDR.rpod4)).toBe(ADDR.pod4);
      if (v6) {
        expect(await seen(n, ADDR.vpc6)).toBe(ADDR.pod6);
        expect(await seen(n, ADDR.out6)).toBe(ADDR.node6);
        expect(await seen(n, ADDR.rpod6)).toBe(ADDR.pod6);
      }

      // Every foreign rule except flannel's MASQUERADE is still there, byte for byte.
      const gone = fx.flannelMasquerade;
      const expected = before.filter((o) => {
        const rule = o['rule'] as { family: string; table: string; handle: number } | undefined;
        return !(
          rule &&
          gone.some(
            (g) => g.family === rule.family && g.table === rule.table && g.handle === rule.handle,
          )
        );
      });
      expect(foreign(await rulesetOf(n.node))).toEqual(expected);
      expect((await nsExec(n.node, ['iptables-save'])).status).toBe(0);
      expect((await nsExec(n.node, ['ip6tables-save'])).status).toBe(0);

      // A second apply changes nothing.
      expect((await ipMasq(n, 'apply')).stdout).toMatch(/^unchanged/);
    });
  }

  it('control: without flannel facts (no subnet.env) the same config NATs pod → pod, so the exclusions above are what kept it', async () => {
    const s = SCENARIOS.find((x) => x.name === 'current-no-random') as FlannelScenario;
    const n = await buildNode(s);
    writeFileSync(
      n.config,
      readFileSync(n.config, 'utf8').replace(
        join(n.dir, 'subnet.env'),
        join(n.dir, 'no-such-subnet.env'),
      ),
    );
    expect((await ipMasq(n, 'apply')).status).toBe(0);
    expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);
    expect(await seen(n, ADDR.rpod4)).toBe('10.244.2.1');
  });

  it('flanneld re-adds its rules (iptables-restore): new flows are masqueraded until the next removal pass', async () => {
    const s = SCENARIOS.find((x) => x.name === 'current-dualstack') as FlannelScenario;
    const n = await buildNode(s);
    expect((await ipMasq(n, 'apply')).status).toBe(0);
    expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);
    const clean = await nsMust(n.node, ['iptables-save', '-t', 'nat']);

    // ipTablesCleanAndBuild: -D what still exists, then -A all, as one restore per family.
    for (const step of s.steps) {
      if (!('ip' in step) && !('ip6' in step)) continue;
      const t = 'ip' in step ? step.ip : step.ip6;
      const lines = t.nat.map((l) => l.replace(/^M /, ''));
      const present = new Set(
        (
          await nsMust(n.node, ['ip' in step ? 'iptables-save' : 'ip6tables-save', '-t', 'nat'])
        ).split('\n'),
      );
      const text = [
        '*nat',
        ...lines.filter((l) => present.has(l)).map((l) => l.replace(/^-A /, '-D ')),
        ...lines,
        'COMMIT',
        '',
      ].join('\n');
      await nsMust(
        n.node,
        ['ip' in step ? 'iptables-restore' : 'ip6tables-restore', '--noflush', '--wait'],
        text,
      );
    }
    // flannel's chain runs at priority 100, before ours (110): its MASQUERADE wins again.
    expect(await seen(n, ADDR.vpc4)).toBe(ADDR.node4);
    expect(await seen(n, ADDR.vpc6)).toBe(ADDR.node6);

    const r = await ipMasq(n, 'apply');
    expect(r.stdout).toMatch(/^unchanged.*deleted 4 flannel MASQUERADE rules/);
    expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);
    expect(await seen(n, ADDR.vpc6)).toBe(ADDR.pod6);
    expect(await seen(n, ADDR.out4)).toBe(ADDR.node4);
    const strip = (t: string): string =>
      t
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/\[\d+:\d+\]/, ''))
        .join('\n');
    expect(strip(await nsMust(n.node, ['iptables-save', '-t', 'nat']))).toBe(strip(clean));
  });

  it('with `ip-masq run` (the daemon) on the node: every flanneld re-add is undone, new flows stay correct, one warning', async () => {
    const s = SCENARIOS.find((x) => x.name === 'current-dualstack') as FlannelScenario;
    const n = await buildNode(s);
    const daemon = spawn(
      'ip',
      [
        'netns',
        'exec',
        n.node.name,
        process.execPath,
        BUNDLE,
        'run',
        '--config',
        n.config,
        '--state-dir',
        join(n.dir, 'state'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    n.servers.push(daemon);
    let log = '';
    daemon.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    daemon.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    const masqCount = async (): Promise<number> =>
      (await nsMust(n.node, ['iptables-save', '-t', 'nat']))
        .split('\n')
        .filter((l) => l.startsWith('-A FLANNEL-POSTRTG') && l.includes('MASQUERADE')).length;
    /** Polls (bounded) until the daemon has deleted flannel's MASQUERADE rules. */
    const settled = async (): Promise<void> => {
      for (
        let i = 0;
        i < 200 &&
        ((await masqCount()) > 0 ||
          (await nsExec(n.node, ['nft', 'list', 'table', 'ip', 'ip-masq'])).status !== 0);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await masqCount()).toBe(0);
    };
    await settled();
    expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);

    for (let round = 0; round < 3; round++) {
      // flanneld's ipTablesCleanAndBuild for both families.
      await flanneldReadd(n.node, s, {
        ip: (await nsMust(n.node, ['iptables-save', '-t', 'nat'])).split('\n'),
        ip6: (await nsMust(n.node, ['ip6tables-save', '-t', 'nat'])).split('\n'),
      });
      await settled();
      expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);
      expect(await seen(n, ADDR.vpc6)).toBe(ADDR.pod6);
      expect(await seen(n, ADDR.out4)).toBe(ADDR.node4);
      expect(await seen(n, ADDR.rpod4)).toBe(ADDR.pod4);
    }
    // `ip-masq status` counts the re-adds (the daemon keeps them in its state directory).
    // The last round's counters may be written a moment after the rules are gone: poll.
    // 3 rounds × 2 MASQUERADE rules × 2 families; the IPv4 and IPv6 restores of one round may
    // land in one removal pass or two, so count rules, not passes.
    type DaemonStatus = {
      flannel: { readds: number; readdRules: number; episodes: number; leftoverRules: number };
    } | null;
    let daemonStatus: DaemonStatus = null;
    for (let i = 0; i < 100 && (daemonStatus?.flannel.readdRules ?? 0) < 12; i++) {
      const st = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          n.node.name,
          process.execPath,
          BUNDLE,
          'status',
          '--json',
          '--config',
          n.config,
          '--state-dir',
          join(n.dir, 'state'),
        ],
        { encoding: 'utf8' },
      );
      daemonStatus = st.stdout ? (JSON.parse(st.stdout) as { daemon: DaemonStatus }).daemon : null;
      if ((daemonStatus?.flannel.readdRules ?? 0) < 12) await new Promise((r) => setTimeout(r, 50));
    }
    expect(daemonStatus?.flannel).toMatchObject({ readdRules: 12, episodes: 1, leftoverRules: 4 });
    expect(daemonStatus?.flannel.readds).toBeGreaterThanOrEqual(3);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    const warnings = log.split('\n').filter((l) => l.includes('flannel re-added'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('\\"ipMasq\\": false');
  });

  it("boot order: `ip-masq run` starts before flannel's subnet.env exists; pod → pod is NATed only until flanneld writes it", async () => {
    const s = SCENARIOS.find((x) => x.name === 'current-dualstack') as FlannelScenario;
    const n = await buildNode(s);
    // flanneld runs without --ip-masq (as doctor advises): none of its nat rules exist.
    for (const tool of ['iptables-nft', 'ip6tables-nft'])
      await nsMust(n.node, [tool, '-t', 'nat', '-F', 'FLANNEL-POSTRTG']);
    // At boot /run/flannel does not exist yet.
    const flannelDir = join(n.dir, 'run', 'flannel');
    const subnetEnv = join(flannelDir, 'subnet.env');
    writeFileSync(
      n.config,
      ['nonMasqueradeCIDRs: [198.51.100.0/24]', 'flannel:', `  subnetEnv: ${subnetEnv}`, ''].join(
        '\n',
      ),
    );
    const daemon = spawn(
      'ip',
      [
        'netns',
        'exec',
        n.node.name,
        process.execPath,
        BUNDLE,
        'run',
        '--config',
        n.config,
        '--state-dir',
        join(n.dir, 'state'),
        '--log-level',
        'debug',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    n.servers.push(daemon);
    let log = '';
    daemon.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    daemon.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    for (let i = 0; i < 200 && !log.includes('"msg":"ready"'); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(log).toContain(`no ${subnetEnv} yet`);

    // The window: without the pod network's exclusions, pod → pod of another node is NATed.
    expect(await seen(n, ADDR.rpod4)).not.toBe(ADDR.pod4);
    expect(await seen(n, ADDR.vpc4)).toBe(ADDR.pod4);

    // flanneld starts: creates /run/flannel and renames its lease file into place.
    mkdirSync(flannelDir, { recursive: true });
    writeFileSync(
      join(flannelDir, '.subnet.env'),
      s.subnetEnv.replace('FLANNEL_IPMASQ=true', 'FLANNEL_IPMASQ=false'),
    );
    renameSync(join(flannelDir, '.subnet.env'), subnetEnv);
    // Bounded poll (5 s, far below the 60 s resync): the exclusions arrive through the watch.
    let source = '';
    for (let i = 0; i < 100 && source !== ADDR.pod4; i++) {
      source = await seen(n, ADDR.rpod4);
      if (source !== ADDR.pod4) await new Promise((r) => setTimeout(r, 50));
    }
    expect(source).toBe(ADDR.pod4);
    expect(await seen(n, ADDR.out4)).toBe(ADDR.node4);
    expect(log).toMatch(/"triggers":\[[^\]]*"facts"/);
    expect(log).not.toMatch(/"triggers":\[[^\]]*"resync"/);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  });
});
