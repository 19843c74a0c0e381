/**
 * The daemon's ruleset watch: the scoped `nft -j monitor` children (nft/scoped-monitor.ts) and,
 * when a co-tenant's churn floods the rule-level one, the poll of flannel's chains
 * (flannel-poll.ts), turned into reconcile triggers and rate-limited log lines.
 */
import {
  FLANNEL_CHAIN_NEEDLES,
  isFlannelChainAdd,
  isFlannelMasqueradeAdd,
} from '../flannel/match.js';
import type { NftBackend } from '../nft/backend.js';
import { CONCERN_NEEDLES, touchesOwnTables } from '../nft/monitor.js';
import { ScopedMonitor } from '../nft/scoped-monitor.js';
import { FlannelChainPoll, type ChainRef } from './flannel-poll.js';
import type { Logger, RepeatLimiter } from './log.js';
import type { Trigger } from './loop.js';

export interface RulesetWatchOptions {
  client: NftBackend;
  log: Logger;
  limiter: RepeatLimiter;
  trigger: (why: Trigger) => void;
}

export interface RulesetWatch {
  /** A pass deleted flannel rules from these chains: watch for flanneld's re-add. */
  flannelDeleted(where: readonly ChainRef[]): void;
  stop(): Promise<void>;
}

export function watchRuleset(o: RulesetWatchOptions): RulesetWatch {
  const { log, limiter, trigger } = o;
  // The poll's listings go to a long-lived nft (nft/session.ts; the daemon's backend shares its
  // one session with the passes), not to a new process twice a second.
  const session = o.client.openSession();
  const chains = new FlannelChainPoll(
    (what) => session.list(what),
    (where) => {
      log.debug({ where }, 'flannel MASQUERADE rule found by the poll');
      trigger('flannel');
    },
  );
  const monitor = new ScopedMonitor({
    open: (handlers) => o.client.monitor(handlers),
    mustContainAny: [...CONCERN_NEEDLES, ...FLANNEL_CHAIN_NEEDLES],
    onEvent: (ev) => {
      if (touchesOwnTables(ev)) trigger('drift');
      else if (isFlannelMasqueradeAdd(ev)) trigger('flannel');
      else if (isFlannelChainAdd(ev)) {
        // flanneld started after us (or restarted): its rules follow; watch where they go.
        chains.note([{ family: ev.family, table: ev.table, chain: String(ev.object['name']) }]);
        monitor.watchRules();
        trigger('flannel');
      }
    },
    // A co-tenant's burst overflowed the socket; ours may have been among the lost events.
    onLost: () => {
      log.debug('nft monitor lost events (netlink overrun); looking again');
      trigger('drift');
    },
    // Events were lost while it was down: look once.
    onStart: (restarts, scope) => {
      if (restarts > 0) {
        log.info({ restarts, scope }, 'nft monitor running again');
        limiter.reset();
        trigger('drift');
      }
    },
    onExit: (why, retryInMs, scope) => {
      const admitted = limiter.admit(`monitor:${scope}:${why}`);
      if (admitted)
        log.warn(
          { retryInMs, scope, ...(admitted.suppressed ? { suppressed: admitted.suppressed } : {}) },
          `${why}; drift detection falls back to the resync timer until it restarts`,
        );
    },
    poll: async () => {
      try {
        await chains.poll();
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        const admitted = limiter.admit(`poll:${why}`);
        if (admitted)
          log.warn({ error: why }, "cannot list flannel's chains; its re-adds wait for the resync");
      }
    },
    onFlood: ({ bytesInSecond, probeInMs }) => {
      const admitted = limiter.admit('monitor:flood');
      if (admitted)
        log.info(
          {
            event: 'rule-watch',
            ruleWatch: 'poll',
            kibInSecond: Math.round(bytesInSecond / 1024),
            chains: chains.chainCount,
            probeInS: Math.round(probeInMs / 1000),
          },
          "other rule churn floods the rule monitor; polling flannel's chains instead",
        );
    },
    onCalm: () =>
      log.info(
        { event: 'rule-watch', ruleWatch: 'stream' },
        'rule churn calmed; watching rule events again',
      ),
  });
  monitor.start();
  // flanneld may be (re-)adding its rules while we start, and a rule monitor needs a moment to
  // subscribe: watch rules from the start. The window closes after 120 s unless a pass deleted
  // flannel rules by then.
  monitor.watchRules();
  return {
    flannelDeleted(where) {
      chains.note(where);
      monitor.watchRules();
    },
    stop: async () => {
      await monitor.stop();
      session.close();
    },
  };
}
