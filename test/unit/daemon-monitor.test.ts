import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../../daemon/src/util/backoff.js';
import { isFlannelMasqueradeAdd } from '../../daemon/src/flannel/match.js';
import {
  CONCERN_NEEDLES,
  mayConcernUs,
  NftMonitor,
  parseMonitorLine,
  selectedByObjects,
  touchesOwnTables,
  type MonitorEvent,
} from '../../daemon/src/nft/monitor.js';

// Lines as nft 1.0.6 `-j monitor` printed them (captured in a network namespace).
const LINES = {
  addTable: '{"add": {"table": {"family": "ip", "name": "ip-masq", "handle": 1}}}',
  addChain:
    '{"add": {"chain": {"family": "ip", "table": "ip-masq", "name": "postrouting", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 110, "policy": "accept"}}}',
  delRule:
    '{"delete": {"rule": {"family": "ip", "table": "ip-masq", "chain": "postrouting", "handle": 2, "comment": "ip-masq: x", "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"masquerade": null}]}}}',
  addElem:
    '{"add": {"element": {"family": "ip", "table": "ip-masq", "name": "nomasq", "elem": {"set": [{"prefix": {"addr": "10.0.0.0", "len": 8}}]}}}}',
  delTable6: '{"delete": {"table": {"family": "ip6", "name": "ip-masq", "handle": 2}}}',
  otherTable: '{"add": {"table": {"family": "inet", "name": "ip-masq", "handle": 3}}}',
  kubeProxy:
    '{"add": {"element": {"family": "ip", "table": "kube-proxy", "name": "cluster-ips", "elem": {"set": ["10.96.0.1"]}}}}',
  flannelXt:
    '{"add": {"rule": {"family": "ip", "table": "nat", "chain": "FLANNEL-POSTRTG", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.244.0.0", "len": 16}}}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "MASQUERADE"}}]}}}',
  flannelNft:
    '{"add": {"rule": {"family": "ip", "table": "flannel-ipv4", "chain": "postrtg", "handle": 9, "expr": [{"masquerade": {"flags": "fully-random"}}]}}}',
  flannelReturn:
    '{"add": {"rule": {"family": "ip", "table": "nat", "chain": "FLANNEL-POSTRTG", "handle": 8, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"return": null}]}}}',
  kubeMasq:
    '{"add": {"rule": {"family": "ip", "table": "nat", "chain": "KUBE-POSTROUTING", "handle": 10, "expr": [{"xt": {"type": "target", "name": "MASQUERADE"}}]}}}',
};

const ev = (line: string): MonitorEvent => {
  const e = parseMonitorLine(line);
  if (!e) throw new Error(`not parsed: ${line}`);
  return e;
};

describe('parseMonitorLine', () => {
  it('reduces each event to op, kind, family, table (and chain)', () => {
    expect(ev(LINES.addTable)).toMatchObject({
      op: 'add',
      kind: 'table',
      family: 'ip',
      table: 'ip-masq',
    });
    expect(ev(LINES.addChain)).toMatchObject({
      op: 'add',
      kind: 'chain',
      family: 'ip',
      table: 'ip-masq',
    });
    expect(ev(LINES.delRule)).toMatchObject({
      op: 'delete',
      kind: 'rule',
      table: 'ip-masq',
      chain: 'postrouting',
    });
    expect(ev(LINES.addElem)).toMatchObject({ op: 'add', kind: 'element', table: 'ip-masq' });
  });

  it('ignores what is not one JSON event', () => {
    for (const l of [
      '',
      '# new generation 28 by process 25370 (iptables)',
      '{',
      '[]',
      '{"add": 1}',
      '{"add": {"table": {"family": "ip"}}}',
      'null',
    ]) {
      expect(parseMonitorLine(l)).toBeNull();
    }
  });
});

describe('routing', () => {
  it('our tables are ip/ip6 ip-masq, nothing else', () => {
    expect(
      [LINES.addTable, LINES.addChain, LINES.delRule, LINES.addElem, LINES.delTable6].map((l) =>
        touchesOwnTables(ev(l)),
      ),
    ).toEqual([true, true, true, true, true]);
    expect(touchesOwnTables(ev(LINES.otherTable))).toBe(false);
    expect(touchesOwnTables(ev(LINES.kubeProxy))).toBe(false);
  });

  it('flannel masquerade re-added (iptables-nft or nftables mode) is recognised; other rules are not', () => {
    expect(isFlannelMasqueradeAdd(ev(LINES.flannelXt))).toBe(true);
    expect(isFlannelMasqueradeAdd(ev(LINES.flannelNft))).toBe(true);
    expect(isFlannelMasqueradeAdd(ev(LINES.flannelReturn))).toBe(false);
    expect(isFlannelMasqueradeAdd(ev(LINES.kubeMasq))).toBe(false);
    expect(isFlannelMasqueradeAdd(ev(LINES.flannelXt.replace('"add"', '"delete"')))).toBe(false);
  });
});

describe('selectedByObjects', () => {
  it('keeps what `nft monitor [new|destroy] <objects>` would print', () => {
    expect(selectedByObjects([], ev(LINES.delRule))).toBe(true);
    expect(selectedByObjects(['chains'], ev(LINES.addChain))).toBe(true);
    expect(selectedByObjects(['chains'], ev(LINES.addTable))).toBe(false);
    expect(selectedByObjects(['new', 'rules'], ev(LINES.flannelXt))).toBe(true);
    expect(selectedByObjects(['new', 'rules'], ev(LINES.delRule))).toBe(false);
    expect(selectedByObjects(['destroy', 'tables'], ev(LINES.delTable6))).toBe(true);
    expect(selectedByObjects(['elements'], ev(LINES.addElem))).toBe(true);
    expect(selectedByObjects(['ruleset'], ev(LINES.addElem))).toBe(false);
  });
});

describe('mayConcernUs', () => {
  it('lets through our tables and masquerade rules, drops everything else unparsed', () => {
    for (const l of [
      LINES.addTable,
      LINES.delRule,
      LINES.addElem,
      LINES.delTable6,
      LINES.flannelXt,
      LINES.flannelNft,
      LINES.kubeMasq,
    ])
      expect(mayConcernUs(l)).toBe(true);
    expect(mayConcernUs(LINES.kubeProxy)).toBe(false);
    expect(mayConcernUs(LINES.flannelReturn)).toBe(false);
  });
});

describe('NftMonitor', () => {
  let monitor: NftMonitor | null = null;
  afterEach(async () => {
    await monitor?.stop();
    monitor = null;
  });

  /** A fake nft: prints the given lines for `-j monitor`, then exits or waits. */
  function fakeNft(lines: string[], exitAfter: boolean): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'ipm-mon-'));
    const script = join(dir, 'fake-nft.mjs');
    writeFileSync(
      script,
      `if (process.argv.slice(2).join(' ') !== '-j monitor') { console.error('bad args ' + process.argv.slice(2)); process.exit(2); }
process.stdout.write(${JSON.stringify(lines.join('\n') + '\n')});
${exitAfter ? 'process.exitCode = 1;' : 'setInterval(() => {}, 1000);'}`,
    );
    return [process.execPath, script];
  }

  it('runs argv + -j monitor, emits parsed events and stops the child', async () => {
    const events: MonitorEvent[] = [];
    monitor = new NftMonitor({
      argv: fakeNft(
        [LINES.addTable, 'garbage', LINES.kubeProxy, LINES.flannelXt, LINES.addElem],
        false,
      ),
      prefilter: mayConcernUs,
      onEvent: (e) => events.push(e),
    });
    monitor.start();
    await vi.waitFor(() => expect(events).toHaveLength(3), { timeout: 5000 });
    expect(events.map((e) => `${e.kind} ${e.table}`)).toEqual([
      'table ip-masq',
      'rule nat',
      'element ip-masq',
    ]);
    expect(monitor.running).toBe(true);
    await monitor.stop();
    expect(monitor.running).toBe(false);
  });

  it('drops foreign lines undecoded and reports events nft says were lost', async () => {
    const events: MonitorEvent[] = [];
    let lost = 0;
    monitor = new NftMonitor({
      argv: fakeNft(
        [LINES.kubeProxy, '# ERROR: We lost some netlink events!', LINES.addTable, LINES.kubeProxy],
        false,
      ),
      mustContainAny: CONCERN_NEEDLES,
      onEvent: (e) => events.push(e),
      onLost: () => lost++,
    });
    monitor.start();
    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5000 });
    expect(events[0]).toMatchObject({ kind: 'table', table: 'ip-masq' });
    expect(lost).toBe(1);
  });

  it('restarts a child that dies, with backoff, and says why', async () => {
    const exits: Array<[string, number]> = [];
    const starts: number[] = [];
    monitor = new NftMonitor({
      argv: fakeNft([LINES.addTable], true),
      backoff: new Backoff({ initialMs: 10, maxMs: 40 }),
      onEvent: () => undefined,
      onStart: (n) => starts.push(n),
      onExit: (why, ms) => exits.push([why, ms]),
    });
    monitor.start();
    await vi.waitFor(() => expect(starts.length).toBeGreaterThanOrEqual(4), { timeout: 10_000 });
    expect(starts.slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(exits.slice(0, 3).map(([, ms]) => ms)).toEqual([10, 20, 40]);
    expect(exits[0]![0]).toBe('nft monitor exited (code 1)');
  });

  it('stop() returns even when a forking wrapper leaves nft holding the pipe', async () => {
    const [node, script] = fakeNft([LINES.addTable], false);
    const dir = mkdtempSync(join(tmpdir(), 'ipm-mon-'));
    const pidFile = join(dir, 'pid');
    const wrapper = join(dir, 'nft-wrapper.sh');
    // Not `exec`: the shell stays the parent and dies on SIGTERM, its child keeps running.
    writeFileSync(wrapper, `#!/bin/sh\n${node} ${script} "$@" &\necho $! > ${pidFile}\nwait\n`);
    const events: MonitorEvent[] = [];
    monitor = new NftMonitor({ argv: ['/bin/sh', wrapper], onEvent: (e) => events.push(e) });
    monitor.start();
    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5000 });
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    try {
      await monitor.stop();
      expect(monitor.running).toBe(false);
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
  });

  it('reports an nft that cannot be started and keeps retrying', async () => {
    const exits: string[] = [];
    monitor = new NftMonitor({
      argv: ['/nonexistent/nft'],
      backoff: new Backoff({ initialMs: 5, maxMs: 5 }),
      onEvent: () => undefined,
      onExit: (why) => exits.push(why),
    });
    monitor.start();
    await vi.waitFor(() => expect(exits.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    expect(exits[0]).toContain('cannot run /nonexistent/nft');
  });
});
