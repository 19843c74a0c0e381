/** Steps several verbs share: load the config, and build reconcile's dependencies. */
import { loadConfigTree, type LoadedConfigTree } from '../config/tree.js';
import { ConfigError } from '../errors.js';
import type { ReconcileDeps } from '../reconcile/reconcile.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import type { VerbContext } from './verb.js';

/**
 * Loads and validates --config merged with its drop-ins (config.d/); no file at the default
 * path means ip-masq-agent's defaults, but a file named with --config must exist (a typo must
 * not quietly check, render or apply the defaults). Throws ConfigError.
 */
export async function loadConfig(ctx: VerbContext): Promise<LoadedConfigTree> {
  const loaded = await loadConfigTree(ctx.configPath);
  if (ctx.configExplicit && !loaded.files.some((f) => f.path === ctx.configPath)) {
    throw new ConfigError(
      [
        {
          file: ctx.configPath,
          line: 0,
          col: 0,
          path: '',
          message:
            'does not exist (named with --config); fix the path, or leave --config out to use the default file (absent means the defaults)',
        },
      ],
      'CONFIG_UNREADABLE',
    );
  }
  return loaded;
}

export function reconcileDeps(ctx: VerbContext): ReconcileDeps {
  return { client: ctx.nft(), flannel: flannelHooks() };
}

/** "3 CIDRs" / "1 CIDR". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
