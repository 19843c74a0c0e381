/**
 * "Hold the line": flanneld in iptables mode with `--ip-masq` re-creates all its rules every
 * `--iptables-resync` seconds (default 5) once one is missing, so the daemon deletes them again
 * and again. This tracker turns that stream of removals into one warning per episode (not one
 * every 5 s) and the counters `status` shows. Pure: the caller passes the clock.
 */

/** How long without a re-add ends an episode (flannel's resync period is 5 s by default). */
export const DEFAULT_EPISODE_QUIET_MS = 120_000;

/** The fix, spelled out in every warning. */
export const FLANNEL_MASQ_FIX =
  'run flanneld without --ip-masq (kube-flannel.yml: remove "--ip-masq" from the kube-flannel container args) and set "ipMasq": false in the CNI delegate of /etc/cni/net.d/10-flannel.conflist (without it the bridge plugin masquerades every new pod)';

export interface ReaddSnapshot {
  /** Removal passes after the first one that found flannel MASQUERADE rules again. */
  readds: number;
  /** Rules deleted in those passes. */
  readdRules: number;
  /** Re-add episodes so far (each warned once). */
  episodes: number;
  episodeActive: boolean;
  /** Epoch ms of the last re-add, or null. */
  lastReaddAt: number | null;
  /** Rules deleted by the first pass (leftovers from before ip-masq ran). */
  leftoverRules: number;
}

export interface ReaddVerdict {
  /** true for a pass that deleted rules after the first pass. */
  readd: boolean;
  /** Set once per episode: the warning to log. */
  warning: string | null;
}

/**
 * Feed it every removal pass (`record(deletedCount, now)`), including passes that deleted
 * nothing: the first pass only cleans leftovers (never a warning), later passes that delete
 * anything are re-adds. An episode starts at a re-add and ends after `quietMs` without one.
 */
export class FlannelReaddTracker {
  private readonly quietMs: number;
  private firstPassDone = false;
  private state: ReaddSnapshot = {
    readds: 0,
    readdRules: 0,
    episodes: 0,
    episodeActive: false,
    lastReaddAt: null,
    leftoverRules: 0,
  };

  constructor(options: { quietMs?: number } = {}) {
    this.quietMs = options.quietMs ?? DEFAULT_EPISODE_QUIET_MS;
  }

  record(deleted: number, now: number): ReaddVerdict {
    if (!this.firstPassDone) {
      this.firstPassDone = true;
      this.state.leftoverRules += deleted;
      return { readd: false, warning: null };
    }
    this.expire(now);
    if (deleted === 0) return { readd: false, warning: null };
    this.state.readds++;
    this.state.readdRules += deleted;
    this.state.lastReaddAt = now;
    if (this.state.episodeActive) return { readd: true, warning: null };
    this.state.episodeActive = true;
    this.state.episodes++;
    return {
      readd: true,
      warning: `flannel re-added ${deleted} MASQUERADE rule${deleted === 1 ? '' : 's'} after ip-masq removed them (flanneld runs with --ip-masq and re-creates its rules every few seconds; ip-masq keeps deleting them, but new flows may be masqueraded in between). Fix: ${FLANNEL_MASQ_FIX}. This warning repeats only after ${Math.round(this.quietMs / 1000)} s without a re-add.`,
    };
  }

  /** Counters for `status`; `now` ends a quiet episode. */
  snapshot(now: number): ReaddSnapshot {
    this.expire(now);
    return { ...this.state };
  }

  private expire(now: number): void {
    if (
      this.state.episodeActive &&
      this.state.lastReaddAt !== null &&
      now - this.state.lastReaddAt >= this.quietMs
    ) {
      this.state.episodeActive = false;
    }
  }
}
