/**
 * `ip-masq doctor` through the real bundle, inside a netns carrying flannel's rules, with host
 * files under a temp --root (its proc/ is a symlink to /proc, which inside `ip netns exec`
 * shows that namespace's legacy tables). Checks the verdicts before and after `ip-masq apply`,
 * the exit code, and that --json parses. The shipped systemd unit is the one checked.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, canUseNetns } from '../helpers/netns.js';
import { SCENARIOS, restoreText, type FlannelScenario } from '../fixtures/flannel/scenarios.js';
import { buildScenario, nsExec, nsMust } from '../fixtures/flannel/build.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(REPO, 'dist/ip-masq.js');
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface Host {
  ns: Netns;
  root: string;
  doctorConfig: string;
  applyConfig: string;
}

async function host(s: FlannelScenario, delegate: Record<string, unknown>): Promise<Host> {
  const ns = await Netns.create('fldoc');
  cleanup.push(() => ns.dispose());
  const root = mkdtempSync(join(tmpdir(), 'ipm-doctor-root-'));
  cleanup.push(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'run/flannel'), { recursive: true });
  mkdirSync(join(root, 'etc/cni/net.d'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/systemd/system'), { recursive: true });
  symlinkSync('/proc', join(root, 'proc'));
  writeFileSync(
    join(root, 'run/flannel/subnet.env'),
    s.subnetEnv.replace('FLANNEL_IPMASQ=true', 'FLANNEL_IPMASQ=false'),
  );
  writeFileSync(
    join(root, 'etc/cni/net.d/10-flannel.conflist'),
    JSON.stringify({
      name: 'cbr0',
      cniVersion: '0.3.1',
      plugins: [
        { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true, ...delegate } },
      ],
    }),
  );
  cpSync(
    join(REPO, 'systemd/ip-masq.service'),
    join(root, 'usr/lib/systemd/system/ip-masq.service'),
  );
  const body = (subnetEnv: string): string =>
    `enableIPv6: ${s.enableIPv6}\nflannel:\n  subnetEnv: ${subnetEnv}\n`;
  const doctorConfig = join(root, 'doctor.yaml');
  const applyConfig = join(root, 'apply.yaml');
  writeFileSync(doctorConfig, body('/run/flannel/subnet.env'));
  writeFileSync(applyConfig, body(join(root, 'run/flannel/subnet.env')));
  await buildScenario(ns, s);
  return { ns, root, doctorConfig, applyConfig };
}

async function doctor(
  h: Host,
  json = true,
): Promise<{
  code: number | null;
  out: string;
  byId: Record<string, { status: string; message: string; fix?: string }>;
}> {
  const r = await nsExec(h.ns, [
    process.execPath,
    BUNDLE,
    'doctor',
    '--root',
    h.root,
    '--config',
    h.doctorConfig,
    ...(json ? ['--json'] : []),
  ]);
  expect(r.stderr).toBe('');
  if (!json) return { code: r.status, out: r.stdout, byId: {} };
  const parsed = JSON.parse(r.stdout) as {
    failed: boolean;
    checks: { id: string; status: string; message: string; fix?: string }[];
  };
  expect(parsed.failed).toBe(r.status === 1);
  return {
    code: r.status,
    out: r.stdout,
    byId: Object.fromEntries(parsed.checks.map((c) => [c.id, c])),
  };
}
const statuses = (byId: Record<string, { status: string }>): Record<string, string> =>
  Object.fromEntries(Object.entries(byId).map(([k, v]) => [k, v.status]));

describe.runIf(canUseNetns())('ip-masq doctor on a real node namespace', () => {
  it('node with a CNI bridge chain and a legacy flannel rule: FAILs before, the remaining ones after apply', async () => {
    const h = await host(
      SCENARIOS.find((x) => x.name === 'kube-docker-cni-node') as FlannelScenario,
      { ipMasq: false },
    );
    await nsMust(
      h.ns,
      ['iptables-legacy-restore', '--noflush'],
      restoreText({
        natChains: ['FLANNEL-POSTRTG'],
        nat: [
          '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        ],
      }),
    );

    const before = await doctor(h);
    expect(before.code).toBe(1);
    expect(statuses(before.byId)).toEqual({
      config: 'PASS',
      'flannel-facts': 'PASS',
      'flannel-ipmasq': 'PASS',
      'cni-delegate-ipmasq': 'PASS',
      'flannel-masquerade-rules': 'FAIL',
      'legacy-iptables': 'FAIL',
      'cni-bridge-masquerade': 'FAIL',
      'ip-masq-agent-leftover': 'PASS',
      'ip-masq-table': 'FAIL',
      'nftables-service-order': 'PASS',
    });
    expect(before.byId['legacy-iptables']?.fix).toContain(
      "iptables-legacy -w -t nat -D FLANNEL-POSTRTG -s 10.244.0.0/16 '!' -d 224.0.0.0/4 -m comment --comment 'flanneld masq' -j MASQUERADE --random-fully",
    );

    const apply = await nsExec(h.ns, [
      process.execPath,
      BUNDLE,
      'apply',
      '--config',
      h.applyConfig,
    ]);
    expect(apply.status).toBe(0);

    const after = await doctor(h);
    expect(after.code).toBe(1);
    expect(statuses(after.byId)).toMatchObject({
      'flannel-masquerade-rules': 'PASS',
      'ip-masq-table': 'PASS',
      'cni-bridge-masquerade': 'FAIL',
      'legacy-iptables': 'FAIL',
    });
  });

  it('a clean dual-stack node after apply: all PASS, exit 0, text output one line per check', async () => {
    const h = await host(SCENARIOS.find((x) => x.name === 'current-dualstack') as FlannelScenario, {
      ipMasq: false,
    });
    expect((await doctor(h)).code).toBe(1);
    expect(
      (await nsExec(h.ns, [process.execPath, BUNDLE, 'apply', '--config', h.applyConfig])).status,
    ).toBe(0);
    const after = await doctor(h);
    expect(Object.values(after.byId).filter((c) => c.status !== 'PASS')).toEqual([]);
    expect(after.code).toBe(0);
    const text = await doctor(h, false);
    expect(text.code).toBe(0);
    const lines = text.out.trimEnd().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines.slice(0, 10).every((l) => l.startsWith('PASS  '))).toBe(true);
    expect(lines[10]).toBe('10 PASS, 0 WARN, 0 FAIL');
  });
});
