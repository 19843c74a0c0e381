import { ExitCode } from '../errors.js';
import { cleanup as deleteTables } from '../reconcile/reconcile.js';
import type { Verb } from './verb.js';

export const cleanup: Verb = {
  name: 'cleanup',
  summary:
    "delete ip-masq's nft tables (idempotent); pod egress is then no longer masqueraded by us",
  usage: `Usage: ip-masq cleanup [--nft PATH]

Deletes the tables "ip ip-masq" and "ip6 ip-masq". Touches nothing else (flannel's deleted
rules are not restored). Safe to run when they do not exist.`,
  common: ['nft'],
  options: {},
  async run(ctx) {
    const existed = await deleteTables(ctx.nft());
    ctx.io.stdout(existed ? 'deleted: tables ip-masq\n' : 'nothing to delete: no ip-masq table\n');
    return ExitCode.OK;
  },
};
