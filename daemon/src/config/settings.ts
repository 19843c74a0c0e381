/**
 * Views of the registry (registry.ts) that the rest of config/ works from: the key lists, a
 * setting's value in a Config, and a Config built from the values some files set plus the
 * defaults of the rest. Pure.
 */
import { collapseCidrs, parseCidr, type Cidr } from '../net/cidr.js';
import { parseGoDuration } from './duration.js';
import { SECTIONS, SETTINGS } from './registry.js';
import type { Config, SectionName, SettingKey, SettingValue } from './schema.js';
import type { DefaultsContext, Section, Setting } from './setting.js';

/** Every setting, in registry order. */
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The keys allowed at the top level of a file: settings and sections, in registry order. */
export const TOP_LEVEL_NAMES: readonly string[] = [
  ...new Set(SETTING_KEYS.map((key) => key.split('.')[0] as string)),
];

export function isSection(name: string): name is SectionName {
  return Object.hasOwn(SECTIONS, name);
}

export function sectionOf(name: SectionName): Section {
  return SECTIONS[name];
}

/** The names of a section's settings (`subnetEnv`, … for `flannel`), in registry order. */
export function sectionKeys(name: string): string[] {
  const prefix = `${name}.`;
  return SETTING_KEYS.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}

/** The keys merged by concatenation (every other key may be set in one file only). */
export const CONCAT_KEYS = SETTING_KEYS.filter((k) => declarationOf(k).merge === 'concat');

/** A declaration with its value type erased (for code that loops over keys). */
export type AnySetting = Omit<Setting<unknown>, 'merge'> & { merge: 'one-file' | 'concat' };

export function declarationOf(key: SettingKey): AnySetting {
  return SETTINGS[key] as AnySetting;
}

/** A setting's value in a config. */
export function getSetting<K extends SettingKey>(config: Config, key: K): SettingValue<K> {
  const [first, rest] = splitKey(key);
  const holder = rest === null ? config : config[first as SectionName];
  return (holder as Record<string, unknown>)[rest ?? first] as SettingValue<K>;
}

function splitKey(key: string): [string, string | null] {
  const dot = key.indexOf('.');
  return dot === -1 ? [key, null] : [key.slice(0, dot), key.slice(dot + 1)];
}

/** A built-in CIDR (the default lists); throws on a programming error only. */
export function mustParseCidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`built-in CIDR ${text} is invalid: ${parsed.reason}`);
  return parsed.cidr;
}

/**
 * The config of the given values, every other key at its default. `collapsed` is the parsed
 * nonMasqueradeCIDRs when the caller already has them (null: parse the list here).
 */
export function buildConfig(
  given: ReadonlyMap<SettingKey, unknown>,
  collapsed: Config['collapsed'] | null = null,
): Config {
  const values = new Map<SettingKey, unknown>(given);
  // Defaults may depend on other settings (nonMasqueradeCIDRs on nomasqAllReservedRanges):
  // looked up lazily, so the declaration order does not matter.
  const valueOf = (key: SettingKey): unknown => {
    if (!values.has(key)) values.set(key, declarationOf(key).default(others));
    return values.get(key);
  };
  const others: DefaultsContext = {
    get nomasqAllReservedRanges() {
      return valueOf('nomasqAllReservedRanges') as boolean;
    },
  };
  const tree: Record<string, unknown> = {};
  for (const name of Object.keys(SECTIONS)) tree[name] = {};
  for (const key of SETTING_KEYS) {
    const [first, rest] = splitKey(key);
    if (rest === null) tree[first] = valueOf(key);
    else (tree[first] as Record<string, unknown>)[rest] = valueOf(key);
  }
  const nonMasqueradeCIDRs = tree.nonMasqueradeCIDRs as string[];
  const resyncInterval = tree.resyncInterval as string;
  const derived: Pick<Config, 'collapsed' | 'resyncIntervalMs'> = {
    collapsed: collapsed ?? collapseCidrs(nonMasqueradeCIDRs.map(mustParseCidr)),
    // The reader accepted only durations that parse (readers.ts).
    resyncIntervalMs: parseGoDuration(resyncInterval) as number,
  };
  return { ...tree, ...derived } as Config;
}

/** The configuration used when no file sets anything. */
export function defaultConfig(): Config {
  return buildConfig(new Map());
}
