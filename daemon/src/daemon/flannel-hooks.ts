/**
 * Plugs the flannel module (daemon/src/flannel/) into reconcile: facts for the plan's pod
 * network exclusions, and removal of flannel's MASQUERADE rules after our tables are verified.
 */
import type { Config } from '../config/schema.js';
import { readFlannelFacts } from '../flannel/read-facts.js';
import { removeFlannelMasquerade } from '../flannel/remove.js';
import type { FlannelFacts } from '../flannel/subnet-env.js';
import type { PlanFacts } from '../plan/plan.js';
import type { FlannelHooks } from './reconcile.js';

export function toPlanFacts(facts: FlannelFacts | null): PlanFacts {
  return { podNetwork: { ...(facts?.ipv4 ? { ipv4: facts.ipv4 } : {}), ...(facts?.ipv6 ? { ipv6: facts.ipv6 } : {}) } };
}

export function flannelHooks(): FlannelHooks {
  return {
    async facts(config: Config) {
      const { facts, problems } = await readFlannelFacts(config.flannel);
      return { facts: toPlanFacts(facts), problems, raw: facts };
    },
    remove(client, config, raw) {
      return removeFlannelMasquerade(client, raw as FlannelFacts | null, { enableIPv6: config.enableIPv6 });
    },
  };
}
