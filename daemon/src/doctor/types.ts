/**
 * The vocabulary of `ip-masq doctor` (doctor.ts runs the checks; doctor-node.ts holds those
 * about the node's other masquerading agents and our own table and unit): a check's result,
 * the report, the injected I/O.
 */
import type { LegacyDeps } from '../flannel/legacy.js';
import type { NftBackend } from '../nft/backend.js';

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface DoctorCheck {
  /** Stable id for scripts, e.g. "flannel-ipmasq". */
  id: string;
  status: CheckStatus;
  /** What was found, one line. */
  message: string;
  /** What to do about it (absent on PASS). */
  fix?: string;
}

export interface DoctorReport {
  checks: DoctorCheck[];
  /** true when any check FAILed (the exit code says so). */
  failed: boolean;
}

export interface DoctorDeps {
  /** Prefix for every host path (/etc/cni/net.d, systemd units, /proc); "/" on a real node. */
  root: string;
  readFile(path: string): Promise<string>;
  readDir(path: string): Promise<string[]>;
  nft: NftBackend;
  /** Runs iptables-legacy-save etc.; readFile/procRoot are derived from the fields above. */
  legacyExec?: LegacyDeps['exec'];
  /** Does the live ip-masq table match the config? null: cannot tell (e.g. config invalid). */
  ourTableMatches(): Promise<boolean | null>;
}

export const isEnoent = (e: unknown): boolean =>
  ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

/** A host file that may be absent: its text, or null. */
export async function readOptional(deps: DoctorDeps, path: string): Promise<string | null> {
  try {
    return await deps.readFile(path);
  } catch (e) {
    if (isEnoent(e)) return null;
    throw e;
  }
}
