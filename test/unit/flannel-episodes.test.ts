import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FlannelReaddTracker, FLANNEL_MASQ_FIX } from '../../daemon/src/flannel/episodes.js';
import {
  FLANNEL_CHAIN_NEEDLES,
  isFlannelChainAdd,
  isFlannelMasqueradeAdd,
  mayBeFlannelMasquerade,
} from '../../daemon/src/flannel/match.js';
import { parseMonitorLine } from '../../daemon/src/nft/monitor.js';

describe('FlannelReaddTracker', () => {
  it('the first pass cleans leftovers silently', () => {
    const t = new FlannelReaddTracker();
    expect(t.record(2, 0)).toEqual({ readd: false, warning: null });
    expect(t.snapshot(0)).toMatchObject({
      readds: 0,
      episodes: 0,
      leftoverRules: 2,
      episodeActive: false,
    });
  });

  it('warns once per episode while flannel re-adds every 5 s, again after a quiet period', () => {
    const t = new FlannelReaddTracker({ quietMs: 120_000 });
    t.record(0, 0);
    const warnings: number[] = [];
    // flanneld --ip-masq: re-add every 5 s for 10 minutes, removal passes every second in between.
    for (let s = 1; s <= 600; s++) {
      const deleted = s % 5 === 0 ? 2 : 0;
      const v = t.record(deleted, s * 1000);
      expect(v.readd).toBe(deleted > 0);
      if (v.warning) warnings.push(s);
    }
    expect(warnings).toEqual([5]);
    expect(t.snapshot(600_000)).toMatchObject({
      readds: 120,
      readdRules: 240,
      episodes: 1,
      episodeActive: true,
      lastReaddAt: 600_000,
    });
    // Quiet for 2 minutes: the episode ends; the next re-add warns again.
    expect(t.snapshot(720_000).episodeActive).toBe(false);
    const v = t.record(1, 721_000);
    expect(v.warning).toMatch(/^flannel re-added 1 MASQUERADE rule after/);
    expect(t.snapshot(721_000)).toMatchObject({ readds: 121, episodes: 2 });
  });

  it('a re-add just inside the quiet period stays in the episode', () => {
    const t = new FlannelReaddTracker({ quietMs: 10_000 });
    t.record(0, 0);
    expect(t.record(2, 1_000).warning).not.toBeNull();
    expect(t.record(2, 10_999).warning).toBeNull();
    expect(t.record(2, 20_998).warning).toBeNull();
    expect(t.record(2, 30_998).warning).not.toBeNull();
  });

  it('names the fix: flanneld without --ip-masq and "ipMasq": false in the CNI delegate', () => {
    const t = new FlannelReaddTracker();
    t.record(0, 0);
    const w = t.record(2, 1).warning as string;
    expect(w).toContain(FLANNEL_MASQ_FIX);
    expect(w).toContain('without --ip-masq');
    expect(w).toContain('"ipMasq": false');
    expect(w).toContain('/etc/cni/net.d/10-flannel.conflist');
  });
});

describe('isFlannelMasqueradeAdd (the monitor trigger, flannel/match.ts)', () => {
  // Captured from `nft -j monitor rules` while iptables-restore re-created flannel's rules
  // (test/integration/flannel-monitor.test.ts writes it).
  const lines = readFileSync(
    fileURLToPath(new URL('../fixtures/flannel/monitor-readd.ndjson', import.meta.url)),
    'utf8',
  )
    .split('\n')
    .filter((l) => l.trim() !== '');
  const isAdd = (line: string): boolean => {
    const ev = parseMonitorLine(line);
    return ev !== null && isFlannelMasqueradeAdd(ev);
  };
  const event = (rule: Record<string, unknown>): string => JSON.stringify({ add: { rule } });

  it('is true exactly for the MASQUERADE additions of a flannel re-add (both families)', () => {
    const hits = lines.filter(isAdd);
    expect(lines.length).toBeGreaterThan(hits.length);
    expect(hits).toHaveLength(4);
    for (const h of hits)
      expect(h).toMatch(
        /"add": \{"rule": \{"family": "ip6?", "table": "nat", "chain": "FLANNEL-POSTRTG".*"MASQUERADE"/,
      );
  });

  it('deletions, garbage and foreign rules are not events', () => {
    const masqAdd = lines.find(isAdd) as string;
    expect(isAdd(masqAdd.replace('{"add"', '{"delete"'))).toBe(false);
    expect(isAdd('not json')).toBe(false);
    expect(isAdd(event({ family: 'ip', table: 'nat', chain: 'FLANNEL-POSTRTG', expr: 'x' }))).toBe(
      false,
    );
    expect(isAdd(masqAdd.replace('"table": "nat"', '"table": "filter"'))).toBe(false);
    expect(isAdd(masqAdd.replace('FLANNEL-POSTRTG', 'KUBE-POSTROUTING'))).toBe(false);
    expect(isAdd(masqAdd.replace('"family": "ip"', '"family": "inet"'))).toBe(false);
    // A RETURN in flannel's chain, a native masquerade in an iptables-nft chain: not flannel's.
    expect(
      isAdd(
        event({ family: 'ip', table: 'nat', chain: 'FLANNEL-POSTRTG', expr: [{ return: null }] }),
      ),
    ).toBe(false);
    expect(
      isAdd(
        event({ family: 'ip', table: 'nat', chain: 'POSTROUTING', expr: [{ masquerade: null }] }),
      ),
    ).toBe(false);
  });

  it('an inserted rule (iptables -I) counts like an appended one', () => {
    const masqAdd = lines.find(isAdd) as string;
    expect(isAdd(masqAdd.replace('{"add"', '{"insert"'))).toBe(true);
    expect(isAdd(masqAdd.replace('{"add"', '{"replace"'))).toBe(false);
  });

  it('nftables-mode and POSTROUTING-era additions are recognised too (no facts needed)', () => {
    const nftMode = event({
      family: 'ip',
      table: 'flannel-ipv4',
      chain: 'postrtg',
      handle: 7,
      expr: [{ masquerade: { flags: 'fully-random' } }],
    });
    expect(isAdd(nftMode)).toBe(true);
    expect(isAdd(nftMode.replace('"masquerade"', '"return"'))).toBe(false);
    const v10 = event({
      family: 'ip',
      table: 'nat',
      chain: 'POSTROUTING',
      handle: 3,
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'ip', field: 'saddr' } },
            right: { prefix: { addr: '10.244.0.0', len: 16 } },
          },
        },
        { counter: { packets: 0, bytes: 0 } },
        { xt: { type: 'target', name: 'MASQUERADE' } },
      ],
    });
    expect(isAdd(v10)).toBe(true);
  });
});

describe('mayBeFlannelMasquerade (the poll and the monitor, without facts)', () => {
  const XT = { xt: { type: 'target', name: 'MASQUERADE' } };
  const NATIVE = { masquerade: null };

  it('is true for a masquerade of the right kind in each of flannel candidate chains', () => {
    for (const f of ['ip', 'ip6']) {
      expect(mayBeFlannelMasquerade(f, 'nat', 'FLANNEL-POSTRTG', [XT])).toBe(true);
      // pre-v0.20: any MASQUERADE in nat POSTROUTING may be flannel's; the pass decides.
      expect(mayBeFlannelMasquerade(f, 'nat', 'POSTROUTING', [XT])).toBe(true);
    }
    expect(mayBeFlannelMasquerade('ip', 'flannel-ipv4', 'postrtg', [NATIVE])).toBe(true);
    expect(mayBeFlannelMasquerade('ip6', 'flannel-ipv6', 'postrtg', [NATIVE])).toBe(true);
    // Non-object expressions are skipped, not fatal.
    expect(mayBeFlannelMasquerade('ip', 'nat', 'FLANNEL-POSTRTG', [null, 'x', [XT], XT])).toBe(
      true,
    );
  });

  it('is false for the wrong kind of masquerade, other chains, tables or families', () => {
    expect(mayBeFlannelMasquerade('ip', 'nat', 'FLANNEL-POSTRTG', [NATIVE])).toBe(false);
    expect(mayBeFlannelMasquerade('ip', 'flannel-ipv4', 'postrtg', [XT])).toBe(false);
    expect(mayBeFlannelMasquerade('ip', 'nat', 'FLANNEL-POSTRTG', [{ return: null }])).toBe(false);
    expect(mayBeFlannelMasquerade('ip', 'nat', 'FLANNEL-POSTRTG', [])).toBe(false);
    expect(mayBeFlannelMasquerade('ip', 'nat', 'FLANNEL-POSTRTG', [[XT]])).toBe(false);
    expect(mayBeFlannelMasquerade('ip', 'nat', 'KUBE-POSTROUTING', [XT])).toBe(false);
    expect(mayBeFlannelMasquerade('ip', 'filter', 'FLANNEL-POSTRTG', [XT])).toBe(false);
    expect(mayBeFlannelMasquerade('inet', 'nat', 'FLANNEL-POSTRTG', [XT])).toBe(false);
    // The nftables-mode table of the other family.
    expect(mayBeFlannelMasquerade('ip6', 'flannel-ipv4', 'postrtg', [NATIVE])).toBe(false);
    // A native masquerade must be the expression's only key.
    expect(
      mayBeFlannelMasquerade('ip', 'flannel-ipv4', 'postrtg', [{ masquerade: null, x: 1 }]),
    ).toBe(false);
  });
});

describe('isFlannelChainAdd and FLANNEL_CHAIN_NEEDLES (flanneld creating its chains)', () => {
  // As nft 1.0.6 `-j monitor chains` prints a chain addition.
  const line = (op: string, family: string, table: string, name: string): string =>
    `{"${op}": {"chain": {"family": "${family}", "table": "${table}", "name": "${name}", "handle": 5}}}`;
  const isChainAdd = (l: string): boolean => {
    const ev = parseMonitorLine(l);
    return ev !== null && isFlannelChainAdd(ev);
  };
  const TRUE_LINES = [
    line('add', 'ip', 'nat', 'FLANNEL-POSTRTG'),
    line('add', 'ip6', 'nat', 'FLANNEL-POSTRTG'),
    line('add', 'ip', 'flannel-ipv4', 'postrtg'),
    line('add', 'ip6', 'flannel-ipv6', 'postrtg'),
  ];

  it('is true for flannel chains created in ip nat and in its nftables-mode tables', () => {
    for (const l of TRUE_LINES) expect(isChainAdd(l), l).toBe(true);
  });

  it('counts iptables-nft\'s exclusive chain creation ("create") too, not "replace"', () => {
    expect(isChainAdd(line('create', 'ip', 'nat', 'FLANNEL-POSTRTG'))).toBe(true);
    expect(isChainAdd(line('create', 'ip6', 'nat', 'FLANNEL-POSTRTG'))).toBe(true);
    expect(isChainAdd(line('create', 'ip', 'nat', 'POSTROUTING'))).toBe(false);
    expect(isChainAdd(line('replace', 'ip', 'nat', 'FLANNEL-POSTRTG'))).toBe(false);
  });

  it('is false for POSTROUTING, KUBE-* chains, other places and deletions', () => {
    expect(isChainAdd(line('add', 'ip', 'nat', 'POSTROUTING'))).toBe(false);
    expect(isChainAdd(line('add', 'ip', 'nat', 'KUBE-POSTROUTING'))).toBe(false);
    expect(isChainAdd(line('add', 'ip', 'nat', 'KUBE-SERVICES'))).toBe(false);
    expect(isChainAdd(line('add', 'ip', 'filter', 'FLANNEL-POSTRTG'))).toBe(false);
    expect(isChainAdd(line('add', 'ip', 'nat', 'postrtg'))).toBe(false);
    expect(isChainAdd(line('add', 'ip', 'flannel-ipv4', 'FLANNEL-POSTRTG'))).toBe(false);
    expect(isChainAdd(line('add', 'ip6', 'flannel-ipv4', 'postrtg'))).toBe(false);
    expect(isChainAdd(line('add', 'inet', 'nat', 'FLANNEL-POSTRTG'))).toBe(false);
    expect(isChainAdd(line('delete', 'ip', 'nat', 'FLANNEL-POSTRTG'))).toBe(false);
    expect(isChainAdd(line('delete', 'ip', 'flannel-ipv4', 'postrtg'))).toBe(false);
    // A rule addition in flannel's chain is not a chain addition.
    expect(
      isChainAdd(
        '{"add": {"rule": {"family": "ip", "table": "nat", "chain": "FLANNEL-POSTRTG", "handle": 7, "expr": [{"xt": {"type": "target", "name": "MASQUERADE"}}]}}}',
      ),
    ).toBe(false);
  });

  it('every line it is true for passes the monitor prefilter (contains a needle)', () => {
    for (const l of TRUE_LINES)
      expect(
        FLANNEL_CHAIN_NEEDLES.some((n) => l.includes(n)),
        l,
      ).toBe(true);
    // and a KUBE chain does not.
    expect(
      FLANNEL_CHAIN_NEEDLES.some((n) => line('add', 'ip', 'nat', 'KUBE-POSTROUTING').includes(n)),
    ).toBe(false);
  });
});
