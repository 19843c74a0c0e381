/**
 * Plugs the flannel module (daemon/src/flannel/) into reconcile: facts for the plan's pod
 * network exclusions, and removal of flannel's MASQUERADE rules after our tables are verified.
 */
import type { Config } from '../config/schema.js';
import { legacyPass } from '../flannel/legacy.js';
import { readFlannelFacts } from '../flannel/read-facts.js';
import { removeFlannelMasquerade } from '../flannel/remove.js';
import type { FlannelFacts } from '../flannel/subnet-env.js';
import type { PlanFacts } from '../plan/plan.js';
import type { DeletedForeignRule, FlannelHooks } from './reconcile.js';

export function toPlanFacts(facts: FlannelFacts | null): PlanFacts {
  return {
    podNetwork: {
      ...(facts?.ipv4 ? { ipv4: facts.ipv4 } : {}),
      ...(facts?.ipv6 ? { ipv6: facts.ipv6 } : {}),
    },
  };
}

export function flannelHooks(): FlannelHooks {
  return {
    async facts(config: Config) {
      const { facts, problems } = await readFlannelFacts(config.flannel);
      return { facts: toPlanFacts(facts), problems, raw: facts };
    },
    async remove(client, config, raw) {
      const facts = raw as FlannelFacts | null;
      const deleted: DeletedForeignRule[] = await removeFlannelMasquerade(client, facts, {
        enableIPv6: config.enableIPv6,
      });
      // iptables-legacy rules are invisible to nft but masquerade all the same (same hook,
      // priority 100): report them every pass, delete them only when the operator opted in.
      const legacy = await legacyPass(facts, {
        removeLegacy: config.flannel.removeLegacy,
        enableIPv6: config.enableIPv6,
      });
      for (const r of legacy.removed)
        deleted.push({
          family: r.family,
          table: 'nat (iptables-legacy)',
          chain: r.chain,
          iptables: r.line,
        });
      return { deleted, problems: legacy.problems };
    },
  };
}
