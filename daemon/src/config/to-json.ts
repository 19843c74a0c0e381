/**
 * Config → plain JSON, for `ip-masq check --json` (and tests that compare configs). Pure.
 * Derived from the registry: every setting in registry order, in its section, as its `json`
 * view; fields computed from a setting follow it.
 */
import { formatCidr } from '../net/cidr.js';
import type { Config, SettingKey } from './schema.js';
import { declarationOf, getSetting, SETTING_KEYS } from './settings.js';

/** Computed fields shown right after the setting they come from. */
const SHOWN_AFTER: Partial<Record<SettingKey, (config: Config) => Record<string, unknown>>> = {
  nonMasqueradeCIDRs: (config) => ({
    collapsed: {
      ipv4: config.collapsed.ipv4.map(formatCidr),
      ipv6: config.collapsed.ipv6.map(formatCidr),
    },
  }),
};

/** The effective configuration as plain JSON, for `ip-masq check --json`. */
export function configToJson(config: Config): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const declaration = declarationOf(key);
    const value = getSetting(config, key);
    const view = declaration.json ? declaration.json(value) : value;
    const dot = key.indexOf('.');
    if (dot === -1) json[key] = view;
    else {
      const section = key.slice(0, dot);
      const holder = (json[section] ??= {}) as Record<string, unknown>;
      holder[key.slice(dot + 1)] = view;
    }
    Object.assign(json, SHOWN_AFTER[key]?.(config));
  }
  return json;
}
