/**
 * Connects the metrics to the daemon without the daemon knowing about them: the config loader,
 * the reconcile function and the flannel re-add tracker that `ip-masq run` hands to runDaemon
 * are wrapped here, and runDaemon calls `afterPass` after every pass (publish: textfile and/or
 * HTTP listener, as the enforced config's `metrics:` says) and `stop` on shutdown.
 */
import { formatListen } from '../config/values.js';
import type { Config, MetricsConfig } from '../config/schema.js';
import { planToBatch } from '../nft/to-nft.js';
import type { Plan } from '../plan/plan.js';
import type { ReconcileResult } from '../reconcile/reconcile.js';
import { DaemonMetrics } from './recorder.js';
import { startMetricsServer, type MetricsServer } from './server.js';
import { removeTextfile, textfilePath, writeTextfile } from './textfile.js';

/** The logger methods used (pino's Logger has them). */
export interface MetricsLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The part of a reconcile result the metrics read (tests pass no plan). */
type ReconcileLike = Pick<ReconcileResult, 'changed' | 'flannelDeleted'> &
  Partial<Pick<ReconcileResult, 'plan'>>;

interface ReaddTracker {
  record(deleted: number, now: number): { warning: string | null };
}

export interface InstrumentOptions {
  now?: () => number;
  /** Replaced in tests. */
  startServer?: typeof startMetricsServer;
}

export interface InstrumentedDaemon<L, R> {
  load: (path: string) => Promise<L>;
  reconcile: (config: Config) => Promise<R>;
  flannelReadds: ReaddTracker;
  /** After every pass: count it, then publish where the enforced config says. Never throws. */
  afterPass: (log: MetricsLog) => Promise<void>;
  /** Closes the listener (the textfile stays: its timestamps show it is stale). */
  stop: () => Promise<void>;
  readonly metrics: DaemonMetrics;
  /** The listener's bound address, null when none. */
  readonly listening: { host: string; port: number } | null;
}

/** Comparable form of a plan, computed only for passes that rewrote the tables. */
function planKey(plan: Plan): string {
  return JSON.stringify(planToBatch(plan));
}

export function instrumentDaemon<L, R extends ReconcileLike>(
  deps: {
    load: (path: string) => Promise<L>;
    reconcile: (config: Config) => Promise<R>;
    flannelReadds: ReaddTracker;
  },
  options: InstrumentOptions = {},
): InstrumentedDaemon<L, R> {
  const now = options.now ?? Date.now;
  const metrics = new DaemonMetrics(now);
  const publisher = new Publisher(options.startServer ?? startMetricsServer, () =>
    metrics.render(),
  );
  let settings: MetricsConfig | null = null;
  let lastPlan: Plan | null = null;

  return {
    metrics,
    get listening() {
      return publisher.listening;
    },
    async load(path) {
      try {
        const loaded = await deps.load(path);
        metrics.configLoaded(true);
        return loaded;
      } catch (e) {
        metrics.configLoaded(false);
        throw e;
      }
    },
    async reconcile(config) {
      const started = performance.now();
      settings = config.metrics;
      let result: R;
      try {
        result = await deps.reconcile(config);
      } catch (e) {
        metrics.reconcileFailed(e, performance.now() - started);
        throw e;
      }
      // Drift: the tables had to be rewritten to the very plan the previous good pass installed.
      const plan = result.plan ?? null;
      const drift =
        result.changed && plan !== null && lastPlan !== null && planKey(plan) === planKey(lastPlan);
      if (plan !== null) lastPlan = plan;
      metrics.reconciled(
        config,
        { changed: result.changed, flannelDeleted: result.flannelDeleted.length, drift },
        performance.now() - started,
      );
      return result;
    },
    flannelReadds: {
      record(deleted, at) {
        const verdict = deps.flannelReadds.record(deleted, at);
        if (verdict.warning !== null) metrics.flannelEpisode();
        return verdict;
      },
    },
    async afterPass(log) {
      metrics.passDone();
      // Nothing enforced yet (invalid config at first start, nothing persisted): no settings.
      if (settings === null) return;
      try {
        await publisher.publish(settings, log);
      } catch (e) {
        log.warn({ error: (e as Error).message }, 'publishing metrics failed');
      }
    },
    stop: () => publisher.close(),
  };
}

/** Puts the text where the settings say, following changes of the settings between passes. */
class Publisher {
  private textfileDir: string | null = null;
  private server: MetricsServer | null = null;
  private listenKey: string | null = null;
  /** Last problem logged per channel: the same failure is logged once, not every pass. */
  private readonly problems = new Map<string, string>();

  constructor(
    private readonly start: typeof startMetricsServer,
    private readonly render: () => string,
  ) {}

  get listening(): { host: string; port: number } | null {
    return this.server?.address ?? null;
  }

  async publish(settings: MetricsConfig, log: MetricsLog): Promise<void> {
    await this.publishTextfile(settings.textfileDir, log);
    await this.publishListener(settings, log);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.listenKey = null;
    await server?.close();
  }

  private problem(
    channel: string,
    message: string | null,
    log: MetricsLog,
    fields: object = {},
  ): void {
    const previous = this.problems.get(channel) ?? null;
    if (message === previous) return;
    if (message === null) {
      this.problems.delete(channel);
      log.info(fields, `metrics ${channel} works again`);
    } else {
      this.problems.set(channel, message);
      log.warn(fields, message);
    }
  }

  private async publishTextfile(dir: string | null, log: MetricsLog): Promise<void> {
    if (this.textfileDir !== null && this.textfileDir !== dir) {
      const old = this.textfileDir;
      // node_exporter would otherwise keep exporting the last values forever.
      await removeTextfile(old).catch((e: Error) =>
        log.warn(
          { file: textfilePath(old), error: e.message },
          'cannot remove the old metrics textfile',
        ),
      );
      this.problems.delete('textfile');
    }
    this.textfileDir = dir;
    if (dir === null) return;
    try {
      await writeTextfile(dir, this.render());
      this.problem('textfile', null, log, { file: textfilePath(dir) });
    } catch (e) {
      const hint =
        (e as NodeJS.ErrnoException).code === 'EROFS' ||
        (e as NodeJS.ErrnoException).code === 'EACCES'
          ? ' (the unit needs a drop-in with ReadWritePaths= for this directory and write access for the service: see docs/metrics.md)'
          : '';
      this.problem(
        'textfile',
        `cannot write metrics to ${textfilePath(dir)}: ${(e as Error).message}${hint}`,
        log,
        { file: textfilePath(dir) },
      );
    }
  }

  private async publishListener(settings: MetricsConfig, log: MetricsLog): Promise<void> {
    const want = settings.listen;
    const key = want ? formatListen(want) : null;
    // Same address and already listening: nothing to do. A failed listen is retried each pass.
    if (key === this.listenKey && (want === null || this.server !== null)) return;
    if (this.server) {
      await this.close();
      log.info({}, 'metrics listener closed');
    }
    this.listenKey = key;
    if (want === null || key === null) {
      this.problems.delete('listener');
      return;
    }
    try {
      this.server = await this.start(want.host, want.port, this.render);
      this.problem('listener', null, log, { listen: key });
      const bound = formatListen(this.server.address);
      log.info({ listen: bound }, `serving metrics on http://${bound}/metrics`);
      if (!want.loopback) {
        log.warn(
          { listen: key },
          `metrics.listen ${key} is not a loopback address: /metrics is reachable from other hosts, without authentication`,
        );
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint =
        code === 'EAFNOSUPPORT' || code === 'EPERM' || code === 'EACCES'
          ? ' (the unit allows no IP sockets: add the RestrictAddressFamilies drop-in from docs/metrics.md)'
          : '';
      this.problem(
        'listener',
        `cannot listen on ${key} for metrics: ${(e as Error).message}${hint}; retrying at the next pass`,
        log,
        { listen: key },
      );
    }
  }
}
