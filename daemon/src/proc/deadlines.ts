/**
 * How long ip-masq waits for each kind of child process before it kills the child's process
 * group (./run-bounded.ts) and reports a timeout. Chosen from measurement (docs/BENCHMARKS.md):
 * on a 2-vCPU VM `nft -j list table` of a 100,000-element set takes ~2 s and `nft -j -f` of
 * it 1.6–6.1 s; everything else returns in milliseconds. The bounds leave 3–10× headroom for a
 * loaded node, and are documented in docs/ARCHITECTURE.md and ip-masq(8).
 */

/** nft reads: `--version`, `-j list …`. */
export const NFT_READ_MS = 20_000;

/** nft writes: a base plus time per MiB of JSON batch (a 100,000-CIDR batch is ~4 MiB). */
export const NFT_WRITE_BASE_MS = 20_000;
export const NFT_WRITE_PER_MIB_MS = 10_000;

export function nftWriteDeadlineMs(batchBytes: number): number {
  // Whole seconds, so messages read "within 21 s".
  const perSize = Math.ceil((batchBytes / (1024 * 1024)) * (NFT_WRITE_PER_MIB_MS / 1000)) * 1000;
  return NFT_WRITE_BASE_MS + perSize;
}

/** iptables-save / iptables-nft-save / iptables-legacy-save of the nat table. */
export const IPTABLES_SAVE_MS = 20_000;

/** One `iptables-legacy -D …`. */
export const IPTABLES_DELETE_MS = 10_000;

/** One systemd-notify (it waits until PID 1 has read the message). */
export const SYSTEMD_NOTIFY_MS = 10_000;

/**
 * A reconcile pass only ever waits on children bounded above (a handful per pass), so a pass
 * busy for longer than this is stuck in our own code: the daemon stops its watchdog pings and
 * systemd restarts it. Longer than any legitimate pass, shorter than forever.
 */
export const PASS_STUCK_MS = 180_000;
