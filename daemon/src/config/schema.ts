/**
 * The validated, normalized configuration. Nothing downstream of `config/` sees raw YAML:
 * every field here has its default filled in and every CIDR is parsed and canonical.
 *
 * The type is derived from the settings registry (registry.ts): one field per setting, the
 * keys `section.name` grouped under `section`, plus the fields computed from settings.
 */
import type { Cidr } from '../net/cidr.js';
import type { SECTIONS, SETTINGS } from './registry.js';
import type { Setting } from './setting.js';

export type { MetricsListen, PortRange } from './values.js';

/** `masqLinkLocal`, `flannel.subnetEnv`, …: every key of the registry. */
export type SettingKey = keyof typeof SETTINGS;

/** The value type of a setting. */
export type SettingValue<K extends SettingKey> =
  (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;

type TopLevelKey = Exclude<SettingKey, `${string}.${string}`>;
export type SectionName = keyof typeof SECTIONS;

/** The settings of one section, by their name inside it. */
type SectionValues<S extends string> = {
  [K in SettingKey as K extends `${S}.${infer Name}` ? Name : never]: SettingValue<K>;
};

/** Every registry key under a declared section: `nosuch.key` is a type error here. */
type UndeclaredSection = SettingKey extends infer K
  ? K extends `${infer S}.${string}`
    ? S extends SectionName
      ? never
      : S
    : never
  : never;
const noUndeclaredSection: [UndeclaredSection] extends [never] ? true : UndeclaredSection = true;
void noUndeclaredSection;

/** Fields computed from settings when a config is loaded. */
export interface DerivedFields {
  /** `nonMasqueradeCIDRs` parsed, per family, duplicates/contained/overlapping prefixes collapsed. */
  collapsed: { ipv4: Cidr[]; ipv6: Cidr[] };
  /** `resyncInterval` in milliseconds (> 0). */
  resyncIntervalMs: number;
}

export type Config = { [K in TopLevelKey]: SettingValue<K> } & {
  [S in SectionName]: SectionValues<S>;
} & DerivedFields;

export type FlannelConfig = Config['flannel'];
export type MetricsConfig = Config['metrics'];
