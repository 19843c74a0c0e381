/**
 * `ip-masq run`: wires the triggers (config directory watcher, flannel subnet.env watcher,
 * SIGHUP, resync timer, nft monitor) into the one serialized reconcile loop, talks to systemd, and stops cleanly.
 *
 * On SIGTERM/SIGINT the current apply finishes and the rules stay in place: a restart or an
 * upgrade must not open a window without the node's SNAT policy (kube-proxy and ip-masq-agent
 * behave the same way; `ip-masq cleanup` removes them on purpose).
 */
import type { EventEmitter } from 'node:events';
import type { NftBackend } from '../nft/backend.js';
import { PASS_STUCK_MS } from '../proc/deadlines.js';
import { DaemonController, type ControllerDeps } from './controller.js';
import { JournalSender } from './journal-sender.js';
import { createLogger, isJournalStream, RepeatLimiter, type Logger } from './log.js';
import { ReconcileLoop } from './loop.js';
import { createNotifier, type Notifier } from './notify.js';
import { resolveStateDir, StateStore } from './state.js';
import type { ConfigWatcher } from './watch.js';
import { FactsWatcher, factsNote } from './watch-facts.js';
import { watchRuleset, type RulesetWatch } from './watch-ruleset.js';
import { watchConfigTree } from './watch-tree.js';

export interface RunDaemonOptions {
  configPath: string;
  /** --state-dir; else $STATE_DIRECTORY, else /var/lib/ip-masq. */
  stateDir?: string;
  client: NftBackend;
  env: NodeJS.ProcessEnv;
  /** Where SIGHUP/SIGTERM/SIGINT come from (the process). */
  signals: EventEmitter;
  /** Config loading and reconcile, from config/ and reconcile/reconcile.ts. */
  load: ControllerDeps['load'];
  parse: ControllerDeps['parse'];
  defaults: ControllerDeps['defaults'];
  reconcile: ControllerDeps['reconcile'];
  /** flannel/episodes.ts FlannelReaddTracker: one warning per flannel re-add episode. */
  flannelReadds?: ControllerDeps['flannelReadds'];
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Injected in tests; default: pino to fd 1 (journal-prefixed under systemd). */
  log?: Logger;
  notifier?: Notifier;
  /** ms between the first trigger and the pass (coalesces an editor's write bursts). Default 2. */
  settleMs?: number;
  /** Disable the nft monitor (drift then heals at the resync only). */
  monitor?: boolean;
  /** After every pass (metrics/instrument.ts: count it, write the textfile); must not throw. */
  afterPass?: (log: Logger) => Promise<void>;
  /** At shutdown, after the last pass (metrics/instrument.ts: close the listener). */
  onStop?: () => Promise<void>;
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code (0). */
export async function runDaemon(options: RunDaemonOptions): Promise<number> {
  const log =
    options.log ??
    (isJournalStream(options.env)
      ? createLogger({
          journal: true,
          native: new JournalSender(),
          level: options.logLevel ?? 'info',
        })
      : createLogger({ journal: false, level: options.logLevel ?? 'info' }));
  const notify =
    options.notifier ?? createNotifier({ env: options.env, onError: (m) => log.warn(m) });
  const state = new StateStore(resolveStateDir(options.stateDir, options.env));
  const limiter = new RepeatLimiter();

  // flannel's subnet.env: followed from the first pass on (the path is in the config).
  const facts = new FactsWatcher({
    onChange: (event, path) => {
      log.debug({ event, path }, 'flannel subnet.env event');
      loop.trigger('facts');
    },
    onError: (e) => {
      if (limiter.admit(`watch-facts:${e.message}`))
        log.warn(
          { error: e.message },
          "flannel subnet.env watcher error; flannel's facts are still re-read at the resync",
        );
    },
  });

  // Started before the first pass so a change racing our start-up is not missed.
  let monitor: RulesetWatch | null = null;
  const controller = new DaemonController({
    configPath: options.configPath,
    load: options.load,
    parse: options.parse,
    defaults: options.defaults,
    reconcile: options.reconcile,
    beforeReconcile: (config) => facts.follow(config.flannel.subnetEnv),
    factsNote,
    ...(options.flannelReadds ? { flannelReadds: options.flannelReadds } : {}),
    // A deletion opens the window in which flanneld's re-add is watched (watch-ruleset.ts).
    onFlannelDeleted: (deleted) => monitor?.flannelDeleted(deleted),
    state,
    log,
    notify,
  });

  let resyncTimer: NodeJS.Timeout | null = null;
  let passes = 0;
  const loop: ReconcileLoop = new ReconcileLoop({
    settleMs: options.settleMs ?? 2,
    pass: async (triggers) => {
      const pass = ++passes;
      log.debug({ pass, triggers }, 'pass started');
      const outcome = await controller.pass(triggers);
      await options.afterPass?.(log);
      log.debug(
        {
          pass,
          generation: controller.generation,
          configProblem: controller.configProblem,
          retryInMs: outcome.retryAfterMs ?? null,
        },
        'pass done',
      );
      // Cheap (a stat): re-arms the watcher if its directory came or went unnoticed.
      watcher.recheck();
      facts.recheck();
      // Re-armed after every pass: the backstop fires resyncInterval after the last check.
      if (resyncTimer) clearTimeout(resyncTimer);
      resyncTimer = setTimeout(() => loop.trigger('resync'), controller.resyncIntervalMs);
      return outcome;
    },
    onPassError: (e) => log.error({ err: e }, 'reconcile pass crashed; retrying'),
  });

  // Installed before anything can send READY: Node's default for SIGHUP is to exit.
  const onHup = (): void => {
    log.info({ event: 'reload' }, 'reload requested (SIGHUP)');
    loop.trigger('sighup');
  };
  let requestStop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (requestStop = resolve));
  const onTerm = (): void => requestStop('SIGTERM');
  const onInt = (): void => requestStop('SIGINT');
  options.signals.on('SIGHUP', onHup);
  options.signals.on('SIGTERM', onTerm);
  options.signals.on('SIGINT', onInt);

  log.info(
    {
      event: 'starting',
      config: options.configPath,
      stateDir: state.dir,
      nft: options.client.describe(),
      systemd: notify.enabled,
    },
    'starting',
  );

  // Armed before the first pass reads the file: an edit racing our start-up is not missed.
  const watcher: ConfigWatcher = watchConfigTree({
    path: options.configPath,
    onChange: (event, path) => {
      log.debug({ event, path }, 'config directory event');
      loop.trigger('file');
    },
    onError: (e) => {
      const admitted = limiter.admit(`watch:${e.message}`);
      if (admitted)
        log.warn(
          { error: e.message },
          'config directory watcher error; changes are still picked up at the resync and on SIGHUP',
        );
    },
  });

  if (options.monitor !== false)
    monitor = watchRuleset({
      client: options.client,
      log,
      limiter,
      trigger: (why) => loop.trigger(why),
    });

  loop.trigger('start');

  let watchdogTimer: NodeJS.Timeout | null = null;
  const wdMs = notify.watchdogIntervalMs;
  if (wdMs !== null) {
    // Pings prove the event loop runs (a SIGSTOP or a hot loop stops them) and that passes make
    // progress: every child of a pass has a deadline (proc/deadlines.ts), so a pass busy for
    // PASS_STUCK_MS is stuck in our own code. Either way systemd restarts us.
    const stuckMs = Math.max(wdMs, PASS_STUCK_MS);
    watchdogTimer = setInterval(() => {
      if (loop.busyFor() < stuckMs) notify.watchdog();
    }, wdMs);
  }

  const signal = await stopped;
  log.info({ event: 'stopping', signal }, 'stopping; the rules stay in place');
  // After the running pass: its STATUS must not overwrite this one.
  await loop.stop();
  notify.stopping(`stopping (${signal}); rules stay in place`);
  if (resyncTimer) clearTimeout(resyncTimer);
  if (watchdogTimer) clearInterval(watchdogTimer);
  watcher.close();
  facts.close();
  await monitor?.stop();
  await options.onStop?.();
  await notify.flush();
  options.signals.off('SIGHUP', onHup);
  options.signals.off('SIGTERM', onTerm);
  options.signals.off('SIGINT', onInt);
  log.info({ event: 'stopped', generation: controller.generation }, 'stopped');
  return 0;
}
