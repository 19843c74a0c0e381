/**
 * The "hold the line" pieces against the real kernel: `nft -j monitor rules` sees flanneld's
 * re-add (iptables-restore --noflush, as ipTablesCleanAndBuild does), isFlannelMasqueradeAdd
 * picks exactly the MASQUERADE additions, and a monitor-triggered removal pass deletes them
 * again. Also captures test/fixtures/flannel/monitor-readd.ndjson for the unit tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NftClient } from '../../daemon/src/nft/client.js';
import { FlannelReaddTracker } from '../../daemon/src/flannel/episodes.js';
import { isFlannelMasqueradeAdd } from '../../daemon/src/flannel/match.js';
import { parseMonitorLine } from '../../daemon/src/nft/monitor.js';
import { removeFlannelMasquerade } from '../../daemon/src/flannel/remove.js';
import { resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import { Netns, canUseNetns } from '../helpers/netns.js';
import { SCENARIOS, restoreText, type FlannelScenario } from '../fixtures/flannel/scenarios.js';
import { flanneldReadd, iptablesSaveRules, nsMust } from '../fixtures/flannel/build.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/flannel/monitor-readd.ndjson', import.meta.url));
const CAPTURE = process.env['IPMASQ_CAPTURE_FIXTURES'] === '1';
const scenario = SCENARIOS.find((s) => s.name === 'current-dualstack') as FlannelScenario;
const facts = resolveFlannelFacts(
  { clusterCIDR: [], nodeSubnet: [] },
  { text: scenario.subnetEnv, path: 'p' },
).facts;
const cleanup: (() => Promise<void> | void)[] = [];
/** The daemon's monitor routing for one printed line. */
const isFlannelAdd = (line: string): boolean => {
  const ev = parseMonitorLine(line);
  return ev !== null && isFlannelMasqueradeAdd(ev);
};
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A running `nft -j monitor rules` with its lines, plus a way to wait for a marker event. */
async function startMonitor(ns: Netns): Promise<{
  lines: string[];
  child: ChildProcess;
  waitFor: (pred: (l: string) => boolean, what: string) => Promise<void>;
}> {
  const child = spawn('ip', ['netns', 'exec', ns.name, 'nft', '-j', 'monitor', 'rules'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.push(() => void child.kill());
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: () => void }[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters])
        if (w.pred(line)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    }
  });
  const waitFor = (pred: (l: string) => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (lines.some(pred)) return resolve();
      const timer = setTimeout(() => reject(new Error(`monitor never showed ${what}`)), 10_000);
      waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
    });
  // The monitor subscribes asynchronously: add sentinel rules until one is seen.
  await nsMust(ns, ['nft', 'add table ip sentinel; add chain ip sentinel c']);
  let seen = false;
  void waitFor((l) => l.includes('"sentinel"'), 'the sentinel').then(
    () => (seen = true),
    () => undefined,
  );
  for (let i = 0; i < 100 && !seen; i++) {
    await nsMust(ns, ['nft', 'add rule ip sentinel c counter']);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!seen) throw new Error('nft monitor did not start');
  return { lines, child, waitFor };
}

async function flannelReadd(ns: Netns): Promise<void> {
  for (const step of scenario.steps) {
    if ('ip' in step)
      await nsMust(ns, ['iptables-restore', '--noflush', '--wait'], restoreText(step.ip));
    else if ('ip6' in step)
      await nsMust(ns, ['ip6tables-restore', '--noflush', '--wait'], restoreText(step.ip6));
  }
}

describe.runIf(canUseNetns())('flannel re-add seen through nft -j monitor', () => {
  it('captures the events; exactly the 4 MASQUERADE additions are flannel events', async () => {
    const ns = await Netns.create('flmon');
    cleanup.push(() => ns.dispose());
    const mon = await startMonitor(ns);
    const from = mon.lines.length;
    await flannelReadd(ns);
    await nsMust(ns, ['nft', 'add rule ip sentinel c counter comment "end"']);
    await mon.waitFor((l) => l.includes('"end"'), 'the end marker');
    const events = mon.lines.slice(from).filter((l) => !l.includes('"sentinel"'));
    if (CAPTURE || !existsSync(FIXTURE)) writeFileSync(FIXTURE, events.join('\n') + '\n');
    else
      expect(events).toEqual(
        readFileSync(FIXTURE, 'utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
    const hits = events.filter(isFlannelAdd);
    expect(hits).toHaveLength(4);
    await ns.dispose();
  });

  it('a monitor-triggered removal pass undoes every re-add; the tracker warns once', async () => {
    const ns = await Netns.create('flhold');
    cleanup.push(() => ns.dispose());
    const client = new NftClient({ argv: ns.nftArgv() });
    const opts = { enableIPv6: true };
    await flannelReadd(ns);
    const tracker = new FlannelReaddTracker();
    tracker.record((await removeFlannelMasquerade(client, facts, opts)).length, Date.now());
    const clean = {
      ip: await iptablesSaveRules(ns, 'ip'),
      ip6: await iptablesSaveRules(ns, 'ip6'),
    };

    const mon = await startMonitor(ns);
    // The daemon's loop in miniature: a flannel event triggers one (serialized) removal pass.
    let pass: Promise<void> = Promise.resolve();
    const warnings: string[] = [];
    let handled = mon.lines.length;
    const onLines = (): void => {
      const fresh = mon.lines.slice(handled);
      handled = mon.lines.length;
      if (!fresh.some(isFlannelAdd)) return;
      pass = pass.then(async () => {
        const v = tracker.record(
          (await removeFlannelMasquerade(client, facts, opts)).length,
          Date.now(),
        );
        if (v.warning) warnings.push(v.warning);
      });
    };
    mon.child.stdout?.on('data', () => setImmediate(onLines));

    for (let round = 0; round < 5; round++) {
      await flanneldReadd(ns, scenario, { ip: clean.ip.nat, ip6: clean.ip6.nat });
      // Wait (bounded) until the monitor-driven pass has deleted the re-added rules.
      for (let i = 0; i < 200; i++) {
        await pass;
        const now = {
          ip: await iptablesSaveRules(ns, 'ip'),
          ip6: await iptablesSaveRules(ns, 'ip6'),
        };
        if (JSON.stringify(now) === JSON.stringify(clean)) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await pass;
      expect({
        ip: await iptablesSaveRules(ns, 'ip'),
        ip6: await iptablesSaveRules(ns, 'ip6'),
      }).toEqual(clean);
    }
    expect(warnings).toHaveLength(1);
    expect(tracker.snapshot(Date.now())).toMatchObject({ episodes: 1, leftoverRules: 4 });
    expect(tracker.snapshot(Date.now()).readds).toBeGreaterThanOrEqual(5);
    await ns.dispose();
  });
});
