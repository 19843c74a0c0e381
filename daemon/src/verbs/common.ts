/** Steps several verbs share: load the config, and build reconcile's dependencies. */
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { ReconcileDeps } from '../daemon/reconcile.js';
import { flannelHooks } from '../daemon/flannel-hooks.js';
import type { VerbContext } from './verb.js';

/** Loads and validates --config; a missing file means ip-masq-agent's defaults. Throws ConfigError. */
export function loadConfig(ctx: VerbContext): Promise<LoadedConfig> {
  return loadConfigFile(ctx.configPath);
}

export function reconcileDeps(ctx: VerbContext): ReconcileDeps {
  return { client: ctx.nft(), flannel: flannelHooks() };
}

/** "3 CIDRs" / "1 CIDR". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
