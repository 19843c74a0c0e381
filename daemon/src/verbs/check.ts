import { relative } from 'node:path';
import type { LoadedConfigTree } from '../config/tree.js';
import { emptyListWarnings } from '../config/empty-lists.js';
import { configToJson } from '../config/to-json.js';
import { formatListen } from '../config/values.js';
import { ConfigError, ExitCode, formatConfigIssue, type ConfigIssue } from '../errors.js';
import { withImportHint } from '../migrate/manifest-hint.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { formatCidr } from '../net/cidr.js';
import { policyWarnings } from '../plan/policy-warnings.js';
import { loadConfig, plural } from './common.js';
import { policySources } from './policy-sources.js';
import type { Verb } from './verb.js';

/** A config issue as `check --json` prints it (stable field names for scripts). */
function issueJson(i: ConfigIssue): Record<string, string | number> {
  return { file: i.file, line: i.line, column: i.col, path: i.path, message: i.message };
}

/** Valid but probably not what was meant: each with its place when it has one. */
function checkWarnings(loaded: LoadedConfigTree): ConfigIssue[] {
  const warnings = loaded.files.flatMap((f) => emptyListWarnings(f.text, f.path));
  const listen = loaded.config.metrics.listen;
  if (listen && !listen.loopback) {
    const at = loaded.settingSources.get('metrics.listen');
    warnings.push({
      file: at?.file ?? loaded.path,
      line: at?.line ?? 0,
      col: at?.col ?? 0,
      path: 'metrics.listen',
      message: `${formatListen(listen)} is not a loopback address: /metrics is reachable from other hosts, without authentication`,
    });
  }
  return warnings;
}

/** masqueradeCIDRs entries that flannel overrides or that change nothing (plan/policy-warnings.ts). */
async function policyCheckWarnings(loaded: LoadedConfigTree): Promise<ConfigIssue[]> {
  const { config } = loaded;
  if (config.masqueradeCIDRs.length === 0) return [];
  const { facts } = await flannelHooks().facts(config);
  const places = loaded.listSources('masqueradeCIDRs');
  return policyWarnings(config, facts, policySources(loaded)).map((w) => {
    const i = config.masqueradeCIDRs.findIndex(
      (c) => c.family === w.cidr.family && c.addr === w.cidr.addr && c.len === w.cidr.len,
    );
    const at = places[i];
    return {
      file: at?.file ?? loaded.path,
      line: at?.line ?? 0,
      col: at?.col ?? 0,
      path: 'masqueradeCIDRs',
      message: w.message,
    };
  });
}

function effectiveJson(loaded: LoadedConfigTree, warnings: ConfigIssue[]): unknown {
  const settings: Record<string, string> = {};
  for (const [key, s] of [...loaded.settingSources].sort(([a], [b]) => (a < b ? -1 : 1)))
    settings[key] = `${s.file}:${s.line}:${s.col}`;
  return {
    valid: true,
    ...configToJson(loaded.config),
    warnings: warnings.map(issueJson),
    sources: {
      files: loaded.files.map((f) => f.path),
      dropInDir: loaded.dropInDir,
      ignored: loaded.ignored,
      nonMasqueradeCIDRs: loaded
        .cidrSources()
        .map((s) => ({ cidr: s.cidr, file: s.file ?? 'default', line: s.line })),
      ...policyListSources(loaded),
      settings,
    },
  };
}

/** The per-entry sources of the policy lists (concatenated across files, like the CIDRs). */
function policyListSources(loaded: LoadedConfigTree): Record<string, unknown[]> {
  const { config } = loaded;
  const each = <T>(
    key: 'masqueradeCIDRs' | 'sourceCIDRs' | 'outputInterfaces',
    values: T[],
    show: (v: T) => Record<string, string>,
  ) => {
    const places = loaded.listSources(key);
    return values.map((v, i) => ({
      ...show(v),
      file: places[i]?.file ?? null,
      line: places[i]?.line ?? null,
    }));
  };
  return {
    masqueradeCIDRs: each('masqueradeCIDRs', config.masqueradeCIDRs, (c) => ({
      cidr: formatCidr(c),
    })),
    sourceCIDRs: each('sourceCIDRs', config.sourceCIDRs, (c) => ({ cidr: formatCidr(c) })),
    outputInterfaces: each('outputInterfaces', config.outputInterfaces, (name) => ({ name })),
  };
}

export const check: Verb = {
  name: 'check',
  summary: 'validate the config file and its drop-ins (no root needed, no change to the kernel)',
  usage: `Usage: ip-masq check [--config PATH] [--json]

Validates the config merged with the drop-ins of config.d/ next to it. Prints every problem as
file:line:col: field: message and exits 6, or prints a one-line summary and any warnings.
A file named with --config must exist; the default file being absent means the defaults.

  --json   print {"valid": true, <the effective config with defaults filled in, where each
           CIDR and setting came from>, "warnings": […]}, or {"valid": false, "issues":
           [{"file", "line", "column", "path", "message"}, …]} and exit 6`,
  common: ['config'],
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    let loaded: LoadedConfigTree;
    try {
      loaded = await loadConfig(ctx);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // A pasted ip-masq-agent ConfigMap/DaemonSet: say how to convert it.
      const err = await withImportHint(e);
      if (!ctx.values.json) throw err;
      ctx.io.stdout(
        `${JSON.stringify({ valid: false, issues: err.issues.map(issueJson) }, null, 2)}\n`,
      );
      return ExitCode.CONFIG_INVALID;
    }
    const warnings = [...checkWarnings(loaded), ...(await policyCheckWarnings(loaded))];
    if (ctx.values.json) {
      ctx.io.stdout(`${JSON.stringify(effectiveJson(loaded, warnings), null, 2)}\n`);
      return ExitCode.OK;
    }
    const { config } = loaded;
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
    for (const i of loaded.ignored) ctx.io.stdout(`  warning: ${i.path} is ignored: ${i.reason}\n`);
    for (const w of warnings) ctx.io.stdout(`  warning: ${formatConfigIssue(w)}\n`);
    if (dropIns.length > 0 && loaded.cidrSources().every((s) => s.file === null)) {
      ctx.io.stdout('  nonMasqueradeCIDRs: the default list (no file sets it)\n');
    }
    return ExitCode.OK;
  },
};
