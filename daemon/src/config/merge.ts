/**
 * Several files (config.yaml, then the drop-ins of config.d/ in lexical order) → one Config.
 * Pure. The rules, chosen so that a provisioning tool and a human can each own a file:
 *
 * - `nonMasqueradeCIDRs` is the only merged key: the lists are concatenated in file order and
 *   then collapsed. If ANY file sets it (even to `[]`), the default list is not added, exactly
 *   as a present key replaces its default in one file (and as Azure's ip-masq-agent-v2 does);
 *   the defaults apply only when no file sets it.
 * - Every other setting (flannel.* and metrics.* key by key) may be set in one file only: a
 *   second file setting it is an error naming both places, never a silent "last one wins".
 * - Checks that involve other keys run on the merged values: an IPv6 prefix in a drop-in is
 *   fine when config.yaml sets `enableIPv6: true`, and `cidrLimit` limits the merged list.
 *
 * A single file goes through here too (parseConfigText), so one file and one file plus an empty
 * config.d/ behave identically.
 */
import { ConfigError, type ConfigIssue } from '../errors.js';
import { collapseCidrs, type Cidr } from '../net/cidr.js';
import { defaultNonMasqueradeCidrs } from './defaults.js';
import { defaultConfig, mustParseCidr, type ConfigFragment, type Loc } from './parse.js';
import type { Config } from './schema.js';

/** Where one `nonMasqueradeCIDRs` entry came from (`file: null`: the built-in default list). */
export interface CidrSource {
  cidr: string;
  file: string | null;
  line: number | null;
}

/** Where a setting came from. */
export interface SettingSource {
  file: string;
  line: number;
  col: number;
}

export interface MergedConfig {
  config: Config;
  /**
   * One per entry of `config.nonMasqueradeCIDRs`, same order. A function: line numbers of a
   * 100,000-entry list are computed only when someone asks (`check --json`), not on every reload.
   */
  cidrSources: () => CidrSource[];
  /** Setting path (`masqLinkLocal`, `flannel.subnetEnv`, …) → the file that sets it. */
  settingSources: Map<string, SettingSource>;
}

type Copy = (from: Config, to: Config) => void;

/** How to take one setting from a file's values into the merged config. */
const SETTINGS: Record<string, Copy> = {
  masqLinkLocal: (f, t) => void (t.masqLinkLocal = f.masqLinkLocal),
  masqLinkLocalIPv6: (f, t) => void (t.masqLinkLocalIPv6 = f.masqLinkLocalIPv6),
  resyncInterval: (f, t) => {
    t.resyncInterval = f.resyncInterval;
    t.resyncIntervalMs = f.resyncIntervalMs;
  },
  cidrLimit: (f, t) => void (t.cidrLimit = f.cidrLimit),
  nomasqAllReservedRanges: (f, t) => void (t.nomasqAllReservedRanges = f.nomasqAllReservedRanges),
  enableIPv6: (f, t) => void (t.enableIPv6 = f.enableIPv6),
  randomFully: (f, t) => void (t.randomFully = f.randomFully),
  toPorts: (f, t) => void (t.toPorts = f.toPorts),
  'flannel.removeMasquerade': (f, t) =>
    void (t.flannel.removeMasquerade = f.flannel.removeMasquerade),
  'flannel.subnetEnv': (f, t) => void (t.flannel.subnetEnv = f.flannel.subnetEnv),
  'flannel.removeLegacy': (f, t) => void (t.flannel.removeLegacy = f.flannel.removeLegacy),
  'flannel.clusterCIDR': (f, t) => void (t.flannel.clusterCIDR = f.flannel.clusterCIDR),
  'flannel.nodeSubnet': (f, t) => void (t.flannel.nodeSubnet = f.flannel.nodeSubnet),
  'metrics.textfileDir': (f, t) => void (t.metrics.textfileDir = f.metrics.textfileDir),
  'metrics.listen': (f, t) => void (t.metrics.listen = f.metrics.listen),
};

const MERGED_KEY = 'nonMasqueradeCIDRs';

/**
 * Merges the fragments (in precedence-free file order: main file first, then drop-ins).
 * @throws ConfigError with every issue of every file, file by file, each file's in line order.
 */
export function mergeConfigFragments(fragments: readonly ConfigFragment[]): MergedConfig {
  const extra = new Map<ConfigFragment, ConfigIssue[]>(fragments.map((f) => [f, []]));
  const report = (f: ConfigFragment, at: Loc, path: string, message: string): void => {
    extra.get(f)?.push({ file: f.file, line: at.line, col: at.col, path, message });
  };

  const config = defaultConfig();
  const settingSources = new Map<string, SettingSource>();
  for (const f of fragments) {
    for (const [path, at] of f.set) {
      if (path === MERGED_KEY) continue;
      const first = settingSources.get(path);
      if (first !== undefined) {
        report(
          f,
          at,
          path,
          `also set in ${first.file}:${first.line}:${first.col}; every key except ${MERGED_KEY} may be set in one file only: remove one of them`,
        );
        continue;
      }
      settingSources.set(path, { file: f.file, ...at });
      const copy = SETTINGS[path];
      if (copy && f.config) copy(f.config, config);
    }
  }

  const contributing = fragments.filter((f) => f.cidrs !== null);
  let cidrSources: () => CidrSource[];
  if (contributing.length === 0) {
    config.nonMasqueradeCIDRs = defaultNonMasqueradeCidrs(config.nomasqAllReservedRanges);
    config.collapsed = collapseCidrs(config.nonMasqueradeCIDRs.map(mustParseCidr));
    const defaults = config.nonMasqueradeCIDRs.map((cidr) => ({ cidr, file: null, line: null }));
    cidrSources = () => defaults;
  } else {
    const texts: string[] = [];
    const cidrs: Cidr[] = [];
    const owners: Array<{ fragment: ConfigFragment; index: number; count: number }> = [];
    for (const f of contributing) {
      const list = f.cidrs!;
      owners.push({ fragment: f, index: texts.length, count: list.texts.length });
      // push(...x) overflows the stack for 100,000-entry lists: append in a loop.
      for (const t of list.texts) texts.push(t);
      for (const c of list.cidrs) cidrs.push(c);
    }
    config.nonMasqueradeCIDRs = texts;
    config.collapsed = collapseCidrs(cidrs);
    cidrSources = sourcesOf(texts, owners);
  }

  if (!config.enableIPv6) {
    for (const f of fragments) extra.get(f)?.push(...f.ipv6Issues);
  }

  const limit = config.cidrLimit;
  if (limit !== null && config.nonMasqueradeCIDRs.length > limit) {
    // Upstream's wording (main.go:258), minus its doubled "(excluding link local)".
    const count = config.nonMasqueradeCIDRs.length;
    const message = `the daemon can only accept up to ${limit} CIDRs (excluding link-local), but got ${count}`;
    const only = contributing.length === 1 ? contributing[0] : undefined;
    if (only?.cidrs) {
      report(only, only.cidrs.at, MERGED_KEY, message);
    } else {
      const owner = fragments.find(
        (f) => f.cidrLimitAt !== null && settingSources.get('cidrLimit')?.file === f.file,
      );
      if (owner?.cidrLimitAt) {
        const where =
          contributing.length > 1
            ? ` from ${contributing.length} files (${contributing.map((f) => f.file).join(', ')})`
            : '';
        report(owner, owner.cidrLimitAt, 'cidrLimit', `${message}${where}`);
      }
    }
  }

  const issues: ConfigIssue[] = [];
  for (const f of fragments) {
    const mine = [...f.issues, ...(extra.get(f) ?? [])];
    // Stable: equal positions keep the order they were found in.
    mine.sort((a, b) => a.line - b.line || a.col - b.col);
    issues.push(...mine);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { config, cidrSources, settingSources };
}

/** The per-entry sources, built when asked for (only `check --json` asks). */
function sourcesOf(
  texts: string[],
  owners: Array<{ fragment: ConfigFragment; index: number; count: number }>,
): () => CidrSource[] {
  let built: CidrSource[] | null = null;
  return () => {
    if (built) return built;
    built = [];
    for (const o of owners) {
      for (let i = 0; i < o.count; i++)
        built.push({
          cidr: texts[o.index + i] as string,
          file: o.fragment.file,
          line: o.fragment.cidrs!.lineOf(i),
        });
    }
    return built;
  };
}
