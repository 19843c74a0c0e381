/**
 * Plan → nft JSON. Pure. Owns every nft 1.0.6 JSON trap:
 * - chain `prio` is an integer ("srcnat" silently creates a regular chain with no hook);
 * - interval sets have no JSON auto-merge before v1.1.0, so elements must already be collapsed
 *   (one overlap aborts the whole batch with "conflicting intervals specified");
 * - `destroy` does not exist, so an atomic replace is add + delete + add in one transaction,
 *   which works whether or not the table exists and rolls back entirely on any kernel error;
 * - table/chain comments are silently ignored before v1.0.8, so objects are identified by name.
 */
import {
  CHAIN_NAME,
  FAMILIES,
  SET_NAME,
  TABLE_NAME,
  type Match,
  type NftTableFamily,
  type Plan,
  type PlanRule,
  type PlanTable,
} from '../plan/plan.js';
import type { Cidr } from '../net/cidr.js';
import { cidrElement, ownChain, ownSet } from './shape.js';
import type { NftBatch, NftCommand, NftExpr, NftRule } from './types.js';

function payloadField(family: NftTableFamily, field: 'saddr' | 'daddr'): NftExpr {
  return { payload: { protocol: family, field } };
}

function matchExpr(family: NftTableFamily, m: Exclude<Match, { kind: 'oif-not-in' }>): NftExpr {
  switch (m.kind) {
    case 'daddr-local':
      // Native form of iptables' `-m addrtype --dst-type LOCAL`; accepted in nat postrouting.
      return {
        match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' },
      };
    case 'daddr':
    case 'saddr':
      return {
        match: { op: '==', left: payloadField(family, m.kind), right: cidrElement(m.cidr) },
      };
    case 'saddr-not-in':
      // One prefix is listed back as a plain prefix, several as an anonymous set (ascending).
      return {
        match: {
          op: '!=',
          left: payloadField(family, 'saddr'),
          right:
            m.cidrs.length === 1
              ? cidrElement(m.cidrs[0] as Cidr)
              : { set: m.cidrs.map(cidrElement) },
        },
      };
    case 'daddr-in-set':
      return { match: { op: '==', left: payloadField(family, 'daddr'), right: `@${SET_NAME}` } };
    case 'l4proto':
      // `meta l4proto`, not `ip protocol`: the same in both families (ip6 has no protocol
      // field, only nexthdr, which an extension header would hide). It also satisfies nft's
      // rule that a port in a nat statement needs a transport protocol match before it.
      return {
        match: { op: '==', left: { meta: { key: 'l4proto' } }, right: { set: [...m.protocols] } },
      };
    case 'random-share':
      // offset 0 is written out because nft lists it back that way (normalize compares both).
      return {
        match: {
          op: '<',
          left: { numgen: { mode: 'random', mod: m.modulus, offset: 0 } },
          right: m.below,
        },
      };
  }
}

/** Several expressions: `oifname != "a" oifname != "b*"` (a `*` at the end is nft's wildcard). */
function matchExprs(family: NftTableFamily, m: Match): NftExpr[] {
  if (m.kind !== 'oif-not-in') return [matchExpr(family, m)];
  return m.names.map((name) => ({
    match: { op: '!=', left: { meta: { key: 'oifname' } }, right: name },
  }));
}

export function ruleExprs(family: NftTableFamily, rule: PlanRule): NftExpr[] {
  const expr = rule.match.flatMap((m) => matchExprs(family, m));
  expr.push({ counter: null });
  if (rule.verdict.kind === 'return') {
    expr.push({ return: null });
  } else {
    const { ports, fullyRandom } = rule.verdict;
    // nft 1.0.6 lists a single port as a number and a range as {"range": [first, last]}.
    const port =
      ports === null
        ? null
        : ports.first === ports.last
          ? ports.first
          : { range: [ports.first, ports.last] };
    const nat: Record<string, unknown> = {};
    if (rule.verdict.kind === 'snat') nat.addr = rule.verdict.addr;
    if (port !== null) nat.port = port;
    if (fullyRandom) nat.flags = ['fully-random'];
    if (rule.verdict.kind === 'snat') expr.push({ snat: nat });
    else expr.push({ masquerade: Object.keys(nat).length > 0 ? nat : null });
  }
  return expr;
}

export function tableRules(t: PlanTable): NftRule[] {
  return t.rules.map((r) => ({
    family: t.family,
    table: TABLE_NAME,
    chain: CHAIN_NAME,
    comment: r.comment,
    expr: ruleExprs(t.family, r),
  }));
}

function tableCommands(t: PlanTable): NftCommand[] {
  const cmds: NftCommand[] = [{ add: { table: { family: t.family, name: TABLE_NAME } } }];
  cmds.push({ add: { set: ownSet(t) } });
  cmds.push({ add: { chain: ownChain(t.family) } });
  for (const rule of tableRules(t)) cmds.push({ add: { rule } });
  return cmds;
}

/** add + delete: removes the table if it exists and is a no-op otherwise (no `destroy` on 1.0.6). */
function removeTableCommands(family: NftTableFamily): NftCommand[] {
  return [
    { add: { table: { family, name: TABLE_NAME } } },
    { delete: { table: { family, name: TABLE_NAME } } },
  ];
}

/** One transaction that replaces our tables with exactly what the plan says. */
export function planToBatch(plan: Plan): NftBatch {
  const nftables: NftCommand[] = [{ metainfo: { json_schema_version: 1 } }];
  for (const family of FAMILIES) nftables.push(...removeTableCommands(family));
  for (const t of plan.tables) nftables.push(...tableCommands(t));
  return { nftables };
}

/** One transaction that deletes our tables (both families), whether or not they exist. */
export function cleanupBatch(): NftBatch {
  return {
    nftables: [{ metainfo: { json_schema_version: 1 } }, ...FAMILIES.flatMap(removeTableCommands)],
  };
}
