import { loadConfig } from './common.js';
import { defaultConfig } from '../config/settings.js';
import { ExitCode } from '../errors.js';
import { findFlannelMasquerade } from '../flannel/match.js';
import { readFlannelFacts } from '../flannel/read-facts.js';
import { listFlannelCandidates } from '../flannel/remove.js';
import { egressAfterRemoval, removalWarning } from '../migrate/uninstall-check.js';
import { readLiveTables } from '../reconcile/live-tables.js';
import { cleanup as deleteTables } from '../reconcile/reconcile.js';
import type { Verb } from './verb.js';

export const cleanup: Verb = {
  name: 'cleanup',
  summary:
    "delete ip-masq's nft tables (idempotent); warns when nothing would masquerade pod egress then",
  usage: `Usage: ip-masq cleanup [--config PATH] [--nft PATH]

Deletes the tables "ip ip-masq" and "ip6 ip-masq". Touches nothing else (flannel's deleted
rules are not restored). Safe to run when they do not exist.

Before deleting, checks whether pod egress would still be masqueraded by someone: flannel's
MASQUERADE rules present, or flanneld running with --ip-masq (FLANNEL_IPMASQ in the config's
flannel.subnetEnv). If not, it warns on stderr and in the journal, with the exact rollback
steps, and deletes the tables all the same (removal must stay possible).`,
  common: ['config', 'nft'],
  options: {},
  async run(ctx) {
    const client = ctx.nft();
    // An invalid config must not block the removal: the defaults name flannel's usual path.
    const config = await loadConfig(ctx).then(
      (l) => l.config,
      () => defaultConfig(),
    );
    const live = await readLiveTables(client);
    const ourTables = live.ip !== null || live.ip6 !== null;
    if (ourTables) {
      const { facts } = await readFlannelFacts(config.flannel);
      const opts = { enableIPv6: true };
      const flannelRules = findFlannelMasquerade(
        await listFlannelCandidates(client, opts),
        facts,
        opts,
      ).length;
      const verdict = egressAfterRemoval({ ourTables, flannelRules, facts });
      if (!verdict.covered) {
        const lines = removalWarning(verdict.why, facts);
        for (const l of lines) ctx.io.stderr(`ip-masq cleanup: ${l}\n`);
        await ctx.io.journal?.(`ip-masq cleanup: ${lines.join(' ')}`);
      }
    }
    const existed = await deleteTables(client);
    ctx.io.stdout(existed ? 'deleted: tables ip-masq\n' : 'nothing to delete: no ip-masq table\n');
    return ExitCode.OK;
  },
};
