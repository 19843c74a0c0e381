/** Steps several verbs share: load the config, and build reconcile's dependencies. */
import { loadConfigTree, type LoadedConfigTree } from '../config/dropins.js';
import type { ReconcileDeps } from '../daemon/reconcile.js';
import { flannelHooks } from '../daemon/flannel-hooks.js';
import type { VerbContext } from './verb.js';

/**
 * Loads and validates --config merged with its drop-ins (config.d/); no file at all means
 * ip-masq-agent's defaults. Throws ConfigError.
 */
export function loadConfig(ctx: VerbContext): Promise<LoadedConfigTree> {
  return loadConfigTree(ctx.configPath);
}

export function reconcileDeps(ctx: VerbContext): ReconcileDeps {
  return { client: ctx.nft(), flannel: flannelHooks() };
}

/** "3 CIDRs" / "1 CIDR". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
