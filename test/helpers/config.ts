/** Builds Config values for tests of the pure core without going through YAML. */
import { defaultConfig } from '../../daemon/src/config/parse.js';
import type { Config } from '../../daemon/src/config/schema.js';
import { collapseCidrs, parseCidr, type Cidr } from '../../daemon/src/net/cidr.js';

export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
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
