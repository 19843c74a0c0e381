import { mkdtemp, mkdir, rm, writeFile, readFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../daemon/src/config/settings.js';
import type { Config } from '../../daemon/src/config/schema.js';
import {
  formatDoctorReport,
  runDoctor,
  type DoctorDeps,
  type DoctorReport,
} from '../../daemon/src/doctor/doctor.js';
import type { Exec } from '../../daemon/src/flannel/legacy.js';
import type { FlannelFixture } from '../fixtures/flannel/scenarios.js';
import { FakeNft } from '../helpers/fake-nft.js';

const DIR = fileURLToPath(new URL('../fixtures/flannel/', import.meta.url));
const fixture = (n: string): FlannelFixture =>
  JSON.parse(readFileSync(`${DIR}${n}.json`, 'utf8')) as FlannelFixture;
/** A fixture's ruleset with flannel's MASQUERADE rules already deleted (what ip-masq leaves). */
const cleaned = (
  fx: FlannelFixture,
  families: string[] = ['ip', 'ip6'],
): Record<string, unknown>[] =>
  fx.ruleset.filter((o) => {
    const r = o['rule'] as { family: string; table: string; handle: number } | undefined;
    return !(
      r &&
      families.includes(r.family) &&
      fx.flannelMasquerade.some(
        (m) => m.family === r.family && m.table === r.table && m.handle === r.handle,
      )
    );
  });

const CONFLIST = (delegate: Record<string, unknown>): string =>
  JSON.stringify({
    name: 'cbr0',
    cniVersion: '0.3.1',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true, ...delegate } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
const UNIT_OK =
  '[Unit]\nDescription=x\nAfter=network-online.target nftables.service\n[Service]\nExecStart=/usr/bin/ip-masq run\n';

let roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  roots = [];
});

/** A fake node root; like a real host it has /proc/net (doctor runs as root, unconfined). */
async function node(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ipm-doctor-'));
  roots.push(root);
  for (const [rel, text] of Object.entries({ 'proc/net/dev': 'Inter-|\n', ...files })) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), text);
  }
  return root;
}

function deps(
  root: string,
  ruleset: Record<string, unknown>[],
  opts: { matches?: boolean | null; exec?: Exec } = {},
): DoctorDeps {
  const d: DoctorDeps = {
    root,
    readFile: (p) => readFile(p, 'utf8'),
    readDir: (p) => readdir(p),
    nft: new FakeNft(ruleset),
    ourTableMatches: async () => (opts.matches === undefined ? true : opts.matches),
  };
  d.legacyExec =
    opts.exec ?? (async () => ({ status: null, stdout: '', stderr: '', notFound: true }));
  return d;
}
const status = (r: DoctorReport): Record<string, string> =>
  Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
const by0 = (r: DoctorReport) => Object.fromEntries(r.checks.map((c) => [c.id, c]));
const config = (over: Partial<Config> = {}): Config => ({ ...defaultConfig(), ...over });

describe('runDoctor', () => {
  it('a node where the manual procedure was done: everything PASSes', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
      'etc/cni/net.d/10-flannel.conflist': CONFLIST({ ipMasq: false }),
      'usr/lib/systemd/system/ip-masq.service': UNIT_OK,
      'proc/net/ip_tables_names': '',
    });
    const r = await runDoctor(deps(root, cleaned(fixture('current-no-random'))), config());
    expect(r.checks.filter((c) => c.status !== 'PASS')).toEqual([]);
    expect(r.failed).toBe(false);
    expect(r.checks.map((c) => c.id)).toEqual([
      'flannel-facts',
      'flannel-ipmasq',
      'cni-delegate-ipmasq',
      'flannel-masquerade-rules',
      'legacy-iptables',
      'cni-bridge-masquerade',
      'ip-masq-agent-leftover',
      'ip-masq-table',
      'nftables-service-order',
    ]);
    expect(r.checks[0]?.message).toBe(
      'pod network 10.244.0.0/16 (node 10.244.1.0/24) from /run/flannel/subnet.env',
    );
  });

  it('a stock kube-flannel node without ip-masq: every problem FAILs with its fix', async () => {
    const save =
      '*nat\n:FLANNEL-POSTRTG - [0:0]\n-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully\nCOMMIT\n';
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=true\n',
      'etc/cni/net.d/10-flannel.conflist': CONFLIST({}),
      'etc/systemd/system/ip-masq.service': '[Unit]\nAfter=network.target\n',
      'proc/net/ip_tables_names': 'nat\n',
    });
    const exec: Exec = async (argv) =>
      argv[0] === 'iptables-legacy-save'
        ? { status: 0, stdout: save, stderr: '' }
        : { status: 1, stdout: '', stderr: 'no' };
    const r = await runDoctor(
      deps(root, fixture('mixed-node').ruleset, { matches: false, exec }),
      config(),
    );
    expect(status(r)).toEqual({
      'flannel-facts': 'PASS',
      'flannel-ipmasq': 'FAIL',
      'cni-delegate-ipmasq': 'WARN',
      'flannel-masquerade-rules': 'FAIL',
      'legacy-iptables': 'FAIL',
      'cni-bridge-masquerade': 'FAIL',
      'ip-masq-agent-leftover': 'FAIL',
      'ip-masq-table': 'FAIL',
      'nftables-service-order': 'FAIL',
    });
    expect(by0(r)['ip-masq-agent-leftover']?.message).toContain(
      'ip nat IP-MASQ-AGENT (4 rules, jumped to from POSTROUTING)',
    );
    expect(by0(r)['ip-masq-agent-leftover']?.fix).toContain(
      'nft delete rule ip nat POSTROUTING handle 12 && nft flush chain ip nat IP-MASQ-AGENT && nft delete chain ip nat IP-MASQ-AGENT',
    );
    expect(r.failed).toBe(true);
    const by = Object.fromEntries(r.checks.map((c) => [c.id, c]));
    expect(by['flannel-ipmasq']?.fix).toContain('without --ip-masq');
    expect(by['cni-delegate-ipmasq']?.fix).toContain('"ipMasq": false');
    expect(by['flannel-masquerade-rules']?.message).toContain(
      'ip nat FLANNEL-POSTRTG handle 26: -A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE',
    );
    expect(by['legacy-iptables']?.fix).toBe(
      "set flannel.removeLegacy: true, or run: iptables-legacy -w -t nat -D FLANNEL-POSTRTG -s 10.244.0.0/16 '!' -d 224.0.0.0/4 -m comment --comment 'flanneld masq' -j MASQUERADE --random-fully",
    );
    expect(by['cni-bridge-masquerade']?.message).toContain('ip nat CNI-5f0e8a1b2c3d4e5f60718293');
    expect(by['nftables-service-order']?.message).toContain(
      '/etc/systemd/system/ip-masq.service lacks After=nftables.service',
    );
  });

  it('dropping --ip-masq without "ipMasq": false in the delegate FAILs (the bridge plugin would masquerade)', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=false\n',
      'etc/cni/net.d/10-flannel.conflist': CONFLIST({}),
    });
    const r = await runDoctor(deps(root, []), config());
    const c = r.checks.find((x) => x.id === 'cni-delegate-ipmasq');
    expect(c?.status).toBe('FAIL');
    expect(c?.message).toContain(
      '/etc/cni/net.d/10-flannel.conflist: delegate lacks "ipMasq" and flanneld runs without --ip-masq',
    );
    expect(status(r)['nftables-service-order']).toBe('WARN');
  });

  it('"ipMasq": true and unreadable JSON are reported per file; .conf files count too', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=false\n',
      'etc/cni/net.d/10-flannel.conflist': CONFLIST({ ipMasq: true }),
      'etc/cni/net.d/20-flannel.conf': '{"type": "flannel", "delegate": {"ipMasq": false}',
      'etc/cni/net.d/99-other.conflist': CONFLIST({ ipMasq: true }).replace(
        '"flannel"',
        '"bridge"',
      ),
    });
    const c = (await runDoctor(deps(root, []), config())).checks.find(
      (x) => x.id === 'cni-delegate-ipmasq',
    );
    expect(c?.status).toBe('FAIL');
    expect(c?.message).toMatch(
      /^\/etc\/cni\/net\.d\/10-flannel\.conflist: delegate has "ipMasq": true.*; \/etc\/cni\/net\.d\/20-flannel\.conf: not readable JSON/,
    );
  });

  it('nftables mode with --ip-masq is a WARN (no fight), and its rules are found', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=true\n',
    });
    const r = await runDoctor(
      deps(root, fixture('nftables-mode').ruleset),
      config({ enableIPv6: true }),
    );
    expect(status(r)['flannel-ipmasq']).toBe('WARN');
    expect(r.checks.find((c) => c.id === 'flannel-masquerade-rules')?.message).toMatch(
      /^4 flannel MASQUERADE rule\(s\) present: ip flannel-ipv4 postrtg handle 6/,
    );
  });

  it('IPv6 flannel rules kept because enableIPv6 is false are a WARN, not a FAIL', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=false\n',
    });
    const r = await runDoctor(deps(root, cleaned(fixture('current-dualstack'), ['ip'])), config());
    const c = r.checks.find((x) => x.id === 'flannel-masquerade-rules');
    expect(c?.status).toBe('WARN');
    expect(c?.message).toContain('2 IPv6 rule(s) kept on purpose because enableIPv6 is false');
  });

  it('legacy iptables that cannot be checked (no /proc/net, as under the unit) is a WARN, not a PASS', async () => {
    const root = await node({});
    await rm(join(root, 'proc'), { recursive: true });
    const legacy = (await runDoctor(deps(root, []), config())).checks.find(
      (c) => c.id === 'legacy-iptables',
    );
    expect(legacy).toMatchObject({
      status: 'WARN',
      fix: 'run the doctor as root on the host: sudo ip-masq doctor',
    });
  });

  it('no flannel at all: flannel checks pass, our table still checked', async () => {
    const root = await node({});
    const r = await runDoctor(deps(root, [], { matches: null }), config());
    expect(status(r)).toMatchObject({
      'flannel-facts': 'PASS',
      'flannel-ipmasq': 'PASS',
      'cni-delegate-ipmasq': 'PASS',
      'legacy-iptables': 'PASS',
      'ip-masq-table': 'WARN',
    });
    expect(r.failed).toBe(false);
  });

  it('a malformed FLANNEL_SUBNET rejects the IPv4 facts: a FAIL naming the line', async () => {
    const root = await node({
      'run/flannel/subnet.env': 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=nonsense\n',
    });
    const c = (await runDoctor(deps(root, []), config())).checks[0];
    expect(c?.status).toBe('FAIL');
    expect(c?.message).toContain('/run/flannel/subnet.env:2: FLANNEL_SUBNET');
  });

  it('a malformed line of no consequence (FLANNEL_MTU) is a WARN naming the line', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=lots\n',
    });
    const c = (await runDoctor(deps(root, []), config())).checks[0];
    expect(c?.status).toBe('WARN');
    expect(c?.message).toContain('/run/flannel/subnet.env:3: FLANNEL_MTU');
  });

  it.each([
    [
      'FLANNEL_NETWORK=0.0.0.0/0\nFLANNEL_SUBNET=10.244.1.1/24\n',
      /:1: FLANNEL_NETWORK=0\.0\.0\.0\/0: .*shorter than \/8/,
    ],
    [
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.1.1.1/1\n',
      /:2: FLANNEL_SUBNET=10\.1\.1\.1\/1: node subnet 0\.0\.0\.0\/1 is not inside/,
    ],
    [
      'FLANNEL_NETWORK=fd00::/48\nFLANNEL_SUBNET=10.244.1.1/24\n',
      /:1: FLANNEL_NETWORK: .*not an IPv4 prefix/,
    ],
  ])('implausible facts are a FAIL naming the line: %j', async (env, line) => {
    const root = await node({ 'run/flannel/subnet.env': env });
    const c = (await runDoctor(deps(root, []), config())).checks[0];
    expect(c?.status).toBe('FAIL');
    expect(c?.message).toMatch(line);
    expect(c?.message).toContain("leaves flannel's rules of that family in place");
  });

  it('text form: one line per check, fixes indented, a summary', async () => {
    const root = await node({
      'run/flannel/subnet.env':
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPMASQ=true\n',
    });
    const text = formatDoctorReport(await runDoctor(deps(root, [], { matches: true }), config()));
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'PASS  flannel-facts: pod network 10.244.0.0/16 (node 10.244.1.0/24) from /run/flannel/subnet.env',
    );
    expect(lines[1]).toMatch(/^FAIL  flannel-ipmasq: flanneld runs with --ip-masq/);
    expect(lines[2]).toMatch(/^      fix: run flanneld without --ip-masq/);
    expect(lines[lines.length - 1]).toMatch(/^\d PASS, \d WARN, 1 FAIL — something needs fixing$/);
  });
});
