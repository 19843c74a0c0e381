/**
 * flannel rules in iptables-legacy: detect, report with exact commands, and (opt-in,
 * `flannel.removeLegacy: true`) delete with the exact spec. The I/O half of legacy-save.ts.
 *
 * `/proc/net/ip_tables_names` lists the instantiated legacy tables of the reader's network
 * namespace; it is empty (or absent, when ip_tables is not loaded) on an nft-only node. We only
 * run iptables-legacy-save when `nat` is listed there: saving a table that does not exist would
 * load iptable_nat and instantiate an empty legacy nat table as a side effect.
 */
import { IPTABLES_DELETE_MS, IPTABLES_SAVE_MS } from '../proc/deadlines.js';
import { READ_CAPS, readBounded } from '../fs/read-bounded.js';
import { runBounded } from '../proc/run-bounded.js';
import { resolveSystemBinary } from '../proc/system-binary.js';
import { findLegacyFlannelMasquerade, type LegacyRuleRef } from './legacy-save.js';
import type { FlannelFacts } from './subnet-env.js';
import { FAMILIES } from '../plan/plan.js';

export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The binary does not exist. */
  notFound?: boolean;
  /** Killed at its deadline. */
  timedOut?: boolean;
}
export type Exec = (argv: readonly string[]) => Promise<ExecResult>;

export interface LegacyDeps {
  /** Reads a file; tests pass one that reads inside a netns. */
  readFile?: (path: string) => Promise<string>;
  /** Runs a command (argv[0] is the binary); tests prefix `ip netns exec`. */
  exec?: Exec;
  /** Default /proc. */
  procRoot?: string;
}

export interface LegacyTables {
  ip: string[];
  ip6: string[];
  /** Why legacy tables could not be looked for (null: they were). */
  unchecked: string | null;
}

export interface LegacyReport {
  tables: LegacyTables;
  rules: LegacyRuleRef[];
  problems: string[];
}

/**
 * Runs an iptables tool by name from the system directories (never PATH), without a shell and
 * with a deadline (saves 20 s, deletes 10 s: proc/deadlines.ts). A missing binary is reported,
 * not thrown; a timeout is a failed run whose stderr says so.
 */
export const defaultExec: Exec = async (argv) => {
  const [name, ...args] = argv as [string, ...string[]];
  const timeoutMs = argv.includes('-D') ? IPTABLES_DELETE_MS : IPTABLES_SAVE_MS;
  const cmd = name.includes('/') ? name : resolveSystemBinary(name);
  const r = await runBounded({ argv: [cmd, ...args], timeoutMs });
  switch (r.kind) {
    case 'exited':
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    case 'timeout':
      return {
        status: null,
        stdout: '',
        stderr: `${name} did not finish within ${r.timeoutMs / 1000} s and was killed`,
        timedOut: true,
      };
    case 'output-too-large':
      return {
        status: null,
        stdout: '',
        stderr: `${name} printed more than ${r.maxOutputBytes} bytes`,
      };
    case 'spawn-error':
      return {
        status: null,
        stdout: '',
        stderr: r.error.message,
        notFound: r.error.code === 'ENOENT',
      };
  }
};

/**
 * Legacy tables per family from /proc/net/ip{,6}_tables_names. A missing file means none
 * (ip_tables is not loaded) — unless /proc/net itself cannot be read: the hardened unit's
 * ProcSubset=pid hides it, and a silent "none" would hide flannel rules that still masquerade.
 */
export async function detectLegacyTables(deps: LegacyDeps = {}): Promise<LegacyTables> {
  const read = deps.readFile ?? ((p: string) => readBounded(p, { maxBytes: READ_CAPS.procNames }));
  const root = deps.procRoot ?? '/proc';
  const names = async (file: string): Promise<string[] | NodeJS.ErrnoException> => {
    try {
      return (await read(`${root}/net/${file}`))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
    } catch (e) {
      return e as NodeJS.ErrnoException;
    }
  };
  const [ip, ip6] = await Promise.all([names('ip_tables_names'), names('ip6_tables_names')]);
  const failed = [ip, ip6].find((r): r is NodeJS.ErrnoException => !Array.isArray(r));
  let unchecked: string | null = null;
  if (failed) {
    // ENOENT is normal for a module that is not loaded, as long as /proc/net itself is there.
    const procNetVisible =
      Array.isArray(ip) ||
      Array.isArray(ip6) ||
      (await read(`${root}/net/dev`).then(
        () => true,
        () => false,
      ));
    if (failed.code !== 'ENOENT' || !procNetVisible) {
      unchecked = `${root}/net/ip_tables_names is not readable here (${failed.code ?? failed.message}; the ip-masq unit hides /proc/net)`;
    }
  }
  return { ip: Array.isArray(ip) ? ip : [], ip6: Array.isArray(ip6) ? ip6 : [], unchecked };
}

/**
 * Legacy tables and flannel's MASQUERADE rules in legacy nat tables (both families, for the
 * report; removal filters by enableIPv6). Problems: a legacy nat table without
 * iptables-legacy-save to read it, or a failing save.
 */
export async function findLegacyFlannel(
  facts: FlannelFacts | null,
  deps: LegacyDeps = {},
): Promise<LegacyReport> {
  const exec = deps.exec ?? defaultExec;
  const tables = await detectLegacyTables(deps);
  const rules: LegacyRuleRef[] = [];
  const problems: string[] = [];
  if (tables.unchecked) {
    problems.push(
      `iptables-legacy was not checked for flannel rules: ${tables.unchecked}; run "sudo ip-masq doctor" to check (rules there are invisible to nft)`,
    );
  }
  for (const family of FAMILIES) {
    if (!tables[family].includes('nat')) continue;
    const save = family === 'ip' ? 'iptables-legacy-save' : 'ip6tables-legacy-save';
    const r = await exec([save, '-t', 'nat']);
    if (r.notFound) {
      problems.push(
        `a legacy ${family === 'ip' ? 'IPv4' : 'IPv6'} nat table exists but ${save} is not installed; install the iptables package to inspect it`,
      );
    } else if (r.status !== 0 && /Permission denied|you must be root/.test(r.stderr)) {
      // x_tables is read through a raw socket: CAP_NET_RAW, which the ip-masq unit does not grant.
      problems.push(
        `a legacy ${family === 'ip' ? 'IPv4' : 'IPv6'} nat table exists but ${save} was denied (it needs CAP_NET_RAW as well as CAP_NET_ADMIN); run "sudo ip-masq doctor" to inspect it`,
      );
    } else if (r.status !== 0) {
      problems.push(
        `${save} -t nat failed (exit ${r.status}): ${r.stderr.trim().split('\n')[0] ?? ''}`,
      );
    } else {
      rules.push(...findLegacyFlannelMasquerade(r.stdout, family, facts));
    }
  }
  return { tables, rules, problems };
}

/**
 * Deletes `refs` one by one with the exact spec (`iptables-legacy -w -t nat -D …`); IPv6 rules
 * only when enableIPv6. A rule that is already gone counts as failed with iptables' message.
 */
export async function removeLegacyFlannel(
  refs: readonly LegacyRuleRef[],
  opts: { enableIPv6: boolean },
  deps: LegacyDeps = {},
): Promise<{ removed: LegacyRuleRef[]; failed: { ref: LegacyRuleRef; error: string }[] }> {
  const exec = deps.exec ?? defaultExec;
  const removed: LegacyRuleRef[] = [];
  const failed: { ref: LegacyRuleRef; error: string }[] = [];
  for (const ref of refs) {
    if (ref.family === 'ip6' && !opts.enableIPv6) continue;
    const r = await exec([
      ref.family === 'ip' ? 'iptables-legacy' : 'ip6tables-legacy',
      ...ref.deleteArgs,
    ]);
    if (r.status === 0) removed.push(ref);
    else
      failed.push({
        ref,
        error: r.notFound
          ? 'iptables-legacy is not installed'
          : (r.stderr.trim().split('\n')[0] ?? `exit ${r.status}`),
      });
  }
  return { removed, failed };
}

export interface LegacyPass {
  /** flannel MASQUERADE rules found in iptables-legacy (both families). */
  found: LegacyRuleRef[];
  /** Deleted this pass (only with removeLegacy). */
  removed: LegacyRuleRef[];
  failed: { ref: LegacyRuleRef; error: string }[];
  /** One line each, for a warning log: what is there and the exact commands to remove it. */
  problems: string[];
}

/**
 * One reconcile-time legacy pass: find flannel's legacy MASQUERADE rules; delete them only when
 * `removeLegacy` is set, otherwise report them with the exact commands. Cheap when there are no
 * legacy tables (two small /proc reads, no process).
 */
export async function legacyPass(
  facts: FlannelFacts | null,
  opts: { removeLegacy: boolean; enableIPv6: boolean; hold?: readonly ('ip' | 'ip6')[] },
  deps: LegacyDeps = {},
): Promise<LegacyPass> {
  const found = await findLegacyFlannel(facts, deps);
  // Rejected facts hold their family: its legacy rules are neither deleted nor counted.
  const report = { ...found, rules: found.rules.filter((r) => !opts.hold?.includes(r.family)) };
  const problems = [...report.problems];
  if (report.rules.length === 0) return { found: [], removed: [], failed: [], problems };
  if (!opts.removeLegacy) {
    problems.push(
      `${report.rules.length} flannel MASQUERADE rule(s) in iptables-legacy still masquerade pod traffic (invisible to nft); set flannel.removeLegacy: true or run: ${report.rules.map((r) => r.command).join(' && ')}`,
    );
    return { found: report.rules, removed: [], failed: [], problems };
  }
  const { removed, failed } = await removeLegacyFlannel(report.rules, opts, deps);
  for (const f of failed)
    problems.push(
      `could not delete a flannel rule from iptables-legacy (${f.error}): ${f.ref.command}`,
    );
  const keptV6 = report.rules.filter((r) => r.family === 'ip6' && !opts.enableIPv6);
  if (keptV6.length > 0)
    problems.push(
      `${keptV6.length} IPv6 flannel rule(s) in ip6tables-legacy kept because enableIPv6 is false`,
    );
  return { found: report.rules, removed, failed, problems };
}
