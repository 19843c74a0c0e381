/**
 * Plugs the flannel module (daemon/src/flannel/) into reconcile: facts for the plan's pod
 * network exclusions, and removal of flannel's MASQUERADE rules after our tables are verified.
 * The CLI's verbs and the daemon both take them from here.
 */
import type { Config } from '../config/schema.js';
import { describeKept } from '../flannel/attribute.js';
import { legacyPass, type Exec, type LegacyDeps } from '../flannel/legacy.js';
import { readFlannelFacts } from '../flannel/read-facts.js';
import { removeFlannelMasquerade } from '../flannel/remove.js';
import type { FlannelFacts } from '../flannel/subnet-env.js';
import type { NftBackend } from '../nft/backend.js';
import type { NftTableFamily, PlanFacts } from '../plan/plan.js';

/** A flannel MASQUERADE rule that was deleted, for the audit log. */
export interface DeletedForeignRule {
  family: NftTableFamily;
  table: string;
  chain: string;
  /** nft rule handle; absent for iptables-legacy rules (deleted by their exact spec). */
  handle?: number;
  /** The rule in iptables-save syntax. */
  iptables: string;
  /** Its comment (null: none, or not readable); every deletion's audit event carries it. */
  comment?: string | null;
}

/** What facts() learnt: the plan's view, flannel's own (for remove), and what to warn about. */
export interface FlannelFactsRead {
  facts: PlanFacts;
  flannel: FlannelFacts | null;
  /** e.g. a malformed subnet.env. */
  problems: string[];
  /**
   * Rejected facts (implausible, unreadable), one line each naming the place: logged at error
   * level; no pod-network rule is built and no flannel rule of that family deleted this pass.
   */
  rejected?: string[];
}

/** How reconcile learns about and removes flannel's rules. */
export interface FlannelHooks {
  facts(config: Config): Promise<FlannelFactsRead>;
  /** Deletes flannel's MASQUERADE rules; called only after our tables are verified. */
  remove(
    client: NftBackend,
    config: Config,
    flannel: FlannelFacts | null,
  ): Promise<{ deleted: DeletedForeignRule[]; problems: string[] }>;
}

export function toPlanFacts(facts: FlannelFacts | null): PlanFacts {
  return {
    podNetwork: {
      ...(facts?.ipv4 ? { ipv4: facts.ipv4 } : {}),
      ...(facts?.ipv6 ? { ipv6: facts.ipv6 } : {}),
    },
  };
}

export interface FlannelHooksDeps {
  /** Reads flannel's subnet.env (tests: a map). */
  readFile?: (path: string) => Promise<string>;
  /** iptables-legacy access (tests: no /proc, no processes). */
  legacy?: LegacyDeps;
  /** Runs iptables-nft-save to read rule comments; default: beside the backend's nft. */
  saveExec?: Exec;
}

/** The nft families whose flannel facts were rejected: their flannel rules stay this pass. */
export function heldFamilies(facts: FlannelFacts | null): NftTableFamily[] {
  const r = facts?.rejected ?? {};
  return [...(r.ipv4 ? ['ip' as const] : []), ...(r.ipv6 ? ['ip6' as const] : [])];
}

export function flannelHooks(deps: FlannelHooksDeps = {}): FlannelHooks {
  return {
    async facts(config) {
      const { facts, problems, rejected } = await readFlannelFacts(config.flannel, deps.readFile);
      return { facts: toPlanFacts(facts), flannel: facts, problems, rejected };
    },
    async remove(client, config, flannel) {
      const hold = heldFamilies(flannel);
      const problems: string[] = [];
      const deleted: DeletedForeignRule[] = await removeFlannelMasquerade(
        client,
        flannel,
        { enableIPv6: config.enableIPv6, hold },
        {
          ...(deps.saveExec ? { exec: deps.saveExec } : {}),
          // Look-alikes are someone else's rules (doctor lists them); a rule whose comment
          // could not be read is kept this pass and said.
          onKept: (kept) =>
            problems.push(...kept.filter((k) => k.kind === 'unknown').map(describeKept)),
        },
      );
      // iptables-legacy rules are invisible to nft but masquerade all the same (same hook,
      // priority 100): report them every pass, delete them only when the operator opted in.
      const legacy = await legacyPass(
        flannel,
        { removeLegacy: config.flannel.removeLegacy, enableIPv6: config.enableIPv6, hold },
        deps.legacy,
      );
      for (const r of legacy.removed)
        deleted.push({
          family: r.family,
          table: 'nat (iptables-legacy)',
          chain: r.chain,
          iptables: r.line,
          comment: r.comment,
        });
      return { deleted, problems: [...problems, ...legacy.problems] };
    },
  };
}
