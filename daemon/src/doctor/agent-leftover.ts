/**
 * `ip-masq doctor`'s check for a leftover ip-masq-agent, under whatever chain name it ran with
 * (`--masq-chain`: IP-MASQ-AGENT by default, IP-MASQ on kube-up/GKE nodes). Its chain is
 * jumped to from nat POSTROUTING at priority 100, before ip-masq's 110, and masquerades by its
 * own list: while it is there, ip-masq's config does not decide.
 *
 * A chain is the agent's when any of these holds (iptables-nft rules, read from nf_tables):
 *  - its rules carry the agent's comments ("ip-masq-agent: …", or "ip-masq: …" on GKE), read
 *    from `iptables-nft-save -t nat` (nft's JSON shows iptables comments only as `xt comment`);
 *  - POSTROUTING jumps to it with the agent's shape: `-m comment -m addrtype ! --dst-type
 *    LOCAL -j X`, and X holds only `-d PREFIX -j RETURN` rules then MASQUERADE, all commented;
 *  - it is named IP-MASQ-AGENT (the default name).
 * The removal commands name rules by nft handle: exact, and right whichever iptables binary the
 * host's alternatives point at.
 */
import type { DoctorCheck } from './types.js';
import { defaultExec, type Exec } from '../flannel/legacy.js';
import type { NftBackend } from '../nft/backend.js';
import type { NftRule } from '../nft/types.js';

const FAMILIES = ['ip', 'ip6'] as const;
type Family = (typeof FAMILIES)[number];

/** The agent's comments: upstream's, GKE's "ip-masq:" prefix, Azure's with literal quotes. */
const AGENT_COMMENT = /--comment (?:"(?:\\")?|')?ip-masq(?:-agent)?: /;

const xt = (e: Record<string, unknown>, type: string, name: string): boolean =>
  JSON.stringify(e) === JSON.stringify({ xt: { type, name } });

function jumpTarget(r: NftRule): string | null {
  for (const e of r.expr) {
    const j = (e as { jump?: { target?: unknown } }).jump;
    if (j && typeof j.target === 'string') return j.target;
  }
  return null;
}

/** Only `-d PREFIX -m comment -j RETURN` rules, then `-m comment -j MASQUERADE` rule(s). */
function hasAgentShape(rules: readonly NftRule[]): boolean {
  if (rules.length === 0) return false;
  const commented = rules.every((r) => r.expr.some((e) => xt(e, 'match', 'comment')));
  const isReturn = (r: NftRule): boolean =>
    r.expr.some((e) => 'return' in e) &&
    r.expr.some((e) => JSON.stringify(e).includes('"field":"daddr"'));
  const isMasq = (r: NftRule): boolean => r.expr.some((e) => xt(e, 'target', 'MASQUERADE'));
  const firstMasq = rules.findIndex(isMasq);
  return (
    commented &&
    firstMasq >= 0 &&
    rules.slice(0, firstMasq).every(isReturn) &&
    rules.slice(firstMasq).every(isMasq)
  );
}

/** Chains whose rules carry the agent's comments, from `iptables-nft-save -t nat`. */
async function chainsByComment(exec: Exec, family: Family): Promise<Set<string>> {
  const out = new Set<string>();
  const r = await exec([family === 'ip' ? 'iptables-nft-save' : 'ip6tables-nft-save', '-t', 'nat']);
  if (r.status !== 0) return out;
  for (const line of r.stdout.split('\n')) {
    const m = /^-A (\S+) /.exec(line);
    if (!m || !AGENT_COMMENT.test(line)) continue;
    const chain = m[1] as string;
    // The POSTROUTING rule names the agent's chain as its jump target.
    const target = chain === 'POSTROUTING' ? /(?:^| )-j (\S+)/.exec(line)?.[1] : chain;
    if (target) out.add(target);
  }
  return out;
}

interface Leftover {
  family: Family;
  chain: string;
  rules: number;
  /** Handles of POSTROUTING rules jumping to it. */
  jumps: number[];
}

async function findInFamily(nft: NftBackend, exec: Exec, family: Family): Promise<Leftover[]> {
  const listing = await nft.list(['table', family, 'nat']);
  if (listing === null) return [];
  const rules = listing.flatMap((o) => ('rule' in o ? [o.rule] : []));
  const chains = new Set(listing.flatMap((o) => ('chain' in o ? [o.chain.name] : [])));
  const rulesOf = (c: string): NftRule[] => rules.filter((r) => r.chain === c);
  const post = rulesOf('POSTROUTING');
  const names = await chainsByComment(exec, family);
  if (chains.has('IP-MASQ-AGENT')) names.add('IP-MASQ-AGENT');
  for (const r of post) {
    const target = jumpTarget(r);
    if (
      target !== null &&
      r.expr.some((e) => xt(e, 'match', 'addrtype')) &&
      r.expr.some((e) => xt(e, 'match', 'comment')) &&
      hasAgentShape(rulesOf(target))
    )
      names.add(target);
  }
  return [...names]
    .filter((c) => chains.has(c) && c !== 'POSTROUTING')
    .sort()
    .map((chain) => ({
      family,
      chain,
      rules: rulesOf(chain).length,
      jumps: post.filter((r) => jumpTarget(r) === chain).map((r) => r.handle ?? -1),
    }));
}

/** The exact commands that remove one leftover: the jumps first, then the emptied chain. */
export function removalCommands(l: Leftover): string[] {
  return [
    ...l.jumps.map((h) => `nft delete rule ${l.family} nat POSTROUTING handle ${h}`),
    `nft flush chain ${l.family} nat ${l.chain}`,
    `nft delete chain ${l.family} nat ${l.chain}`,
  ];
}

export async function checkIpMasqAgent(
  nft: NftBackend,
  exec: Exec = defaultExec,
): Promise<DoctorCheck> {
  const id = 'ip-masq-agent-leftover';
  const found: Leftover[] = [];
  for (const family of FAMILIES) found.push(...(await findInFamily(nft, exec, family)));
  if (found.length === 0) return { id, status: 'PASS', message: 'no ip-masq-agent chain' };
  const describe = (l: Leftover): string =>
    `${l.family} nat ${l.chain} (${l.rules} rules${l.jumps.length > 0 ? ', jumped to from POSTROUTING' : ', not jumped to'})`;
  return {
    id,
    status: 'FAIL',
    message: `ip-masq-agent's rules are still installed and masquerade by their own list before ip-masq decides: ${found.map(describe).join(', ')}`,
    fix: `delete the ip-masq-agent DaemonSet (kubectl -n kube-system delete daemonset ip-masq-agent) so it cannot re-create them, then on this node: ${found.flatMap(removalCommands).join(' && ')}`,
  };
}
