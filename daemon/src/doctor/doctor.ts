/**
 * `ip-masq doctor`: the manual "turn off flannel's masquerade" procedure as a checklist for this
 * node. Every check is one line, PASS / WARN / FAIL, with the fix. All I/O is injected (files
 * under a configurable root, an NftBackend, legacy iptables access) so tests run on temp dirs
 * and throwaway namespaces.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { formatCidr } from '../net/cidr.js';
import { FLANNEL_MASQ_FIX } from '../flannel/episodes.js';
import { checkCniMasqChains, checkOurTable, checkUnitOrdering } from './node.js';
import {
  isEnoent,
  readOptional,
  type CheckStatus,
  type DoctorCheck,
  type DoctorDeps,
  type DoctorReport,
} from './types.js';
import { findLegacyFlannel, type LegacyDeps } from '../flannel/legacy.js';
import { checkIpMasqAgent } from './agent-leftover.js';
import { describeKept, type KeptRule } from '../flannel/attribute.js';
import type { FlannelRuleRef } from '../flannel/match.js';
import { findAttributedFlannel } from '../flannel/remove.js';
import { resolveFlannelFacts, type FlannelFacts } from '../flannel/subnet-env.js';

export type { CheckStatus, DoctorCheck, DoctorDeps, DoctorReport } from './types.js';

const CNI_DIR = 'etc/cni/net.d';

/** flannel's lease file and overrides → facts (problems make it a WARN). */
async function checkFacts(
  deps: DoctorDeps,
  config: Config,
): Promise<{ check: DoctorCheck; facts: FlannelFacts | null }> {
  const path = join(deps.root, config.flannel.subnetEnv);
  let text: string | null;
  try {
    text = await readOptional(deps, path);
  } catch (e) {
    return {
      facts: null,
      check: {
        id: 'flannel-facts',
        status: 'FAIL',
        message: `cannot read ${config.flannel.subnetEnv}: ${(e as Error).message}; ip-masq builds no pod-network rule and leaves flannel's rules in place while it cannot`,
        fix: 'make it a regular file readable by ip-masq (flanneld writes it), or set flannel.clusterCIDR / flannel.nodeSubnet in the config',
      },
    };
  }
  const { facts, problems } = resolveFlannelFacts(
    config.flannel,
    text === null ? null : { text, path: config.flannel.subnetEnv },
  );
  if (facts === null) {
    return {
      facts,
      check: {
        id: 'flannel-facts',
        status: 'PASS',
        message: `no ${config.flannel.subnetEnv} and no flannel.clusterCIDR: no flannel pod network on this node`,
      },
    };
  }
  const nets = (['ipv4', 'ipv6'] as const).flatMap((f) => {
    const n = facts[f];
    return n ? [`${formatCidr(n.network)} (node ${formatCidr(n.subnet)})`] : [];
  });
  const rejected = Object.values(facts.rejected ?? {});
  if (rejected.length > 0) {
    return {
      facts,
      check: {
        id: 'flannel-facts',
        status: 'FAIL',
        message: `flannel facts rejected: ${rejected.join('; ')}; ip-masq builds no pod-network rule from them and leaves flannel's rules of that family in place`,
        fix: `correct ${config.flannel.subnetEnv} (written by flanneld from its net-conf.json "Network") or set flannel.clusterCIDR / flannel.nodeSubnet in the config`,
      },
    };
  }
  if (problems.length > 0) {
    return {
      facts,
      check: {
        id: 'flannel-facts',
        status: 'WARN',
        message: `flannel facts from ${facts.source}: ${problems.join('; ')}`,
        fix: `correct ${config.flannel.subnetEnv} (written by flanneld) or set flannel.clusterCIDR / flannel.nodeSubnet in the config`,
      },
    };
  }
  return {
    facts,
    check: {
      id: 'flannel-facts',
      status: 'PASS',
      message: `pod network ${nets.join(', ') || '(none)'} from ${facts.source}`,
    },
  };
}

function checkIpMasqFlag(facts: FlannelFacts | null, nftablesMode: boolean): DoctorCheck {
  const id = 'flannel-ipmasq';
  if (facts === null) return { id, status: 'PASS', message: 'no flannel: nothing to check' };
  if (facts.ipMasq === false)
    return {
      id,
      status: 'PASS',
      message: 'flanneld runs without --ip-masq (FLANNEL_IPMASQ=false)',
    };
  if (facts.ipMasq === null) {
    return {
      id,
      status: 'WARN',
      message: 'FLANNEL_IPMASQ is not known (not in subnet.env)',
      fix: 'check that flanneld runs without --ip-masq',
    };
  }
  if (nftablesMode) {
    return {
      id,
      status: 'WARN',
      message:
        'flanneld runs with --ip-masq (FLANNEL_IPMASQ=true) in nftables mode: it re-adds its masquerade rules at every restart',
      fix: FLANNEL_MASQ_FIX,
    };
  }
  return {
    id,
    status: 'FAIL',
    message:
      'flanneld runs with --ip-masq (FLANNEL_IPMASQ=true): it re-creates its MASQUERADE rules every 5 s, so new flows can be masqueraded until ip-masq deletes them again',
    fix: FLANNEL_MASQ_FIX,
  };
}

/** The flannel plugin entries (with their delegate) of one CNI config file. */
function flannelPlugins(json: unknown): Record<string, unknown>[] {
  if (typeof json !== 'object' || json === null) return [];
  const o = json as Record<string, unknown>;
  const list = Array.isArray(o['plugins']) ? (o['plugins'] as unknown[]) : [o];
  return list.filter(
    (p): p is Record<string, unknown> =>
      typeof p === 'object' && p !== null && (p as Record<string, unknown>)['type'] === 'flannel',
  );
}

/**
 * flannel-io/cni-plugin: `if !hasKey(n.Delegate, "ipMasq") { n.Delegate["ipMasq"] = !ipmasq }`
 * — without an explicit `"ipMasq": false`, dropping --ip-masq turns the bridge plugin's
 * per-pod masquerade on.
 */
async function checkCniDelegate(
  deps: DoctorDeps,
  facts: FlannelFacts | null,
): Promise<DoctorCheck> {
  const id = 'cni-delegate-ipmasq';
  const dir = join(deps.root, CNI_DIR);
  let names: string[];
  try {
    names = (await deps.readDir(dir))
      .filter((n) => n.includes('flannel') && /\.(conflist|conf|json)$/.test(n))
      .sort();
  } catch (e) {
    if (!isEnoent(e))
      return {
        id,
        status: 'WARN',
        message: `cannot read /${CNI_DIR}: ${(e as Error).message}`,
        fix: 'check the directory permissions',
      };
    names = [];
  }
  if (names.length === 0) {
    return facts === null
      ? { id, status: 'PASS', message: `no flannel CNI config in /${CNI_DIR}` }
      : {
          id,
          status: 'WARN',
          message: `flannel is configured but /${CNI_DIR} has no *flannel* CNI config`,
          fix: 'check the CNI configuration directory of the kubelet/container runtime',
        };
  }
  const findings: { status: CheckStatus; text: string }[] = [];
  for (const name of names) {
    const where = `/${CNI_DIR}/${name}`;
    let json: unknown;
    try {
      json = JSON.parse(await deps.readFile(join(dir, name)));
    } catch (e) {
      findings.push({
        status: 'WARN',
        text: `${where}: not readable JSON (${(e as Error).message})`,
      });
      continue;
    }
    const plugins = flannelPlugins(json);
    if (plugins.length === 0) {
      findings.push({ status: 'WARN', text: `${where}: no plugin of type "flannel"` });
      continue;
    }
    for (const p of plugins) {
      const delegate =
        typeof p['delegate'] === 'object' && p['delegate'] !== null
          ? (p['delegate'] as Record<string, unknown>)
          : {};
      const v = delegate['ipMasq'];
      if (v === false)
        findings.push({ status: 'PASS', text: `${where}: delegate has "ipMasq": false` });
      else if (v === true)
        findings.push({
          status: 'FAIL',
          text: `${where}: delegate has "ipMasq": true: the bridge plugin masquerades every pod`,
        });
      else if (facts?.ipMasq === false)
        findings.push({
          status: 'FAIL',
          text: `${where}: delegate lacks "ipMasq" and flanneld runs without --ip-masq: the bridge plugin masquerades every new pod`,
        });
      else
        findings.push({
          status: 'WARN',
          text: `${where}: delegate lacks "ipMasq": it defaults to the opposite of flanneld's --ip-masq, so dropping --ip-masq turns on per-pod masquerade`,
        });
    }
  }
  const status: CheckStatus = findings.some((f) => f.status === 'FAIL')
    ? 'FAIL'
    : findings.some((f) => f.status === 'WARN')
      ? 'WARN'
      : 'PASS';
  const check: DoctorCheck = { id, status, message: findings.map((f) => f.text).join('; ') };
  if (status !== 'PASS')
    check.fix = `set "ipMasq": false in the "delegate" object of the flannel plugin (kube-flannel.yml ConfigMap cni-conf.json), then recreate pods created meanwhile`;
  return check;
}

function checkFlannelRules(
  refs: FlannelRuleRef[],
  kept: readonly KeptRule[],
  config: Config,
): DoctorCheck {
  const check = checkFlannelRuleList(refs, config);
  if (kept.length === 0) return check;
  // Shaped like flannel's but commented by someone else: never deleted, but worth knowing. One
  // whose comment could not be read may still be flannel's: that is a WARN.
  const unknown = kept.some((k) => k.kind === 'unknown');
  return {
    ...check,
    status: unknown && check.status === 'PASS' ? 'WARN' : check.status,
    message: `${check.message}; ${kept.map(describeKept).join('; ')}`,
    ...(unknown && !check.fix
      ? { fix: 'install the iptables package (iptables-nft-save) and run doctor again' }
      : {}),
  };
}

function checkFlannelRuleList(refs: FlannelRuleRef[], config: Config): DoctorCheck {
  const id = 'flannel-masquerade-rules';
  const v4 = refs.filter((r) => r.family === 'ip' || config.enableIPv6);
  const keptV6 = refs.filter((r) => r.family === 'ip6' && !config.enableIPv6);
  const describe = (l: FlannelRuleRef[]): string =>
    l.map((r) => `${r.family} ${r.table} ${r.chain} handle ${r.handle}: ${r.iptables}`).join('; ');
  if (v4.length > 0) {
    return {
      id,
      status: 'FAIL',
      message: `${v4.length} flannel MASQUERADE rule(s) present: ${describe(v4)}`,
      fix: config.flannel.removeMasquerade
        ? 'start the ip-masq service (systemctl enable --now ip-masq) or run "ip-masq apply"; if they keep coming back, ' +
          FLANNEL_MASQ_FIX
        : 'set flannel.removeMasquerade: true in the config and run "ip-masq apply"',
    };
  }
  if (keptV6.length > 0) {
    return {
      id,
      status: 'WARN',
      message: `no IPv4 flannel MASQUERADE rules; ${keptV6.length} IPv6 rule(s) kept on purpose because enableIPv6 is false: ${describe(keptV6)}`,
      fix: 'set enableIPv6: true if ip-masq should own IPv6 egress SNAT too',
    };
  }
  return {
    id,
    status: 'PASS',
    message: 'no flannel MASQUERADE rules in iptables-nft or flannel nftables tables',
  };
}

async function checkLegacy(
  deps: DoctorDeps,
  facts: FlannelFacts | null,
  config: Config,
): Promise<DoctorCheck> {
  const id = 'legacy-iptables';
  const legacyDeps: LegacyDeps = { readFile: deps.readFile, procRoot: join(deps.root, 'proc') };
  if (deps.legacyExec) legacyDeps.exec = deps.legacyExec;
  const r = await findLegacyFlannel(facts, legacyDeps);
  const tables = [...r.tables.ip.map((t) => `ip ${t}`), ...r.tables.ip6.map((t) => `ip6 ${t}`)];
  if (r.rules.length > 0) {
    return {
      id,
      status: 'FAIL',
      message: `${r.rules.length} flannel MASQUERADE rule(s) in iptables-legacy (invisible to nft, still masquerading): ${r.rules.map((x) => x.line).join('; ')}`,
      fix: `${config.flannel.removeLegacy ? '' : 'set flannel.removeLegacy: true, or run: '}${r.rules.map((x) => x.command).join(' && ')}`,
    };
  }
  if (r.tables.unchecked)
    return {
      id,
      status: 'WARN',
      message: `iptables-legacy not checked: ${r.tables.unchecked}`,
      fix: 'run the doctor as root on the host: sudo ip-masq doctor',
    };
  if (r.problems.length > 0)
    return {
      id,
      status: 'WARN',
      message: r.problems.join('; '),
      fix: "apt-get install iptables (or your distribution's package providing iptables-legacy-save)",
    };
  if (tables.length > 0) {
    return {
      id,
      status: 'WARN',
      message: `iptables-legacy tables present (${tables.join(', ')}), no flannel rules in them; rules there are invisible to nft`,
      fix: 'make every component use iptables-nft (update-alternatives --set iptables /usr/sbin/iptables-nft)',
    };
  }
  return { id, status: 'PASS', message: 'no iptables-legacy tables' };
}

/** Runs every check; never throws for what it finds, only for broken injected dependencies. */
export async function runDoctor(deps: DoctorDeps, config: Config): Promise<DoctorReport> {
  const { check: factsCheck, facts } = await checkFacts(deps, config);
  const { flannel: refs, kept } = await findAttributedFlannel(
    deps.nft,
    facts,
    { enableIPv6: true },
    deps.legacyExec ? { exec: deps.legacyExec } : {},
  );
  const nftablesMode = (await deps.nft.list(['table', 'ip', 'flannel-ipv4'])) !== null;
  const checks: DoctorCheck[] = [
    factsCheck,
    checkIpMasqFlag(facts, nftablesMode),
    await checkCniDelegate(deps, facts),
    checkFlannelRules(refs, kept, config),
    await checkLegacy(deps, facts, config),
    await checkCniMasqChains(deps),
    await checkIpMasqAgent(deps.nft, deps.legacyExec),
    await checkOurTable(deps),
    await checkUnitOrdering(deps),
  ];
  return { checks, failed: checks.some((c) => c.status === 'FAIL') };
}

/** The text form: one line per check, the fix indented below it. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${c.status.padEnd(4)}  ${c.id}: ${c.message}`);
    if (c.fix) lines.push(`      fix: ${c.fix}`);
  }
  const counts = (['PASS', 'WARN', 'FAIL'] as const)
    .map((s) => `${report.checks.filter((c) => c.status === s).length} ${s}`)
    .join(', ');
  lines.push(`${counts}${report.failed ? ' — something needs fixing' : ''}`);
  return lines.join('\n') + '\n';
}
