/**
 * The daemon's metrics: what happened in each reconcile pass, as Prometheus counters, gauges
 * and a histogram. Pure state plus `render()`; the daemon feeds it through instrument.ts, and
 * textfile.ts / server.ts publish the text.
 *
 * A pass counts once in `ip_masq_reconciles_total` (unless it neither reconciled nor found the
 * config invalid: a re-check during the vanish grace, a file event that changed nothing), by
 * the first that applies of:
 *   error          reconcile failed (nft missing/failing, or the read-back did not verify);
 *   invalid_config the config files are invalid (the last good config was enforced, if any);
 *   changed        a transaction replaced our tables or flannel rules were deleted;
 *   unchanged      the kernel already matched.
 * `ip_masq_last_success_timestamp_seconds` moves on changed/unchanged only: an alert on its age
 * catches both a failing nft and a config that has been invalid for too long.
 */
import type { Config } from '../config/schema.js';
import { isIpMasqError } from '../errors.js';
import { renderExposition, type MetricFamily } from './exposition.js';
import { processFamilies, realProcessProbe, type ProcessProbe } from './process.js';

export const RESULTS = ['changed', 'unchanged', 'error', 'invalid_config'] as const;
export type PassResult = (typeof RESULTS)[number];

/** `ip_masq_nft_errors_total{kind}`: IpMasqError codes, lower-cased, without the NFT_ prefix. */
export const NFT_ERROR_KINDS = [
  'not_found',
  'no_json',
  'permission',
  'failed',
  'verify_failed',
  'other',
] as const;
export type NftErrorKind = (typeof NFT_ERROR_KINDS)[number];

/** Seconds. Passes take milliseconds; a 100,000-entry first apply takes around a second. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Why a reconcile failed, as a metric label. */
export function nftErrorKind(e: unknown): NftErrorKind {
  if (!isIpMasqError(e)) return 'other';
  switch (e.code) {
    case 'NFT_NOT_FOUND':
      return 'not_found';
    case 'NFT_NO_JSON':
      return 'no_json';
    case 'NFT_PERMISSION':
      return 'permission';
    case 'NFT_FAILED':
      return 'failed';
    case 'VERIFY_FAILED':
      return 'verify_failed';
    default:
      return 'other';
  }
}

/** What one reconcile reported (the part of reconcile/reconcile.ts's result the metrics use). */
export interface ReconcileFacts {
  changed: boolean;
  flannelDeleted: number;
  /** The kernel had drifted from what the previous successful pass left (not a config change). */
  drift: boolean;
}

export class DaemonMetrics {
  private readonly reconciles = new Map<PassResult, number>(RESULTS.map((r) => [r, 0]));
  private readonly nftErrors = new Map<NftErrorKind, number>(NFT_ERROR_KINDS.map((k) => [k, 0]));
  private lastSuccess = 0;
  private configValid: number | null = null;
  private cidrs: { configured: number; collapsed: number } | null = null;
  private flannelRemoved = 0;
  private flannelEpisodes = 0;
  private driftRepairs = 0;
  private readonly bucketCounts = DURATION_BUCKETS.map(() => 0);
  private durationSum = 0;
  private durationCount = 0;

  /** This pass so far. */
  private pass: { invalid: boolean; reconciled: 'ok' | 'error' | null; changed: boolean } = {
    invalid: false,
    reconciled: null,
    changed: false,
  };

  constructor(
    private readonly now: () => number = Date.now,
    private readonly process: ProcessProbe = realProcessProbe(),
  ) {}

  /** The config files were read: valid or not. */
  configLoaded(valid: boolean): void {
    this.configValid = valid ? 1 : 0;
    if (!valid) this.pass.invalid = true;
  }

  /** A reconcile of `config` (the enforced one) finished. */
  reconciled(config: Config, facts: ReconcileFacts, durationMs: number): void {
    this.observe(durationMs);
    this.cidrs = {
      configured: config.nonMasqueradeCIDRs.length,
      collapsed: config.collapsed.ipv4.length + config.collapsed.ipv6.length,
    };
    this.flannelRemoved += facts.flannelDeleted;
    if (facts.drift) this.driftRepairs++;
    this.pass.reconciled = 'ok';
    this.pass.changed = facts.changed || facts.flannelDeleted > 0;
  }

  /** A reconcile threw. */
  reconcileFailed(error: unknown, durationMs: number): void {
    this.observe(durationMs);
    const kind = nftErrorKind(error);
    this.nftErrors.set(kind, (this.nftErrors.get(kind) ?? 0) + 1);
    this.pass.reconciled = 'error';
  }

  /** flannel re-added its rules again after a quiet period (one warning per episode). */
  flannelEpisode(): void {
    this.flannelEpisodes++;
  }

  /**
   * Ends the pass: counts its result. A pass that neither loaded an invalid config nor
   * reconciled (a re-check during the vanish grace) counts nothing. Returns the result.
   */
  passDone(): PassResult | null {
    const p = this.pass;
    this.pass = { invalid: false, reconciled: null, changed: false };
    let result: PassResult | null;
    if (p.reconciled === 'error') result = 'error';
    else if (p.invalid) result = 'invalid_config';
    else if (p.reconciled === 'ok') result = p.changed ? 'changed' : 'unchanged';
    else result = null;
    if (result === null) return null;
    this.reconciles.set(result, (this.reconciles.get(result) ?? 0) + 1);
    if (result === 'changed' || result === 'unchanged') this.lastSuccess = this.now() / 1000;
    return result;
  }

  private observe(durationMs: number): void {
    const seconds = durationMs / 1000;
    this.durationSum += seconds;
    this.durationCount++;
    DURATION_BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.bucketCounts[i] = (this.bucketCounts[i] ?? 0) + 1;
    });
  }

  families(): MetricFamily[] {
    const families: MetricFamily[] = [
      {
        name: 'ip_masq_reconciles_total',
        help: 'Reconcile passes by result: changed (rules or flannel rules rewritten), unchanged, error (nft failed), invalid_config (config files invalid; the last good config is enforced).',
        type: 'counter',
        samples: RESULTS.map((r) => ({
          labels: { result: r },
          value: this.reconciles.get(r) ?? 0,
        })),
      },
      {
        name: 'ip_masq_last_success_timestamp_seconds',
        help: 'Unix time of the last pass that left the kernel matching a valid config (0: none yet).',
        type: 'gauge',
        samples: [{ value: Math.round(this.lastSuccess * 1000) / 1000 }],
      },
    ];
    if (this.configValid !== null) {
      families.push({
        name: 'ip_masq_config_valid',
        help: 'Whether the config files were valid at the last pass (1) or not (0).',
        type: 'gauge',
        samples: [{ value: this.configValid }],
      });
    }
    if (this.cidrs !== null) {
      families.push({
        name: 'ip_masq_nonmasquerade_cidrs',
        help: 'nonMasqueradeCIDRs of the enforced config: as configured (all files), and after collapsing (the nft set elements).',
        type: 'gauge',
        samples: [
          { labels: { stage: 'configured' }, value: this.cidrs.configured },
          { labels: { stage: 'collapsed' }, value: this.cidrs.collapsed },
        ],
      });
    }
    families.push(
      {
        name: 'ip_masq_flannel_rules_removed_total',
        help: 'flannel MASQUERADE rules deleted.',
        type: 'counter',
        samples: [{ value: this.flannelRemoved }],
      },
      {
        name: 'ip_masq_flannel_readd_episodes_total',
        help: 'Times flannel started re-adding its MASQUERADE rules after ip-masq removed them (flanneld runs with --ip-masq).',
        type: 'counter',
        samples: [{ value: this.flannelEpisodes }],
      },
      {
        name: 'ip_masq_drift_repairs_total',
        help: 'Passes that rewrote our tables although the config was unchanged (someone else changed or deleted them).',
        type: 'counter',
        samples: [{ value: this.driftRepairs }],
      },
      {
        name: 'ip_masq_reconcile_duration_seconds',
        help: 'Duration of reconciles (read, plan, compare, apply and verify when needed).',
        type: 'histogram',
        buckets: DURATION_BUCKETS,
        cumulative: this.bucketCounts,
        // Microseconds are plenty; it keeps float noise (0.08478806399999997) out of the text.
        sum: Math.round(this.durationSum * 1e6) / 1e6,
        count: this.durationCount,
      },
      {
        name: 'ip_masq_nft_errors_total',
        help: 'Failed reconciles by kind: not_found (no nft binary), no_json, permission, failed (nft rejected the batch), verify_failed (read-back differs), other.',
        type: 'counter',
        samples: NFT_ERROR_KINDS.map((k) => ({
          labels: { kind: k },
          value: this.nftErrors.get(k) ?? 0,
        })),
      },
    );
    return families;
  }

  render(): string {
    return renderExposition([...processFamilies(this.process), ...this.families()]);
  }
}
