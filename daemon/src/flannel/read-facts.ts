/**
 * The I/O half of subnet-env.ts: reads flanneld's lease file and resolves the facts.
 * A missing file is normal (flannel not installed yet, or not used): null facts, no problem.
 */
import { readFile } from 'node:fs/promises';
import type { FlannelConfig } from '../config/schema.js';
import { resolveFlannelFacts, type FlannelFacts } from './subnet-env.js';

/** Reads `cfg.subnetEnv` (ENOENT → treated as absent; other errors → a problem) and resolves. */
export async function readFlannelFacts(
  cfg: Pick<FlannelConfig, 'subnetEnv' | 'clusterCIDR' | 'nodeSubnet'>,
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): Promise<{ facts: FlannelFacts | null; problems: string[] }> {
  let envFile: { text: string; path: string } | null = null;
  const problems: string[] = [];
  try {
    envFile = { text: await read(cfg.subnetEnv), path: cfg.subnetEnv };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      problems.push(`${cfg.subnetEnv}: cannot read flannel's lease file: ${(e as Error).message}`);
    }
  }
  const resolved = resolveFlannelFacts(cfg, envFile);
  return { facts: resolved.facts, problems: [...problems, ...resolved.problems] };
}
