/**
 * The doctor's checks about the rest of the node: the CNI bridge plugin's own masquerade, our
 * table against the config, and our unit's ordering after nftables.service (a leftover
 * ip-masq-agent is migrate/agent-leftover.ts's).
 */
import { join } from 'node:path';
import type { NftRule } from '../nft/types.js';
import { FAMILIES } from '../plan/plan.js';
import { readOptional, type DoctorCheck, type DoctorDeps } from './types.js';

const UNIT_PATHS = [
  'etc/systemd/system/ip-masq.service',
  'usr/lib/systemd/system/ip-masq.service',
  'lib/systemd/system/ip-masq.service',
];
// containernetworking/plugins SetupIPMasq chain names: "CNI-" + 24 hex digits of a hash.
const CNI_MASQ_CHAIN = /^CNI-[0-9a-f]{24}$/;

/** The bridge plugin's per-pod masquerade: iptables CNI-<hash> chains and its nft table. */
export async function checkCniMasqChains(deps: DoctorDeps): Promise<DoctorCheck> {
  const id = 'cni-bridge-masquerade';
  const found: string[] = [];
  for (const family of FAMILIES) {
    const chains = (await deps.nft.list(['chains', family])) ?? [];
    for (const o of chains) {
      if (!('chain' in o) || o.chain.table !== 'nat' || !CNI_MASQ_CHAIN.test(o.chain.name))
        continue;
      const listing = (await deps.nft.list(['chain', family, 'nat', o.chain.name])) ?? [];
      const masq = listing.some(
        (x) =>
          'rule' in x &&
          (x.rule as NftRule).expr.some(
            (e) => JSON.stringify(e) === '{"xt":{"type":"target","name":"MASQUERADE"}}',
          ),
      );
      if (masq) found.push(`${family} nat ${o.chain.name}`);
    }
  }
  if ((await deps.nft.list(['table', 'inet', 'cni_plugins_masquerade'])) !== null)
    found.push('table inet cni_plugins_masquerade');
  if (found.length === 0)
    return { id, status: 'PASS', message: 'no CNI bridge-plugin masquerade chains' };
  return {
    id,
    status: 'FAIL',
    message: `the CNI bridge plugin masquerades pods itself (before ip-masq decides): ${found.join(', ')}`,
    fix: 'set "ipMasq": false in the flannel CNI delegate, then recreate those pods (the plugin deletes a pod\'s chain with the pod)',
  };
}

export async function checkOurTable(deps: DoctorDeps): Promise<DoctorCheck> {
  const id = 'ip-masq-table';
  let matches: boolean | null;
  try {
    matches = await deps.ourTableMatches();
  } catch (e) {
    return {
      id,
      status: 'FAIL',
      message: `cannot compare our table with the config: ${(e as Error).message}`,
      fix: 'run "ip-masq check" and "ip-masq status"',
    };
  }
  if (matches === true)
    return { id, status: 'PASS', message: 'table ip-masq present and matching the config' };
  if (matches === null)
    return {
      id,
      status: 'WARN',
      message: 'cannot tell whether table ip-masq matches the config',
      fix: 'run "ip-masq check" to validate the config',
    };
  return {
    id,
    status: 'FAIL',
    message: 'table ip-masq is missing or differs from the config',
    fix: 'start the ip-masq service (systemctl enable --now ip-masq) or run "ip-masq apply"; "ip-masq status" shows the difference',
  };
}

export async function checkUnitOrdering(deps: DoctorDeps): Promise<DoctorCheck> {
  const id = 'nftables-service-order';
  for (const rel of UNIT_PATHS) {
    const text = await readOptional(deps, join(deps.root, rel));
    if (text === null) continue;
    const after = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^After\s*=/.test(l))
      .flatMap((l) =>
        l
          .replace(/^After\s*=/, '')
          .trim()
          .split(/\s+/),
      );
    if (after.includes('nftables.service'))
      return { id, status: 'PASS', message: `/${rel} starts after nftables.service` };
    return {
      id,
      status: 'FAIL',
      message: `/${rel} lacks After=nftables.service: nftables.service runs "flush ruleset" when it starts and would wipe table ip-masq`,
      fix: 'add After=nftables.service to the [Unit] section (systemctl edit ip-masq), then systemctl daemon-reload',
    };
  }
  return {
    id,
    status: 'WARN',
    message: 'the ip-masq systemd unit is not installed',
    fix: 'install the ip-masq package (it ships the unit ordered After=nftables.service)',
  };
}
