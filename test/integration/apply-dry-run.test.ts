/**
 * `apply --dry-run` against a real kernel in a namespace holding flannel's iptables-nft rules
 * and an older ip-masq table: it reports the CIDRs that would be added and removed and the
 * flannel rules that would be deleted, the kernel checks the transaction, and the ruleset is
 * the same before and after. Without CAP_NET_ADMIN it says that is what it needs (exit 4).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildScenario, rulesetOf, zeroCounters } from '../fixtures/flannel/build.js';
import { masqLines, SCENARIOS } from '../fixtures/flannel/scenarios.js';
import { cli, script, tempDir } from '../helpers/cli.js';
import { Netns, canUseNetns } from '../helpers/netns.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

const scenario = SCENARIOS.find((s) => s.name === 'current-no-random')!;
let ns: Netns;
let dir: string;
let nft: string;

/** A config dir `name` with `body` and flannel's subnet.env; `flannel` adds keys under flannel:. */
function config(name: string, body: string, flannel = ''): string {
  mkdirSync(join(dir, name), { recursive: true });
  const path = join(dir, name, 'config.yaml');
  writeFileSync(path, `${body}flannel:\n${flannel}  subnetEnv: ${join(dir, 'subnet.env')}\n`);
  return path;
}

beforeAll(async () => {
  if (!NETNS) return;
  ns = await Netns.create('dryrun');
  dir = tempDir('dryrun');
  writeFileSync(join(dir, 'subnet.env'), scenario.subnetEnv);
  nft = script(dir, 'nft', `exec ${ns.nftArgv().join(' ')} "$@"`);
  await buildScenario(ns, scenario);
  // The node as ip-masq left it yesterday: an older list, flannel's rules not removed yet.
  const old = config(
    'old',
    'nonMasqueradeCIDRs: [10.0.0.0/8, 198.51.100.0/24]\n',
    '  removeMasquerade: false\n',
  );
  const applied = await cli('apply', '--config', old, '--nft', nft);
  expect(applied.code, applied.stderr).toBe(0);
});
afterAll(async () => {
  if (!NETNS) return;
  await ns?.dispose();
});

describe.runIf(NETNS)('apply --dry-run', () => {
  it('reports CIDRs added and removed and the flannel rules it would delete; changes nothing', async () => {
    const next = config('next', 'nonMasqueradeCIDRs: [10.0.0.0/8, 203.0.113.0/24]\n');
    const before = zeroCounters(await rulesetOf(ns));
    const r = await cli('apply', '--config', next, '--nft', nft, '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dry run: nothing was changed\n/);
    expect(r.stdout).toContain(
      'kernel check (nft -c): accepts the transaction for table ip ip-masq',
    );
    expect(r.stdout).toMatch(/tables: apply would replace them \(.+\)/);
    expect(r.stdout).toContain('CIDRs added (1): 203.0.113.0/24\n');
    expect(r.stdout).toContain('CIDRs removed (1): 198.51.100.0/24\n');
    const flannel = masqLines(scenario).ip;
    expect(r.stdout).toContain(`flannel MASQUERADE rules apply would delete (${flannel.length}):`);
    // Listed as nft sees them: iptables' comment match is not visible through nft.
    for (const line of flannel)
      expect(r.stdout).toContain(`: ${line.replace(/ -m comment --comment "[^"]*"/, '')}\n`);
    expect(zeroCounters(await rulesetOf(ns))).toEqual(before);

    // The real apply then does what the dry run said.
    const applied = await cli('apply', '--config', next, '--nft', nft);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`+1 −1`);
    expect(applied.stdout).toContain(`deleted ${flannel.length} flannel MASQUERADE rules`);
    const again = await cli('apply', '--config', next, '--nft', nft, '--dry-run');
    expect(again.stdout).toContain('tables: already match the config');
    expect(again.stdout).toContain('flannel MASQUERADE rules apply would delete (0): none');
  });

  it('without CAP_NET_ADMIN it says so and exits 4', async () => {
    const capless = script(
      dir,
      'nft-capless',
      `exec ${ns.prefix().join(' ')} setpriv --bounding-set -net_admin nft "$@"`,
    );
    const r = await cli('apply', '--config', config('next', ''), '--nft', capless, '--dry-run');
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/--dry-run needs CAP_NET_ADMIN, as "nft -c" does/);
  });

  it('a transaction the kernel refuses fails the dry run (exit 1) and is not applied', async () => {
    // nft -c fails the way a kernel without the nat expression would; everything else is real.
    const refusing = script(
      dir,
      'nft-refusing',
      `case "$1" in -c) echo "Error: Could not process rule: No such file or directory" >&2; exit 1;; esac\nexec ${ns.nftArgv().join(' ')} "$@"`,
    );
    const before = zeroCounters(await rulesetOf(ns));
    const r = await cli(
      'apply',
      '--config',
      config('other', 'nonMasqueradeCIDRs: [192.0.2.0/24]\n'),
      '--nft',
      refusing,
      '--dry-run',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nft failed/);
    expect(zeroCounters(await rulesetOf(ns))).toEqual(before);
  });
});
