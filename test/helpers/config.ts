/** Builds Config values for tests: from YAML text through the production path, or directly. */
import { mergeConfigFiles } from '../../daemon/src/config/merge.js';
import { defaultConfig } from '../../daemon/src/config/settings.js';
import type { Config } from '../../daemon/src/config/schema.js';
import { collapseCidrs, parseCidr, type Cidr } from '../../daemon/src/net/cidr.js';

export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
}

/**
 * One file's text → Config, exactly as the loader parses and merges it (a single file is a
 * merge of one). `fastPath: false` takes the plain YAML path for a big list. Throws ConfigError.
 */
export function parseConfigText(
  text: string,
  file: string,
  options: { fastPath: boolean } = { fastPath: true },
): Config {
  return mergeConfigFiles([{ path: file, text }], options).config;
}

/** ip-masq-agent's defaults (the loader's own), with `overrides`; `collapsed` follows the list. */
export function makeConfig(overrides: Partial<Omit<Config, 'collapsed'>> = {}): Config {
  const base = defaultConfig();
  const nonMasqueradeCIDRs = overrides.nonMasqueradeCIDRs ?? base.nonMasqueradeCIDRs;
  return {
    ...base,
    ...overrides,
    nonMasqueradeCIDRs,
    collapsed: collapseCidrs(nonMasqueradeCIDRs.map(cidr)),
  };
}
