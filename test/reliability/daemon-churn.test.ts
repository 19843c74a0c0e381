/**
 * Issue 15: a co-tenant (kube-proxy in iptables mode) rewriting thousands of nat rules every
 * second must not blind the daemon. With that churn running in its namespace, the daemon still
 * restores its deleted table and still deletes flannel's re-added MASQUERADE rules, and it watches
 * rule events only while flannel's re-adds are expected. Behaviour only: how fast is B7's job
 * (bench/churn-cost.mjs).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startChurn } from '../../bench/lib/churn.mjs';
import { canUseNetns } from '../helpers/netns.js';
import { bundleBuilt, DaemonSandbox, waitFor, type DaemonChild } from './daemon-harness.js';

const POD_NET = '10.244.0.0/16';
const FLANNEL_MASQ = [
  `-A FLANNEL-POSTRTG -s ${POD_NET} ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
  `-A FLANNEL-POSTRTG ! -s ${POD_NET} -d ${POD_NET} -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
];
const FLANNEL_RETURN = `-A FLANNEL-POSTRTG -s ${POD_NET} -d ${POD_NET} -m comment --comment "flanneld masq" -j RETURN`;

/** The nft monitor children of the daemon (their arguments after `monitor`). */
function monitorChildren(pid: number): string[] {
  const out = spawnSync('ps', ['-o', 'args=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((l) => l.includes(' monitor'))
    .map((l) => l.slice(l.indexOf(' monitor') + 1).trim())
    .sort();
}

describe.runIf(canUseNetns() && bundleBuilt())('daemon under co-tenant rule churn', () => {
  let sb: DaemonSandbox;
  let daemon: DaemonChild | null = null;
  let churn: ReturnType<typeof startChurn> | null = null;

  beforeEach(async () => {
    sb = await DaemonSandbox.create('churn');
    writeFileSync(
      join(sb.root, 'subnet.env'),
      `FLANNEL_NETWORK=${POD_NET}\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`,
    );
    sb.writeConfig(`resyncInterval: 1h\nflannel:\n  subnetEnv: ${join(sb.root, 'subnet.env')}\n`);
    churn = startChurn(sb.ns.prefix(), { rules: 2000 });
    await waitFor('the co-tenant restoring', () => churn!.stats.restores >= 1);
  });
  afterEach(async () => {
    await churn?.stop();
    churn = null;
    await daemon?.kill();
    daemon = null;
    await sb.dispose();
  });

  const flannelMasqCount = async (): Promise<number> =>
    (
      (await sb.ns.mustExec(['iptables', '-w', '5', '-t', 'nat', '-S', 'FLANNEL-POSTRTG'])).match(
        /MASQUERADE/g,
      ) ?? []
    ).length;

  /** flanneld's re-add: its MASQUERADE rules appended again with one iptables-restore. */
  const flannelReadd = (): Promise<string> =>
    sb.ns.mustExec(
      ['iptables-restore', '--noflush', '-w', '5'],
      `*nat\n${FLANNEL_MASQ.join('\n')}\nCOMMIT\n`,
    );

  it('restores its deleted table during the churn; no monitor decodes every event', async () => {
    daemon = await sb.start();
    await daemon.ready();
    // Chains always; rules for a while after the start (flannel may re-add as we start).
    const children = monitorChildren(daemon.child.pid!);
    expect(children).toContain('monitor chains');
    for (const c of children) expect(['monitor chains', 'monitor new rules']).toContain(c);
    for (const breaker of [
      ['nft', 'delete', 'table', 'ip', 'ip-masq'],
      ['nft', 'flush', 'ruleset'],
    ]) {
      await daemon.quiet();
      const from = daemon.lines.length;
      await sb.ns.mustExec(breaker);
      const audit = await daemon.waitForLine(
        `healed after ${breaker.join(' ')}`,
        (l) => l.msg === 'applied ruleset',
        from,
      );
      expect(audit).toMatchObject({ trigger: 'drift' });
      await waitFor('our table back', async () => (await sb.nomasq()) !== null);
    }
    expect(churn!.stats.failed).toBe(0);
  });

  it("deletes flannel's MASQUERADE rules at start and every re-add during the churn", async () => {
    await sb.ns.mustExec(
      ['iptables-restore', '--noflush', '-w', '5'],
      `*nat\n:FLANNEL-POSTRTG - [0:0]\n-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n${FLANNEL_RETURN}\n${FLANNEL_MASQ.join('\n')}\nCOMMIT\n`,
    );
    daemon = await sb.start();
    await daemon.ready();
    await waitFor('leftovers deleted', async () => (await flannelMasqCount()) === 0);
    // The rule-level monitor floods under this churn: it is replaced by the poll of flannel's
    // chains (nft/scoped-monitor.ts), which still sees every re-add.
    await daemon.waitForLine('the switch to polling', (l) => l.ruleWatch === 'poll');
    await waitFor(
      'the rule monitor gone',
      () => !monitorChildren(daemon!.child.pid!).includes('monitor new rules'),
    );
    for (let i = 0; i < 3; i++) {
      await daemon.quiet();
      const from = daemon.lines.length;
      await flannelReadd();
      const audit = await daemon.waitForLine(
        `re-add ${i} deleted`,
        (l) =>
          l.msg === 'applied ruleset' &&
          Array.isArray(l.flannelRulesDeleted) &&
          l.trigger !== 'drift',
        from,
      );
      expect(audit).toMatchObject({ trigger: 'flannel' });
      expect((audit.flannelRulesDeleted as unknown[]).length).toBe(2);
      expect(await flannelMasqCount()).toBe(0);
    }
    // flannel's RETURN rule (pod → pod) is never touched.
    expect(
      await sb.ns.mustExec(['iptables', '-w', '5', '-t', 'nat', '-S', 'FLANNEL-POSTRTG']),
    ).toContain('-j RETURN');
  });

  it('sees flanneld start after it during the churn (its chain created) and deletes its rules', async () => {
    daemon = await sb.start();
    await daemon.ready();
    await daemon.waitForLine('the switch to polling', (l) => l.ruleWatch === 'poll');
    await daemon.quiet();
    const from = daemon.lines.length;
    // Nothing was deleted yet, so nothing is polled: the chain monitor sees FLANNEL-POSTRTG made.
    await sb.ns.mustExec(
      ['iptables-restore', '--noflush', '-w', '5'],
      `*nat\n:FLANNEL-POSTRTG - [0:0]\n-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n${FLANNEL_RETURN}\n${FLANNEL_MASQ.join('\n')}\nCOMMIT\n`,
    );
    const audit = await daemon.waitForLine(
      'flannel rules deleted',
      (l) => l.msg === 'applied ruleset' && Array.isArray(l.flannelRulesDeleted),
      from,
    );
    expect(audit).toMatchObject({ trigger: 'flannel' });
    expect(await flannelMasqCount()).toBe(0);
    // And its next re-add, through the poll of the chain it was deleted from.
    await daemon.quiet();
    const again = daemon.lines.length;
    await flannelReadd();
    await daemon.waitForLine(
      're-add deleted',
      (l) => l.msg === 'applied ruleset' && Array.isArray(l.flannelRulesDeleted),
      again,
    );
    expect(await flannelMasqCount()).toBe(0);
  });
});
