/** `ip-masq run`: the daemon (systemd's ExecStart). */
import { defaultConfig } from '../config/settings.js';
import { parseConfigSnapshot } from '../config/snapshot.js';
import { loadConfigTree } from '../config/tree.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { reconcile, type ReconcileMemo } from '../reconcile/reconcile.js';
import { runDaemon } from '../daemon/run.js';
import { runtimeStatusWriter } from '../daemon/runtime-status.js';
import { resolveStateDir } from '../daemon/state.js';
import { ExitCode } from '../errors.js';
import { FlannelReaddTracker } from '../flannel/episodes.js';
import { instrumentDaemon } from '../metrics/instrument.js';
import { SessionBackedNft } from '../nft/session-backend.js';
import type { Verb } from './verb.js';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export const run: Verb = {
  name: 'run',
  summary:
    'the daemon: reconcile at start, on config edits, SIGHUP, drift and every resyncInterval',
  usage: `Usage: ip-masq run [--config PATH] [--state-dir DIR] [--nft PATH] [--log-level LEVEL]

Runs until SIGTERM/SIGINT (the rules stay in place on exit). Reconciles at start, whenever
the config file's directory or its drop-in directory config.d/ changes, when flannel's
subnet.env is written (its directory may appear later), on SIGHUP, when nft
reports a change to table ip/ip6 ip-masq or a flannel MASQUERADE rule, and every
resyncInterval. An invalid config keeps the current rules (and the last good config,
persisted in the state directory, is used at start); a failing nft is retried with backoff
up to 30 s. Logs NDJSON to stdout, with syslog priority prefixes when stdout is the journal.
Under systemd (Type=notify, NotifyAccess=all) it sends READY=1, STATUS= and WATCHDOG=1
through systemd-notify. With metrics: in the config, writes ip_masq.prom after every pass
and/or serves GET /metrics.

Options:
  --state-dir DIR    where the last good config is kept (default $STATE_DIRECTORY, else /var/lib/ip-masq)
  --log-level LEVEL  debug, info (default), warn or error`,
  common: ['config', 'nft'],
  options: {
    'state-dir': { type: 'string' },
    'log-level': { type: 'string' },
  },
  async run(ctx) {
    const level = ctx.values['log-level'];
    if (level !== undefined && !LOG_LEVELS.includes(level as LogLevel)) {
      ctx.io.stderr(
        `ip-masq run: --log-level must be one of ${LOG_LEVELS.join(', ')}, not "${String(level)}"\n`,
      );
      return ExitCode.USAGE;
    }
    const stateDir = ctx.values['state-dir'];
    // Listings through one long-lived nft (nft/session-backend.ts): passes are cheap to repeat.
    const client = new SessionBackedNft(ctx.nft());
    const flannel = flannelHooks();
    // Our tables as last verified, so a config change skips the read before its write.
    const memo: ReconcileMemo = {};
    // Metrics (textfile / HTTP, when the config asks) see every load, reconcile and re-add.
    const readds = new FlannelReaddTracker();
    const instrumented = instrumentDaemon({
      load: loadConfigTree,
      reconcile: (config) => reconcile({ client, flannel, memo }, config),
      flannelReadds: readds,
    });
    // `ip-masq status` reads the re-add counters from the state directory.
    const writeStatus = runtimeStatusWriter(
      resolveStateDir(typeof stateDir === 'string' ? stateDir : undefined, ctx.io.env),
      () => readds.snapshot(Date.now()),
    );
    return runDaemon({
      configPath: ctx.configPath,
      ...(typeof stateDir === 'string' ? { stateDir } : {}),
      client,
      env: { ...ctx.io.env },
      signals: ctx.io.signals ?? process,
      load: instrumented.load,
      parse: parseConfigSnapshot,
      defaults: defaultConfig,
      reconcile: instrumented.reconcile,
      flannelReadds: instrumented.flannelReadds,
      afterPass: async (log) => {
        await instrumented.afterPass(log);
        await writeStatus().catch((e: unknown) =>
          log.warn(
            { error: (e as Error).message },
            'cannot write status.json to the state directory',
          ),
        );
      },
      onStop: async () => {
        await instrumented.stop();
        client.close();
      },
      logLevel: (level as LogLevel | undefined) ?? 'info',
    });
  },
};
