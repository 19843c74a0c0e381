/**
 * The I/O half of subnet-env.ts: reads flanneld's lease file and resolves the facts.
 * A missing file is normal (flannel not installed yet, or not used): null facts, no problem.
 * Any other failure to read it (a FIFO, a directory, a 20 MB file, no permission) is bounded
 * (fs/read-bounded.ts) and makes its facts unknown: the families it would have described are
 * rejected for this pass, so the rest of the policy still applies and flannel's rules stay.
 */
import { READ_CAPS, readBounded } from '../fs/read-bounded.js';
import type { FlannelConfig } from '../config/schema.js';
import type { IpFamily } from '../net/cidr.js';
import { resolveFlannelFacts, type FlannelFacts } from './subnet-env.js';

export interface ReadFacts {
  facts: FlannelFacts | null;
  /** Problems that do not change what is applied (a malformed FLANNEL_MTU line, …). */
  problems: string[];
  /** Why facts were rejected, one line each naming the file and line: logged at error level. */
  rejected: string[];
}

export const readSubnetEnv = (path: string): Promise<string> =>
  readBounded(path, { maxBytes: READ_CAPS.subnetEnv });

/** Reads `cfg.subnetEnv` (ENOENT → treated as absent; other errors → rejected) and resolves. */
export async function readFlannelFacts(
  cfg: Pick<FlannelConfig, 'subnetEnv' | 'clusterCIDR' | 'nodeSubnet'>,
  read: (path: string) => Promise<string> = readSubnetEnv,
): Promise<ReadFacts> {
  let envFile: { text: string; path: string } | null = null;
  let unreadable: string | null = null;
  try {
    envFile = { text: await read(cfg.subnetEnv), path: cfg.subnetEnv };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      const why = (e as Error).message;
      unreadable = `cannot read flannel's lease file ${cfg.subnetEnv}: ${why.includes(cfg.subnetEnv) ? why.replace(`${cfg.subnetEnv} `, '') : why}`;
    }
  }
  const resolved = resolveFlannelFacts(cfg, envFile);
  let facts = resolved.facts;
  if (unreadable !== null) {
    // Whatever the file would have said is unknown: every family not fully given by the
    // config's overrides is held.
    facts ??= { ipMasq: null, source: cfg.subnetEnv };
    const held: Partial<Record<IpFamily, string>> = { ...facts.rejected };
    for (const family of ['ipv4', 'ipv6'] as const) {
      if (!facts[family] && !held[family]) held[family] = unreadable;
    }
    facts.rejected = held;
  }
  const rejected = Object.values(facts?.rejected ?? {}).filter(
    (r, i, all): r is string => r !== undefined && all.indexOf(r) === i,
  );
  return { facts, problems: resolved.problems, rejected };
}
