import { configToJson } from '../config/parse.js';
import { ExitCode } from '../errors.js';
import { loadConfig, plural } from './common.js';
import type { Verb } from './verb.js';

export const check: Verb = {
  name: 'check',
  summary: 'validate the config file (no root needed, no change to the kernel)',
  usage: `Usage: ip-masq check [--config PATH] [--json]

Validates the config. Prints every problem as file:line:col: field: message and exits 6,
or prints a one-line summary (or, with --json, the effective config with defaults filled in).

  --json   print the effective config as JSON`,
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    const loaded = await loadConfig(ctx);
    if (ctx.values.json) {
      ctx.io.stdout(`${JSON.stringify(configToJson(loaded.config), null, 2)}\n`);
      return ExitCode.OK;
    }
    const { config } = loaded;
    const origin = loaded.origin === 'absent' ? `${ctx.configPath} does not exist: defaults` : ctx.configPath;
    const v6 = config.enableIPv6 ? `, ${plural(config.collapsed.ipv6.length, 'IPv6 prefix')}`.replace('prefixs', 'prefixes') : '';
    ctx.io.stdout(
      `ok: ${origin}: ${plural(config.nonMasqueradeCIDRs.length, 'nonMasqueradeCIDR')} → ${plural(config.collapsed.ipv4.length, 'IPv4 prefix').replace('prefixs', 'prefixes')}${v6} after collapsing\n`,
    );
    return ExitCode.OK;
  },
};
