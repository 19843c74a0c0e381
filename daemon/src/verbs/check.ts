import { relative } from 'node:path';
import { configToJson, formatListen } from '../config/to-json.js';
import { ConfigError, ExitCode } from '../errors.js';
import { withImportHint } from '../migrate/manifest-hint.js';
import { loadConfig, plural } from './common.js';
import type { Verb } from './verb.js';

export const check: Verb = {
  name: 'check',
  summary: 'validate the config file and its drop-ins (no root needed, no change to the kernel)',
  usage: `Usage: ip-masq check [--config PATH] [--json]

Validates the config merged with the drop-ins of config.d/ next to it. Prints every problem as
file:line:col: field: message and exits 6, or prints a one-line summary (or, with --json, the
effective config with defaults filled in, and which file each CIDR and setting came from).

  --json   print the effective config as JSON`,
  common: ['config'],
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    const loaded = await loadConfig(ctx).catch(async (e: unknown) => {
      // A pasted ip-masq-agent ConfigMap/DaemonSet: say how to convert it.
      throw e instanceof ConfigError ? await withImportHint(e) : e;
    });
    const { config } = loaded;
    if (ctx.values.json) {
      const settings: Record<string, string> = {};
      for (const [key, s] of [...loaded.settingSources].sort(([a], [b]) => (a < b ? -1 : 1)))
        settings[key] = `${s.file}:${s.line}:${s.col}`;
      const json = {
        ...configToJson(config),
        sources: {
          files: loaded.files.map((f) => f.path),
          dropInDir: loaded.dropInDir,
          ignored: loaded.ignored,
          nonMasqueradeCIDRs: loaded
            .cidrSources()
            .map((s) => ({ cidr: s.cidr, file: s.file ?? 'default', line: s.line })),
          settings,
        },
      };
      ctx.io.stdout(`${JSON.stringify(json, null, 2)}\n`);
      return ExitCode.OK;
    }
    const dropIns = loaded.files.filter((f) => f.path !== ctx.configPath);
    const mainPresent = loaded.files.length > dropIns.length;
    let origin: string;
    if (loaded.origin === 'absent') origin = `${ctx.configPath} does not exist: defaults`;
    else if (dropIns.length === 0) origin = ctx.configPath;
    else {
      const names = dropIns.map((f) => relative(loaded.dropInDir, f.path)).join(', ');
      origin = `${mainPresent ? ctx.configPath : `${ctx.configPath} (absent)`} + ${plural(dropIns.length, 'drop-in')} in ${loaded.dropInDir} (${names})`;
    }
    const v6 = config.enableIPv6
      ? `, ${plural(config.collapsed.ipv6.length, 'IPv6 prefix')}`.replace('prefixs', 'prefixes')
      : '';
    ctx.io.stdout(
      `ok: ${origin}: ${plural(config.nonMasqueradeCIDRs.length, 'nonMasqueradeCIDR')} → ${plural(config.collapsed.ipv4.length, 'IPv4 prefix').replace('prefixs', 'prefixes')}${v6} after collapsing\n`,
    );
    for (const i of loaded.ignored) ctx.io.stdout(`  skipped ${i.path}: ${i.reason}\n`);
    const listen = config.metrics.listen;
    if (listen && !listen.loopback) {
      ctx.io.stdout(
        `  warning: metrics.listen ${formatListen(listen)} is not a loopback address: /metrics is reachable from other hosts, without authentication\n`,
      );
    }
    if (dropIns.length > 0 && loaded.cidrSources().every((s) => s.file === null)) {
      ctx.io.stdout('  nonMasqueradeCIDRs: the default list (no file sets it)\n');
    }
    return ExitCode.OK;
  },
};
