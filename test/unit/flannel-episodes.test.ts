import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FlannelReaddTracker, FLANNEL_MASQ_FIX } from '../../daemon/src/flannel/episodes.js';
import { isFlannelMasqueradeAdd } from '../../daemon/src/flannel/match.js';
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
