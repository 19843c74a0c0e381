/** Where each entry of the policy keys came from, for `explain` (see plan/explain-keys.ts). */
import type { LoadedConfigTree } from '../config/tree.js';
import { parseCidr, type Cidr } from '../net/cidr.js';
import type { Placed, PolicySources } from '../plan/explain-keys.js';

type Sources = Pick<LoadedConfigTree, 'config' | 'cidrSources' | 'settingSources' | 'listSources'>;

export function policySources(loaded: Sources): PolicySources {
  const { config, settingSources } = loaded;
  const keyAt = (key: string): string | null => {
    const s = settingSources.get(key);
    return s ? `${s.file}:${s.line}` : null;
  };
  const nonMasqueradeCIDRs: Placed<Cidr>[] = [];
  for (const s of loaded.cidrSources()) {
    const parsed = parseCidr(s.cidr);
    if (parsed.ok)
      nonMasqueradeCIDRs.push({
        value: parsed.cidr,
        where: s.file === null ? null : `${s.file}:${s.line}`,
      });
  }
  const placed = <T>(
    key: 'masqueradeCIDRs' | 'sourceCIDRs' | 'outputInterfaces',
    values: readonly T[],
  ): Placed<T>[] => {
    const places = loaded.listSources(key);
    return values.map((value, i) => {
      const p = places[i];
      return { value, where: p ? `${p.file}:${p.line}` : null };
    });
  };
  return {
    nonMasqueradeCIDRs,
    masqueradeCIDRs: placed('masqueradeCIDRs', config.masqueradeCIDRs),
    sourceCIDRs: placed('sourceCIDRs', config.sourceCIDRs),
    outputInterfaces: placed('outputInterfaces', config.outputInterfaces),
    snatAddress: keyAt('snatAddress'),
    snatAddressIPv6: keyAt('snatAddressIPv6'),
  };
}
