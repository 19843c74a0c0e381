import { describe, expect, it } from 'vitest';
import { parseIp } from '../../daemon/src/net/cidr.js';
import { explainPacket, type Packet } from '../../daemon/src/plan/explain.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { cidr, makeConfig } from '../helpers/config.js';

function packet(dst: string, opts: { src?: string; local?: boolean } = {}): Packet {
  const d = parseIp(dst)!;
  return {
    family: d.family,
    dst: d.addr,
    src: opts.src ? parseIp(opts.src)!.addr : null,
    dstIsLocal: opts.local ?? false,
  };
}

const facts = {
  podNetwork: { ipv4: { network: cidr('10.244.0.0/16'), subnet: cidr('10.244.1.0/24') } },
};

describe('explainPacket', () => {
  const plan = buildPlan(makeConfig({ nonMasqueradeCIDRs: ['198.51.100.0/24'] }), facts);

  it.each([
    ['198.51.100.7', {}, 'keep source', 'non-masquerade'],
    ['203.0.113.7', {}, 'masquerade', 'masquerade'],
    ['169.254.169.254', {}, 'keep source', 'link-local'],
    ['203.0.113.7', { local: true }, 'keep source', 'local'],
    ['10.244.9.9', { src: '10.244.1.5' }, 'keep source', 'pod-to-pod'],
    ['10.244.1.9', {}, 'keep source', 'node-pod-subnet'],
    // Without a source the pod-to-pod rule cannot match, and the cluster network is not in
    // nonMasqueradeCIDRs here: the host itself talking to a remote pod is masqueraded.
    ['10.244.9.9', {}, 'masquerade', 'masquerade'],
  ] as const)('%s %o → %s by rule %s', (dst, opts, decision, id) => {
    const r = explainPacket(plan, packet(dst, opts));
    expect(r.decision).toBe(decision);
    expect(r.rule?.id).toBe(id);
  });

  it('names the deciding rule in nft syntax with its position', () => {
    const r = explainPacket(plan, packet('203.0.113.7'));
    expect(r.rule).toMatchObject({ position: 6, text: 'counter masquerade fully-random' });
    expect(explainPacket(plan, packet('198.51.100.1')).rule?.text).toBe(
      'ip daddr @nomasq counter return',
    );
  });

  it('says that IPv6 is not ours when enableIPv6 is false, and decides it when true', () => {
    expect(explainPacket(plan, packet('2001:db8::1'))).toMatchObject({
      decision: 'keep source',
      rule: null,
    });
    const dual = buildPlan(makeConfig({ enableIPv6: true, nonMasqueradeCIDRs: ['fd00::/8'] }));
    expect(explainPacket(dual, packet('fd12::1')).rule?.id).toBe('non-masquerade');
    expect(explainPacket(dual, packet('fe80::1')).rule?.id).toBe('link-local');
    expect(explainPacket(dual, packet('2001:db8::1')).decision).toBe('masquerade');
  });

  it('masquerades link-local when masqLinkLocal is true', () => {
    const p = buildPlan(makeConfig({ masqLinkLocal: true }));
    expect(explainPacket(p, packet('169.254.169.254')).decision).toBe('masquerade');
  });
});
