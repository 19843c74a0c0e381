/**
 * What the running daemon knows that `ip-masq status` (a separate process) cannot read from
 * the kernel: how often flannel re-added its MASQUERADE rules. Written to the state directory
 * atomically (temp file + rename) when it changes, read by `status`.
 */
import { join } from 'node:path';
import { READ_CAPS, readBounded } from '../fs/read-bounded.js';
import { writeFileAtomic } from '../fs/write-atomic.js';
import type { ReaddSnapshot } from '../flannel/episodes.js';

export const RUNTIME_STATUS_FILE = 'status.json';

export interface RuntimeStatus {
  pid: number;
  /** ISO time of the last change of these counters. */
  updatedAt: string;
  flannel: ReaddSnapshot;
}

export async function writeRuntimeStatus(dir: string, status: RuntimeStatus): Promise<void> {
  await writeFileAtomic(join(dir, RUNTIME_STATUS_FILE), `${JSON.stringify(status)}\n`, {
    mode: 0o644,
  });
}

/** The daemon's last written status, or null when there is none (daemon never ran, or not readable). */
export async function readRuntimeStatus(dir: string): Promise<RuntimeStatus | null> {
  try {
    return JSON.parse(
      await readBounded(join(dir, RUNTIME_STATUS_FILE), { maxBytes: READ_CAPS.state }),
    ) as RuntimeStatus;
  } catch {
    return null;
  }
}

/** Writes the snapshot only when it differs from the last one written (a pass is usually a no-op). */
export function runtimeStatusWriter(
  dir: string,
  snapshot: () => ReaddSnapshot,
): () => Promise<void> {
  let last = '';
  return async () => {
    const flannel = snapshot();
    const key = JSON.stringify(flannel);
    if (key === last) return;
    await writeRuntimeStatus(dir, {
      pid: process.pid,
      updatedAt: new Date().toISOString(),
      flannel,
    });
    last = key;
  };
}
