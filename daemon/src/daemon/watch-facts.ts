/**
 * The daemon's watch on flannel's lease file (`flannel.subnetEnv`, /run/flannel/subnet.env):
 * the pod-network exclusions come from it, so a node that boots with ip-masq before flanneld
 * must pick it up when it is written, not at the next resync (until then cross-node pod-to-pod
 * traffic is masqueraded when nonMasqueradeCIDRs does not cover the pod network).
 *
 * The same machinery as the config watch (watch.ts): inotify on the file's directory, falling
 * back to the nearest existing ancestor while /run/flannel does not exist (tmpfs, created by
 * flanneld itself), so a late directory, a rename into place (flanneld writes `.subnet.env` and
 * renames it), a rewrite or a deletion are all seen. Events about other entries of the
 * directory are ignored: only the lease file's name (or the directory coming or going) counts.
 *
 * The path comes from the enforced config, so it is known only once a config is chosen;
 * `follow(path)` is called by the controller right before each reconcile reads the facts
 * (controller.ts `beforeReconcile`), so the watch is armed before that read and a write after
 * it is never missed — no extra pass is needed when the path first becomes known or changes.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { watchConfigDir, type ConfigWatcher } from './watch.js';

export interface FactsWatcherOptions {
  /** The lease file changed (written, renamed into place, deleted) or its directory came/went. */
  onChange: (event: string, path: string) => void;
  onError?: (error: Error) => void;
}

export class FactsWatcher {
  private path: string | null = null;
  private watcher: ConfigWatcher | null = null;
  private closed = false;

  constructor(private readonly options: FactsWatcherOptions) {}

  /** The file being watched, null before the first `follow`. */
  get watching(): string | null {
    return this.path;
  }

  /** Watches `path` from now on (a no-op when it already does). */
  follow(path: string): void {
    const p = resolve(path);
    if (this.closed || p === this.path) return;
    this.watcher?.close();
    this.path = p;
    const dir = dirname(p);
    const name = basename(p);
    this.watcher = watchConfigDir({
      path: p,
      onChange: (event, changed) => {
        // The directory itself (appeared, or an event without a name) or the lease file.
        if (changed === dir || basename(changed) === name) this.options.onChange(event, changed);
      },
      ...(this.options.onError ? { onError: this.options.onError } : {}),
    });
  }

  /** Re-arms when the directory came, went or was replaced unnoticed (after every pass). */
  recheck(): void {
    this.watcher?.recheck();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
  }
}

/**
 * READY while flannel's facts are missing: READY=1 is sent after the first verified apply even
 * when subnet.env does not exist yet. Waiting for it would deadlock a booting node: the unit is
 * ordered Before=kubelet.service and flanneld runs as a pod that kubelet starts, so subnet.env
 * can only appear after READY. What is missing is said in STATUS= (this note) instead, and the
 * pod-network exclusions follow within milliseconds of flanneld writing the file.
 */
export function factsNote(config: Config): string | null {
  if (config.flannel.clusterCIDR.length > 0) return null;
  const path = config.flannel.subnetEnv;
  return existsSync(path)
    ? null
    : `no ${path} yet: no pod-network exclusions until flanneld writes it (watched)`;
}
