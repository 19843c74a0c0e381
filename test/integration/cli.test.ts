/**
 * The CLI driven in-process (runCli with captured output) against real nft in a namespace,
 * through an `--nft` wrapper that runs nft inside it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planToBatch } from '../../daemon/src/nft/to-nft.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { cli, script, tempDir } from '../helpers/cli.js';
import { makeConfig } from '../helpers/config.js';
import { Netns, canUseNetns } from '../helpers/netns.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

let ns: Netns;
let dir: string;
let nft: string;
let config: string;

beforeAll(async () => {
  if (!NETNS) return;
  ns = await Netns.create('cli');
  dir = tempDir('cli');
  nft = script(dir, 'nft', `exec ${ns.nftArgv().join(' ')} "$@"`);
  config = join(dir, 'config.yaml');
  // No flannel on this "node": point subnetEnv at a file that does not exist.
  writeFileSync(
    config,
    `nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 198.51.100.0/24\nflannel:\n  subnetEnv: ${join(dir, 'no-subnet.env')}\n`,
  );
});
afterAll(async () => {
  if (!NETNS) return;
  await ns.dispose();
});

describe.runIf(NETNS)('ip-masq CLI', () => {
  it('--help lists every verb and the exit-code table; --version prints the version', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const verb of ['check', 'render', 'apply', 'status', 'explain', 'cleanup'])
      expect(help.stdout).toContain(`  ${verb}`);
    expect(help.stdout).toMatch(/6 {2}config invalid or unreadable/);
    expect((await cli('apply', '--help')).stdout).toMatch(/^Usage: ip-masq apply/);
    expect((await cli('--version')).stdout).toMatch(/^ip-masq \d+\.\d+\.\d+/);
  });

  it('usage errors exit 2 with a pointer to help', async () => {
    expect(await cli('frobnicate')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown verb "frobnicate"/),
    });
    expect(await cli('apply', '--bogus')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--bogus.*ip-masq apply --help/),
    });
    expect(await cli('explain')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/exactly one destination/),
    });
    expect((await cli()).code).toBe(2);
  });

  it('check validates, reports every problem with file:line:col and exits 6', async () => {
    expect(await cli('check', '--config', config)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok: .*2 nonMasqueradeCIDRs → 2 IPv4 prefixes/),
    });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\nmasqLinkLocal: yes\n');
    const r = await cli('check', '--config', bad);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(
      `${bad}:3:5: nonMasqueradeCIDRs[1]: "10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?`,
    );
    expect(r.stderr).toMatch(new RegExp(`${bad}:4:16: masqLinkLocal: .*boolean`));
  });

  it('check --json prints the effective config with defaults and the collapsed lists', async () => {
    const r = await cli('check', '--json', '--config', config);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'],
      collapsed: { ipv4: ['10.0.0.0/8', '198.51.100.0/24'], ipv6: [] },
      masqLinkLocal: false,
      masqLinkLocalIPv6: false,
      resyncInterval: '60s',
      randomFully: true,
      enableIPv6: false,
    });
  });

  it('render prints exactly the batch apply runs, without root or nft', async () => {
    // --nft before the verb is global: render, which runs no nft, ignores it.
    const r = await cli('--nft', '/nonexistent/nft', 'render', '--config', config);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(
      planToBatch(buildPlan(makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '198.51.100.0/24'] }))),
    );
  });

  it('apply changes the kernel once, then says unchanged; status matches; cleanup removes', async () => {
    const first = await cli('apply', '--config', config, '--nft', nft);
    expect(first).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(
        /^applied: table ip ip-masq \(2 prefixes\) replaced and verified, \+2 −0/,
      ),
    });
    expect((await cli('apply', '--config', config, '--nft', nft)).stdout).toMatch(/^unchanged: /);

    const status = await cli('status', '--config', config, '--nft', nft);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/table ip ip-masq: present, matches the config/);
    expect(status.stdout).toMatch(/ip daddr @nomasq counter return +# ip-masq: nonMasqueradeCIDRs/);

    await ns.mustExec(['nft', 'flush', 'chain', 'ip', 'ip-masq', 'postrouting']);
    const drifted = await cli('status', '--json', '--config', config, '--nft', nft);
    expect(drifted.code).toBe(1);
    expect(JSON.parse(drifted.stdout)).toMatchObject({
      matches: false,
      tables: [
        { family: 'ip', present: true, difference: expect.stringMatching(/0 rules/) },
        { family: 'ip6', present: false },
      ],
    });

    expect(await cli('cleanup', '--nft', nft)).toMatchObject({
      code: 0,
      stdout: 'deleted: tables ip-masq\n',
    });
    expect(await cli('cleanup', '--nft', nft)).toMatchObject({
      code: 0,
      stdout: 'nothing to delete: no ip-masq table\n',
    });
  });

  it('explain prints the decision and the deciding rule', async () => {
    const keep = await cli('explain', '198.51.100.7', '--config', config);
    expect(keep.stdout).toBe(
      '198.51.100.7: keep source\n  rule 3: ip daddr @nomasq counter return   # ip-masq: nonMasqueradeCIDRs are not subject to MASQUERADE\n' +
        `  nonMasqueradeCIDRs: in 198.51.100.0/24, a nonMasqueradeCIDRs entry (${config}:3) → keep source\n`,
    );
    const masq = JSON.parse(
      (await cli('explain', '203.0.113.7', '--json', '--config', config)).stdout,
    ) as { decision: string; rule: { position: number } };
    expect(masq).toMatchObject({ decision: 'masquerade', rule: { position: 4 } });
    expect((await cli('explain', 'not-an-ip', '--config', config)).code).toBe(2);
  });

  it('maps nft failures to their exit codes: missing 5, no JSON 5, permission 4, kernel error 1', async () => {
    await cli('cleanup', '--nft', nft);
    const missing = await cli('apply', '--config', config, '--nft', '/nonexistent/nft');
    expect(missing).toMatchObject({
      code: 5,
      stderr: expect.stringMatching(/nft not found: \/nonexistent\/nft/),
    });
    const noJson = script(
      dir,
      'nft-nojson',
      'echo "nftables v1.0.8 (Old Doc Yak #2)"; [ "$1" = "--version" ] && exit 0; echo "Error: JSON support not compiled-in" >&2; exit 1',
    );
    expect(await cli('apply', '--config', config, '--nft', noJson)).toMatchObject({
      code: 5,
      stderr: expect.stringMatching(/without JSON support/),
    });
    const eperm = script(
      dir,
      'nft-eperm',
      '[ "$1" = "--version" ] && { echo "nftables v1.0.6"; exit 0; }; echo "Error: Operation not permitted (you must be root)" >&2; exit 1',
    );
    expect(await cli('apply', '--config', config, '--nft', eperm)).toMatchObject({
      code: 4,
      stderr: expect.stringMatching(/needs CAP_NET_ADMIN/),
    });
    const kernel = script(
      dir,
      'nft-kernel',
      `case "$*" in *-f*) echo "internal:0:0-0: Error: Could not process rule: Operation not supported" >&2; exit 1;; esac; exec ${ns.nftArgv().join(' ')} "$@"`,
    );
    expect(await cli('apply', '--config', config, '--nft', kernel)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/Could not process rule: Operation not supported/),
    });
  });
});
