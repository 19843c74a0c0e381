/**
 * What the plan does with each setting of the registry (config/registry.ts). The table must
 * name every key (`satisfies Record<SettingKey, …>`): a key added to the registry is a type
 * error here until it either feeds the plan (a function of the Config giving the plan's input)
 * or says which part of the program uses it instead. buildPlan reads the config only through
 * `planInput`, so a key the plan does not list cannot shape the ruleset by accident either.
 */
import type { Config, SettingKey } from '../config/schema.js';
import { collapseCidrs } from '../net/cidr.js';
import { longestPrefixSets } from './policy.js';

/** A setting that does not shape the ruleset: `usedBy` says what it does shape. */
interface NotInPlan {
  usedBy: string;
}

const elsewhere = (usedBy: string): NotInPlan => ({ usedBy });

export const PLAN_INPUTS = {
  nonMasqueradeCIDRs: (c: Config) => c.collapsed,
  masqLinkLocal: (c: Config) => c.masqLinkLocal,
  masqLinkLocalIPv6: (c: Config) => c.masqLinkLocalIPv6,
  resyncInterval: elsewhere('the daemon: how often it reconciles'),
  cidrLimit: elsewhere('config/merge.ts: a check on the merged list'),
  nomasqAllReservedRanges: elsewhere('config/registry.ts: the default nonMasqueradeCIDRs'),
  enableIPv6: (c: Config) => c.enableIPv6,
  randomFully: (c: Config) => c.randomFully,
  'flannel.removeMasquerade': elsewhere('the flannel pass after apply (flannel/remove.ts)'),
  'flannel.subnetEnv': elsewhere(
    'flannel/read-facts.ts: the facts that reach the plan as PlanFacts',
  ),
  'flannel.removeLegacy': elsewhere('the flannel pass after apply (flannel/legacy.ts)'),
  'flannel.clusterCIDR': elsewhere(
    'flannel/subnet-env.ts: the facts that reach the plan as PlanFacts',
  ),
  'flannel.nodeSubnet': elsewhere(
    'flannel/subnet-env.ts: the facts that reach the plan as PlanFacts',
  ),
  toPorts: (c: Config) => c.toPorts,
  'metrics.textfileDir': elsewhere('metrics/textfile.ts'),
  'metrics.listen': elsewhere('metrics/server.ts'),
  // Per family, the longest-prefix keep-source set (null: no entries of that family).
  masqueradeCIDRs: (c: Config) => longestPrefixSets(c),
  outputInterfaces: (c: Config) => [...new Set(c.outputInterfaces)],
  sourceCIDRs: (c: Config) => collapseCidrs(c.sourceCIDRs),
  snatAddress: (c: Config) => c.snatAddress,
  snatAddressIPv6: (c: Config) => c.snatAddressIPv6,
} satisfies Record<SettingKey, ((c: Config) => unknown) | NotInPlan>;

type PlanKey = {
  [K in SettingKey]: (typeof PLAN_INPUTS)[K] extends (c: Config) => unknown ? K : never;
}[SettingKey];

/** The plan's view of a config: exactly the settings that shape the ruleset. */
export type PlanInput = {
  [K in PlanKey]: (typeof PLAN_INPUTS)[K] extends (c: Config) => infer V ? V : never;
};

export function planInput(config: Config): PlanInput {
  const input: Partial<Record<PlanKey, unknown>> = {};
  for (const [key, use] of Object.entries(PLAN_INPUTS))
    if (typeof use === 'function') input[key as PlanKey] = use(config);
  return input as PlanInput;
}
