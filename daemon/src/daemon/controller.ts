/**
 * What one pass of `ip-masq run` does, and the daemon's memory between passes:
 *
 *   load the config file ─ valid ──────────────▶ enforce it, remember it as "last good", persist it
 *                        ─ invalid/unreadable ─▶ keep enforcing the last good config (in memory,
 *                                                else the persisted copy); with none, wait
 *   reconcile(enforced) ─ ok ─▶ audit event if something changed, READY/STATUS
 *                       ─ nft failed ─▶ backoff (250 ms … 30 s), STATUS says why, rules stay
 *
 * The enforced config is reconciled on every pass, even while the file is invalid: drift (a
 * `flush ruleset`) is healed from the last good config rather than left until the file is fixed.
 */
import type { Config } from '../config/schema.js';
import type { LoadedConfig } from '../config/tree.js';
import type { ReconcileResult } from '../reconcile/reconcile.js';
import { ConfigError, formatConfigIssue, isIpMasqError, NftError } from '../errors.js';
import { Backoff } from '../util/backoff.js';
import { FightGuard } from './fight-guard.js';
import { LastGoodConfig, type Enforced, type LastGoodDeps } from './last-good.js';
import { RepeatLimiter } from './log.js';
import type { Trigger, PassOutcome } from './loop.js';
import type { Notifier } from './notify.js';

/** What the daemon reports of a reconcile pass: all of it but the plan. */
export type ReconcileSummary = Omit<ReconcileResult, 'plan'>;

/** parse, defaults, state and log: see LastGoodDeps. */
export interface ControllerDeps extends Omit<LastGoodDeps, 'now'> {
  configPath: string;
  /** Reads and validates the config file (throws ConfigError). */
  load: (path: string) => Promise<LoadedConfig>;
  /** One reconcile of the kernel towards `config` (throws NftError/IpMasqError). */
  reconcile: (config: Config) => Promise<ReconcileSummary>;
  /**
   * Called with the config about to be reconciled, before reconcile reads flannel's facts: the
   * daemon points its subnet.env watch there (watch-facts.ts), so no write after the read is
   * missed.
   */
  beforeReconcile?: (config: Config) => void;
  /** A note for STATUS= about facts still missing (e.g. no subnet.env yet), or null. */
  factsNote?: (config: Config) => string | null;
  notify: Notifier;
  /** Backoff for nft failures; default 250 ms doubling to 30 s. */
  backoff?: Backoff;
  /**
   * A file that vanishes or becomes empty while the last good config came from a non-empty
   * file is re-checked after this long before the defaults replace it: delete-and-recreate
   * and truncate-then-write must not flap the node to the defaults. Default 150 ms.
   */
  vanishGraceMs?: number;
  /** Turns repeated flannel re-adds into one warning per episode (flannel/episodes.ts). */
  flannelReadds?: { record(deleted: number, now: number): { warning: string | null } };
  /** Where a pass deleted flannel rules: flanneld re-adds them there (daemon/flannel-poll.ts). */
  onFlannelDeleted?: (deleted: ReconcileResult['flannelDeleted']) => void;
  /** Consecutive monitor-triggered passes that each had to rewrite our table before we slow down. */
  fightThreshold?: number;
  now?: () => number;
}

/** Default resync when no config has been enforced yet (ip-masq-agent's 60 s). */
const DEFAULT_RESYNC_MS = 60_000;

export class DaemonController {
  private enforced: Enforced | null = null;
  private readonly lastGood: LastGoodConfig;
  private generationCount = 0;
  private readySent = false;
  private configIssue: string | null = null;
  private nftProblem: string | null = null;
  private vanishedSince: number | null = null;
  private readonly fight: FightGuard;
  private readonly backoff: Backoff;
  private readonly limiter: RepeatLimiter;
  private readonly now: () => number;
  private lastStatus = '';

  constructor(private readonly deps: ControllerDeps) {
    this.backoff = deps.backoff ?? new Backoff();
    this.fight = new FightGuard(deps.fightThreshold);
    this.now = deps.now ?? Date.now;
    this.lastGood = new LastGoodConfig({ ...deps, now: this.now });
    this.limiter = new RepeatLimiter(60_000, this.now);
  }

  /** Applies that changed something since start. */
  get generation(): number {
    return this.generationCount;
  }

  /** The resync interval of the enforced config. */
  get resyncIntervalMs(): number {
    return this.enforced?.config.resyncIntervalMs ?? DEFAULT_RESYNC_MS;
  }

  /** The last STATUS= text. */
  get status(): string {
    return this.lastStatus;
  }

  /** Why the config file is not being applied (first issue), null when it is. */
  get configProblem(): string | null {
    return this.configIssue;
  }

  get ready(): boolean {
    return this.readySent;
  }

  /** One pass; never throws (failures come back as a retry delay). */
  async pass(triggers: Trigger[]): Promise<PassOutcome> {
    const target = await this.chooseConfig();
    if (target.kind === 'wait') {
      this.setStatus(
        `waiting for a valid config: ${this.configIssue ?? 'none yet'}; no rules applied`,
        true,
      );
      return {};
    }
    if (target.kind === 'recheck' && !this.enforced) return { retryAfterMs: target.afterMs };

    const enforced = target.kind === 'apply' ? target.enforced : this.enforced!;
    if (target.kind === 'apply' && this.unchangedFileEvent(triggers, target.enforced)) {
      // An editor's swap or temp file, a touch, a rewrite with the same bytes: the kernel has
      // nothing to learn from it (drift has its own triggers), and skipping the nft round trip
      // keeps the loop free for the edit that follows (e.g. the rename after a temp write).
      this.setStatus(this.describe(), true);
      return {};
    }
    let result: ReconcileSummary;
    try {
      this.deps.beforeReconcile?.(enforced.config);
      result = await this.deps.reconcile(enforced.config);
    } catch (e) {
      return this.nftFailed(e);
    }
    this.backoff.reset();
    if (this.nftProblem !== null) {
      this.deps.log.info(
        { event: 'nft-recovered', previous: this.nftProblem },
        'nft works again; rules reconciled',
      );
      this.nftProblem = null;
      this.limiter.reset();
    }

    const changed = result.changed || result.flannelDeleted.length > 0;
    if (changed) {
      this.generationCount++;
      this.deps.log.info(
        {
          event: 'applied',
          trigger: triggers[0],
          triggers,
          generation: this.generationCount,
          reason: result.reason,
          source: enforced.origin === 'absent' ? 'defaults (no config file)' : enforced.source,
          cidrsAdded: result.cidrsAdded,
          cidrsRemoved: result.cidrsRemoved,
          flannelRulesDeleted: result.flannelDeleted.map((r) => ({
            chain: r.chain,
            rule: r.iptables,
            comment: r.comment ?? null,
          })),
          transactions: result.transactions,
          durationMs: Math.round(result.durationMs * 10) / 10,
        },
        'applied ruleset',
      );
    }
    if (result.flannelDeleted.length > 0) this.deps.onFlannelDeleted?.(result.flannelDeleted);
    const readd = this.deps.flannelReadds?.record(result.flannelDeleted.length, this.now());
    if (readd?.warning)
      this.deps.log.warn({ flannelRulesDeleted: result.flannelDeleted.length }, readd.warning);
    for (const w of result.warnings) this.limited('warn', `warning:${w}`, { problem: w }, w);
    for (const e of result.errors ?? [])
      this.limited(
        'error',
        `rejected:${e}`,
        { problem: e, code: 'FLANNEL_FACTS_REJECTED' },
        `${e}; flannel's rules of that family are left in place and no pod-network rule is built from it`,
      );

    if (target.kind === 'apply') {
      this.enforced = target.enforced;
      await this.persist(target.enforced);
    }

    const slowDown = this.fightGuard(triggers, result.changed);
    this.setStatus(this.describe(), true);
    if (target.kind === 'recheck') return { retryAfterMs: target.afterMs };
    return slowDown;
  }

  private unchangedFileEvent(triggers: Trigger[], candidate: Enforced): boolean {
    const e = this.enforced;
    return (
      triggers.every((t) => t === 'file') &&
      e !== null &&
      this.nftProblem === null &&
      e.origin === candidate.origin &&
      e.source === candidate.source &&
      e.text === candidate.text
    );
  }

  /** Decides what to enforce this pass. */
  private async chooseConfig(): Promise<
    | { kind: 'apply'; enforced: Enforced }
    | { kind: 'keep' }
    | { kind: 'recheck'; afterMs: number }
    | { kind: 'wait' }
  > {
    let loaded: LoadedConfig;
    try {
      loaded = await this.deps.load(this.deps.configPath);
    } catch (e) {
      this.vanishedSince = null;
      this.reportInvalid(e);
      if (this.enforced) return { kind: 'keep' };
      const persisted = await this.lastGood.candidate();
      if (persisted) return { kind: 'apply', enforced: persisted };
      return { kind: 'wait' };
    }
    const text = loaded.text ?? '';
    const vanished = loaded.origin === 'absent' || text.trim() === '';
    const hadContent =
      this.enforced !== null &&
      this.enforced.origin !== 'absent' &&
      this.enforced.text.trim() !== '';
    if (vanished && hadContent) {
      const t = this.now();
      this.vanishedSince ??= t;
      const left = (this.deps.vanishGraceMs ?? 150) - (t - this.vanishedSince);
      if (left > 0) return { kind: 'recheck', afterMs: left };
    }
    this.vanishedSince = null;
    if (this.configIssue !== null) {
      // A deleted file is reported by its own warning below.
      if (loaded.origin === 'file')
        this.deps.log.info({ event: 'config-valid', file: loaded.path }, 'config valid again');
      this.configIssue = null;
    }
    if (loaded.origin === 'absent' && this.enforced?.origin !== 'absent') {
      this.deps.log.warn(
        { file: loaded.path },
        `config file ${loaded.path} does not exist; applying the defaults`,
      );
    }
    return {
      kind: 'apply',
      enforced: { config: loaded.config, origin: loaded.origin, text, source: loaded.path },
    };
  }

  private reportInvalid(e: unknown): void {
    const issues =
      e instanceof ConfigError
        ? e.issues.map(formatConfigIssue)
        : [`${this.deps.configPath}: ${(e as Error)?.message ?? String(e)}`];
    const first = issues[0] ?? 'invalid';
    this.configIssue = issues.length > 1 ? `${first} (and ${issues.length - 1} more)` : first;
    const keeping = this.enforced
      ? `keeping the rules of ${this.enforced.origin === 'persisted' ? 'the persisted last good config' : this.enforced.origin === 'absent' ? 'the defaults' : 'the last good config'}`
      : 'no rules applied yet';
    this.limited(
      'error',
      `config:${issues.join('\n')}`,
      {
        event: 'config-invalid',
        file: this.deps.configPath,
        issues,
        code: isIpMasqError(e) ? e.code : undefined,
      },
      `config invalid: ${this.configIssue}; ${keeping}`,
    );
  }

  /** Saves the enforced config as the last good one; a failure is only logged. */
  private async persist(e: Enforced): Promise<void> {
    try {
      await this.lastGood.save(e);
    } catch (err) {
      this.limited('warn', `state:${(err as Error).message}`, {}, (err as Error).message);
    }
  }

  private nftFailed(e: unknown): PassOutcome {
    const delay = this.backoff.next();
    const message = e instanceof Error ? e.message : String(e);
    this.nftProblem = message;
    const code = isIpMasqError(e) ? e.code : undefined;
    if (e instanceof NftError && e.input !== undefined)
      this.deps.log.debug(
        { argv: e.argv, stderr: e.stderr, batch: e.input },
        'the nft batch that failed',
      );
    this.limited(
      'error',
      `nft:${code}:${message}`,
      { event: 'nft-failed', code, retryInMs: delay, attempt: this.backoff.attempts },
      `reconcile failed: ${message}; the current rules stay, retrying`,
    );
    this.setStatus(this.describe(delay), false);
    return { retryAfterMs: delay };
  }

  /** Restores on machine triggers alone, again and again: slow down, and say so. */
  private fightGuard(triggers: Trigger[], rewrote: boolean): PassOutcome {
    const fight = this.fight.record(triggers, rewrote);
    if (!fight) return {};
    this.limited(
      'warn',
      'fight',
      { restored: fight.restored, nextCheckInMs: fight.delayMs },
      'table ip-masq keeps being changed by another process; restoring it with backoff',
    );
    return { retryAfterMs: fight.delayMs };
  }

  private describe(retryInMs?: number): string {
    const e = this.enforced;
    const what = !e
      ? 'no rules applied'
      : e.origin === 'absent'
        ? `enforcing the defaults (${this.deps.configPath} does not exist)`
        : e.origin === 'persisted'
          ? `enforcing the persisted last good config`
          : `enforcing ${e.source}`;
    const parts = [`${what}, generation ${this.generationCount}`];
    const facts = e ? this.deps.factsNote?.(e.config) : null;
    if (facts) parts.push(facts);
    if (this.configIssue) parts.unshift(`config invalid: ${this.configIssue}`);
    if (this.nftProblem && retryInMs !== undefined)
      parts.unshift(
        `nft failing (retry in ${Math.max(1, Math.round(retryInMs / 1000))}s): ${this.nftProblem}`,
      );
    return parts.join('; ');
  }

  private setStatus(status: string, ready: boolean): void {
    if (ready && !this.readySent) {
      this.readySent = true;
      this.lastStatus = status;
      this.deps.notify.ready(status);
      this.deps.log.info({ event: 'ready', status }, 'ready');
      return;
    }
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.deps.notify.status(status);
  }

  private limited(
    level: 'error' | 'warn',
    key: string,
    fields: Record<string, unknown>,
    msg: string,
  ): void {
    const admitted = this.limiter.admit(key);
    if (!admitted) return;
    this.deps.log[level](
      { ...fields, ...(admitted.suppressed > 0 ? { suppressed: admitted.suppressed } : {}) },
      msg,
    );
  }
}
