/**
 * Before our tables are deleted (`ip-masq cleanup`, run by the package on removal): will pod
 * egress still be masqueraded by someone? ip-masq deletes flannel's MASQUERADE rules and
 * `doctor` advises running flanneld without --ip-masq, so on a migrated node nothing else
 * masquerades: removing ip-masq there is an egress outage (pods leave with their pod IPs and
 * replies never come back). We do not refuse — removal must stay possible — but say so loudly,
 * with the exact rollback, on stderr (the package's output) and in the journal.
 */
import type { FlannelFacts } from '../flannel/subnet-env.js';
import type { Exec } from '../flannel/legacy.js';
import { formatCidr } from '../net/cidr.js';

export interface EgressAfterRemoval {
  /** Does someone other than ip-masq masquerade pod egress? */
  covered: boolean;
  /** Why (one phrase), for the message. */
  why: string;
}

/**
 * `ourTables`: ip-masq's tables exist (nothing to lose otherwise); `flannelRules`: flannel's
 * MASQUERADE rules found in iptables-nft/nftables/legacy; `facts`: flannel's subnet.env.
 */
export function egressAfterRemoval(input: {
  ourTables: boolean;
  flannelRules: number;
  facts: FlannelFacts | null;
}): EgressAfterRemoval {
  if (!input.ourTables) return { covered: true, why: 'no ip-masq table: nothing changes' };
  if (input.flannelRules > 0)
    return { covered: true, why: `flannel's ${input.flannelRules} MASQUERADE rule(s) are present` };
  if (input.facts?.ipMasq === true)
    return { covered: true, why: 'flanneld runs with --ip-masq and re-adds its MASQUERADE rules' };
  const flannel =
    input.facts === null
      ? 'no flannel subnet.env on this node'
      : input.facts.ipMasq === false
        ? 'flanneld runs without --ip-masq (FLANNEL_IPMASQ=false)'
        : "flanneld's --ip-masq is unknown (no FLANNEL_IPMASQ in subnet.env)";
  return {
    covered: false,
    why: `no flannel MASQUERADE rules are present and ${flannel}`,
  };
}

/** The warning, one line each: what happens, then the exact rollback steps. */
export function removalWarning(why: string, facts: FlannelFacts | null): string[] {
  const net = facts?.ipv4 ? formatCidr(facts.ipv4.network) : '<cluster pod CIDR>';
  return [
    `WARNING: after ip-masq's tables are deleted NOTHING masquerades pod egress on this node (${why}): pods reaching destinations outside the cluster leave with their pod IPs and get no replies.`,
    'Rollback (any one of these):',
    '  1. keep ip-masq: apt-get install ip-masq (or: dnf install ip-masq), then: systemctl enable --now ip-masq',
    "  2. give masquerading back to flannel: add --ip-masq to flanneld's args (kube-flannel DaemonSet), then: kubectl -n kube-flannel rollout restart daemonset kube-flannel-ds",
    `  3. right now, by hand, until 1 or 2 is done: iptables -t nat -A POSTROUTING -s ${net} ! -d ${net} -m comment --comment "ip-masq rollback" -j MASQUERADE --random-fully`,
  ];
}

/** Sends the warning to the journal (syslog via logger(1)); never throws. */
export async function logToJournal(lines: readonly string[], exec: Exec): Promise<boolean> {
  try {
    const r = await exec([
      'logger',
      '-t',
      'ip-masq',
      '-p',
      'daemon.warning',
      '--',
      lines.join(' '),
    ]);
    return r.status === 0;
  } catch {
    return false;
  }
}
