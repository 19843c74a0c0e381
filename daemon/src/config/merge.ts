/**
 * Several files (config.yaml, then the drop-ins of config.d/ in lexical order) → one Config.
 * Pure. The rules, chosen so that a provisioning tool and a human can each own a file:
 *
 * - Keys declared `merge: 'concat'` in the registry (`nonMasqueradeCIDRs`) are concatenated in
 *   file order. If ANY file sets one (even to `[]`), its default is not added, exactly as a
 *   present key replaces its default in one file (and as Azure's ip-masq-agent-v2 does); the
 *   default applies only when no file sets it.
 * - Every other setting (flannel.* and metrics.* key by key) may be set in one file only: a
 *   second file setting it is an error naming both places, never a silent "last one wins".
 * - Checks that involve other keys run on the merged values: an IPv6 prefix in a drop-in is
 *   fine when config.yaml sets `enableIPv6: true`, and `cidrLimit` limits the merged list.
 *
 * A single file goes through here too, so one file and one file plus an empty config.d/
 * behave identically.
 */
import { ConfigError, type ConfigIssue } from '../errors.js';
import { collapseCidrs, parseCidr, type Cidr } from '../net/cidr.js';
import { policyIssues, type PolicyCheckInput } from './policy-checks.js';
import type { Loc } from './issues.js';
import { parseConfigFragment, type ConfigFragment } from './parse.js';
import type { Config, SettingKey } from './schema.js';
import { buildConfig, CONCAT_KEYS, declarationOf } from './settings.js';

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
  /** Where each entry of a concatenated list other than nonMasqueradeCIDRs came from, in order. */
  listSources: (key: SettingKey) => SettingSource[];
}

const CIDR_LIST: SettingKey = 'nonMasqueradeCIDRs';

/** A file that was read, with its text. */
export interface ConfigFileText {
  path: string;
  text: string;
}

/**
 * Parses and merges config files (main file first, then drop-ins); the one way from texts to
 * a Config. `fastPath: false` is for tests and benchmarks comparing the two parse paths.
 * @throws ConfigError with every issue of every file.
 */
export function mergeConfigFiles(
  files: readonly ConfigFileText[],
  options: { fastPath: boolean } = { fastPath: true },
): MergedConfig {
  return mergeConfigFragments(files.map((f) => parseConfigFragment(f.text, f.path, options)));
}

/**
 * Merges the fragments (in precedence-free file order: main file first, then drop-ins).
 * @throws ConfigError with every issue of every file, file by file, each file's in line order.
 */
export function mergeConfigFragments(fragments: readonly ConfigFragment[]): MergedConfig {
  const extra = new Map<ConfigFragment, ConfigIssue[]>(fragments.map((f) => [f, []]));
  const report = (f: ConfigFragment, at: Loc, path: string, message: string): void => {
    extra.get(f)?.push({ file: f.file, line: at.line, col: at.col, path, message });
  };

  const values = new Map<SettingKey, unknown>();
  const settingSources = new Map<string, SettingSource>();
  for (const f of fragments) {
    for (const [key, at] of f.set) {
      if (declarationOf(key).merge === 'concat') continue;
      const first = settingSources.get(key);
      if (first !== undefined) {
        report(
          f,
          at,
          key,
          `also set in ${first.file}:${first.line}:${first.col}; every key except ${CONCAT_KEYS.join(', ')} may be set in one file only: remove one of them`,
        );
        continue;
      }
      settingSources.set(key, { file: f.file, ...at });
      if (f.values.has(key)) values.set(key, f.values.get(key));
    }
  }
  for (const key of CONCAT_KEYS) {
    const setters = fragments.filter((f) => f.set.has(key));
    if (setters.length === 0) continue;
    const merged: unknown[] = [];
    // push(...x) overflows the stack for 100,000-entry lists: append in a loop.
    for (const f of setters) for (const v of (f.values.get(key) as unknown[]) ?? []) merged.push(v);
    values.set(key, merged);
  }

  const contributing = fragments.filter((f) => f.set.has(CIDR_LIST));
  let collapsed: Config['collapsed'] | null = null;
  let cidrSources: () => CidrSource[];
  if (contributing.length === 0) {
    cidrSources = () => [];
  } else {
    const cidrs: Cidr[] = [];
    for (const f of contributing)
      for (const c of f.lists.get(CIDR_LIST)?.cidrs ?? []) cidrs.push(c);
    collapsed = collapseCidrs(cidrs);
    cidrSources = sourcesOf(values.get(CIDR_LIST) as string[], contributing);
  }
  const config = buildConfig(values, collapsed);
  if (contributing.length === 0) {
    const defaults = config.nonMasqueradeCIDRs.map((cidr) => ({ cidr, file: null, line: null }));
    cidrSources = () => defaults;
  }

  if (!config.enableIPv6) {
    for (const f of fragments) extra.get(f)?.push(...f.ipv6Issues);
  }
  checkCidrLimit(config, fragments, contributing, settingSources, report);
  const listSources = (key: SettingKey): SettingSource[] => entrySources(fragments, key);
  for (const issue of policyIssues(
    policyCheckInput(config, cidrSources, listSources, settingSources),
  )) {
    const owner = fragments.find((f) => f.file === issue.file);
    if (owner) report(owner, issue, issue.path, issue.message);
  }

  const issues: ConfigIssue[] = [];
  for (const f of fragments) {
    const mine = [...f.issues, ...(extra.get(f) ?? [])];
    // Stable: equal positions keep the order they were found in.
    mine.sort((a, b) => a.line - b.line || a.col - b.col);
    issues.push(...mine);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { config, cidrSources, settingSources, listSources };
}

/** Every entry's place of a concatenated list, file by file (the files that set the key). */
function entrySources(fragments: readonly ConfigFragment[], key: SettingKey): SettingSource[] {
  const out: SettingSource[] = [];
  for (const f of fragments) {
    const list = f.lists.get(key);
    const count = (f.values.get(key) as unknown[] | undefined)?.length ?? 0;
    for (let i = 0; i < count; i++) {
      const at = list?.locOf?.(i) ?? { line: list?.lineOf(i) ?? 0, col: 0 };
      out.push({ file: f.file, ...at });
    }
  }
  return out;
}

/** The merged values and places policy-checks.ts needs. */
function policyCheckInput(
  config: Config,
  cidrSources: () => CidrSource[],
  listSources: (key: SettingKey) => SettingSource[],
  settingSources: ReadonlyMap<string, SettingSource>,
): PolicyCheckInput {
  const perFile = new Map<string, number>();
  const masquerade = listSources('masqueradeCIDRs').map((place, i) => {
    const index = perFile.get(place.file) ?? 0;
    perFile.set(place.file, index + 1);
    return { cidr: config.masqueradeCIDRs[i] as Cidr, path: `masqueradeCIDRs[${index}]`, place };
  });
  const nonMasquerade: Array<PolicyCheckInput['nonMasquerade'][number]> = [];
  // Only needed to compare with masqueradeCIDRs: a 100,000-entry list alone is not walked.
  if (masquerade.length > 0)
    for (const s of cidrSources()) {
      const parsed = parseCidr(s.cidr);
      if (parsed.ok)
        nonMasquerade.push({
          cidr: parsed.cidr,
          place: s.file === null ? null : { file: s.file, line: s.line ?? 0 },
        });
    }
  return {
    config,
    nonMasquerade,
    masquerade,
    sourceCIDRsAt: settingSources.get('sourceCIDRs') ?? firstOf(listSources('sourceCIDRs')),
    snatAddressIPv6At: settingSources.get('snatAddressIPv6') ?? null,
  };
}

function firstOf(places: SettingSource[]): SettingSource | null {
  return places[0] ?? null;
}

/** `cidrLimit` over the merged list: reported at the list when one file holds it, else at the limit. */
function checkCidrLimit(
  config: Config,
  fragments: readonly ConfigFragment[],
  contributing: readonly ConfigFragment[],
  settingSources: ReadonlyMap<string, SettingSource>,
  report: (f: ConfigFragment, at: Loc, path: string, message: string) => void,
): void {
  const limit = config.cidrLimit;
  if (limit === null || config.nonMasqueradeCIDRs.length <= limit) return;
  // Upstream's wording (main.go:258), minus its doubled "(excluding link local)".
  const count = config.nonMasqueradeCIDRs.length;
  const message = `the daemon can only accept up to ${limit} CIDRs (excluding link-local), but got ${count}`;
  const only = contributing.length === 1 ? contributing[0] : undefined;
  const onlyList = only?.lists.get(CIDR_LIST);
  if (only && onlyList) {
    report(only, onlyList.at, CIDR_LIST, message);
    return;
  }
  const owner = fragments.find(
    (f) => f.valueAt.has('cidrLimit') && settingSources.get('cidrLimit')?.file === f.file,
  );
  const limitAt = owner?.valueAt.get('cidrLimit');
  if (owner && limitAt) {
    const where =
      contributing.length > 1
        ? ` from ${contributing.length} files (${contributing.map((f) => f.file).join(', ')})`
        : '';
    report(owner, limitAt, 'cidrLimit', `${message}${where}`);
  }
}

/** The per-entry sources, built when asked for (only `check --json` asks). */
function sourcesOf(texts: string[], contributing: readonly ConfigFragment[]): () => CidrSource[] {
  let built: CidrSource[] | null = null;
  return () => {
    if (built) return built;
    built = [];
    for (const f of contributing) {
      const count = (f.values.get(CIDR_LIST) as string[] | undefined)?.length ?? 0;
      const list = f.lists.get(CIDR_LIST);
      for (let i = 0; i < count; i++)
        built.push({
          cidr: texts[built.length] as string,
          file: f.file,
          line: list?.lineOf(i) ?? null,
        });
    }
    return built;
  };
}
