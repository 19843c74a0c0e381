/**
 * Who wrote a rule shaped like flannel's? Reads the xt comments of iptables-nft rules.
 *
 * `nft -j list` shows an iptables-nft comment only as `{"xt": {"type": "match", "name":
 * "comment"}}`: the text is in the compat expression's payload, which nft does not print.
 * iptables-nft prints it, but without handles. So the comments of one chain are read as:
 *
 *   1. the chain as already listed by nft (rules with handles, in kernel order);
 *   2. `iptables-nft -t nat -S CHAIN` (or ip6tables-nft): that chain's `-A` lines, same order
 *      (not `iptables-nft-save -t nat`: with kube-proxy's thousands of rules in `nat` that read
 *      the whole table, ≈ 29 ms of CPU a pass against ≈ 2 ms for the one chain);
 *   3. the chain listed by nft again.
 *
 * Handles are never reused, so if 1 and 3 hold the same handle sequence the chain did not change
 * in between, and the k-th `-A` line is the k-th rule. Any difference (flanneld re-adding its
 * rules at that moment, a line count that does not match, a MASQUERADE rule that is not a
 * MASQUERADE line) means "not known this pass": the caller keeps the rule.
 *
 * Only chains holding a shape-matched rule with an xt comment are read, so a node without
 * such rules pays nothing.
 */
import type { NftBackend } from '../nft/backend.js';
import type { NftRule } from '../nft/types.js';
import { type Exec, defaultExec } from './legacy.js';
import { FLANNEL_COMMENT, parseIptablesSave, strip } from './legacy-save.js';
import type { ChainListing, FlannelRuleRef, NftIpFamily } from './match.js';

export interface AttributionDeps {
  /**
   * Runs iptables-nft-save. Default: the way the client runs nft, with the binary replaced
   * (`/usr/sbin/nft` → the system iptables-nft-save; `ip netns exec X nft` → the same prefix).
   */
  exec?: Exec;
}

/**
 * Runs argv with the prefix of the backend's argv (everything before the nft binary). A backend
 * that runs no binary (the in-memory fake) has no iptables-nft-save beside it.
 */
export function execLikeNft(client: NftBackend): Exec {
  const argv = client.argv;
  if (!argv || argv.length === 0)
    return async () => ({ status: null, stdout: '', stderr: 'no nft binary', notFound: true });
  const prefix = argv.slice(0, -1);
  return (cmd) => defaultExec([...prefix, ...cmd]);
}

/** A shape-matched rule that is not deleted, and why. */
export interface KeptRule {
  ref: FlannelRuleRef;
  /** 'lookalike': another comment. 'unknown': its comment could not be read this pass. */
  kind: 'lookalike' | 'unknown';
  /** The comment (lookalike) or why it is unknown. */
  detail: string;
}

export interface Attribution {
  /** flannel's rules, each with its comment (null: none) and exact iptables-save line. */
  flannel: FlannelRuleRef[];
  kept: KeptRule[];
}

const hasXtComment = (rule: NftRule): boolean =>
  rule.expr.some((e) => {
    const x = e['xt'] as { type?: unknown; name?: unknown } | undefined;
    return x?.type === 'match' && x.name === 'comment';
  });

type ChainComments =
  | { ok: true; byHandle: Map<number, { comment: string | null; line: string; core: string[] }> }
  | { ok: false; reason: string };

async function readChainComments(
  client: NftBackend,
  exec: Exec,
  listing: ChainListing,
): Promise<ChainComments> {
  const save = listing.family === 'ip' ? 'iptables-nft' : 'ip6tables-nft';
  const r = await exec([save, '-t', listing.table, '-S', listing.chain]);
  if (r.notFound)
    return {
      ok: false,
      reason: `${save} is not installed (install the iptables package so ip-masq can read rule comments)`,
    };
  if (r.status !== 0)
    return {
      ok: false,
      reason: `${save} -t ${listing.table} -S ${listing.chain} failed: ${r.stderr.trim().split('\n')[0] ?? `exit ${r.status}`}`,
    };
  // `-S` prints the save format's `-A` lines without the `*table` header.
  const lines = parseIptablesSave(`*${listing.table}\n${r.stdout}`).filter(
    (l) => l.table === listing.table && l.chain === listing.chain,
  );
  const again = await client.list(['chain', listing.family, listing.table, listing.chain]);
  const handles = (rules: readonly { handle?: number }[]): string =>
    rules.map((x) => x.handle).join(',');
  const after = (again ?? []).flatMap((o) => ('rule' in o ? [o.rule] : []));
  if (handles(after) !== handles(listing.rules))
    return { ok: false, reason: `${listing.chain} changed while its comments were read` };
  if (lines.length !== listing.rules.length)
    return {
      ok: false,
      reason: `${save} shows ${lines.length} rules in ${listing.chain}, nft ${listing.rules.length}`,
    };
  const byHandle = new Map<number, { comment: string | null; line: string; core: string[] }>();
  listing.rules.forEach((rule, k) => {
    const line = lines[k];
    if (line && typeof rule.handle === 'number') {
      const { comment, core } = strip(line.args);
      byHandle.set(rule.handle, { comment, line: line.line, core });
    }
  });
  return { ok: true, byHandle };
}

/**
 * Splits shape-matched refs into flannel's and kept ones by their comment:
 *   - POSTROUTING era: flannel's only with no comment or "flanneld masq";
 *   - FLANNEL-POSTRTG: flannel's chain, deleted as before; the comment is read for the audit
 *     log when the rule has one (unreadable: deleted, comment null);
 *   - flannel nftables mode: native rules, whose comment nft's JSON does show.
 */
export async function attributeFlannelRules(
  client: NftBackend,
  listings: readonly ChainListing[],
  refs: readonly FlannelRuleRef[],
  deps: AttributionDeps = {},
): Promise<Attribution> {
  const exec = deps.exec ?? execLikeNft(client);
  const ruleOf = new Map<string, NftRule>();
  const key = (f: NftIpFamily, t: string, c: string, h: number): string => `${f} ${t} ${c} ${h}`;
  for (const l of listings)
    for (const r of l.rules)
      if (typeof r.handle === 'number') ruleOf.set(key(l.family, l.table, l.chain, r.handle), r);

  const needed = new Set<ChainListing>();
  for (const ref of refs) {
    const rule = ruleOf.get(key(ref.family, ref.table, ref.chain, ref.handle));
    if (ref.era === 'nftables' || !rule || !hasXtComment(rule)) continue;
    const l = listings.find(
      (x) => x.family === ref.family && x.table === ref.table && x.chain === ref.chain,
    );
    if (l) needed.add(l);
  }
  const comments = new Map<ChainListing, ChainComments>();
  for (const l of needed) comments.set(l, await readChainComments(client, exec, l));

  const flannel: FlannelRuleRef[] = [];
  const kept: KeptRule[] = [];
  for (const ref of refs) {
    const rule = ruleOf.get(key(ref.family, ref.table, ref.chain, ref.handle));
    if (ref.era === 'nftables') {
      const c = (rule as { comment?: unknown } | undefined)?.comment;
      flannel.push({ ...ref, comment: typeof c === 'string' ? c : null });
      continue;
    }
    if (!rule || !hasXtComment(rule)) {
      flannel.push({ ...ref, comment: null });
      continue;
    }
    const l = listings.find(
      (x) => x.family === ref.family && x.table === ref.table && x.chain === ref.chain,
    );
    const c = l ? comments.get(l) : undefined;
    const known = c?.ok ? c.byHandle.get(ref.handle) : undefined;
    const masqLine = known?.core.at(-1) === 'MASQUERADE' && known.core.at(-2) === '-j';
    if (!known || !masqLine) {
      const reason = c && !c.ok ? c.reason : 'its iptables-nft-save line does not match';
      if (ref.era === 'flannel-postrtg') flannel.push({ ...ref, comment: null });
      else kept.push({ ref, kind: 'unknown', detail: reason });
      continue;
    }
    const withLine = { ...ref, comment: known.comment, iptables: known.line };
    if (ref.era === 'flannel-postrtg' || known.comment === FLANNEL_COMMENT) flannel.push(withLine);
    else kept.push({ ref: withLine, kind: 'lookalike', detail: known.comment ?? '' });
  }
  return { flannel, kept };
}

/** "shaped like flannel's, commented "…": left alone" — for doctor and logs. */
export function describeKept(k: KeptRule): string {
  const where = `${k.ref.family} ${k.ref.table} ${k.ref.chain} handle ${k.ref.handle}`;
  return k.kind === 'lookalike'
    ? `${where}: ${k.ref.iptables}: shaped like flannel's, commented ${JSON.stringify(k.detail)}: left alone`
    : `${where}: ${k.ref.iptables}: shaped like flannel's but its comment could not be read (${k.detail}): left alone this pass`;
}
