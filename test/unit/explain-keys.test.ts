/** `explain`, key by key: the entry that decides, with its file:line, for every policy key. */
import { describe, expect, it } from 'vitest';
import { parseIp } from '../../daemon/src/net/cidr.js';
import { explainKeys, type PolicySources } from '../../daemon/src/plan/explain-keys.js';
import { policyWarnings } from '../../daemon/src/plan/policy-warnings.js';
import type { Packet } from '../../daemon/src/plan/explain.js';
import { cidr, makeConfig } from '../helpers/config.js';

function packet(dst: string, opts: { src?: string; oif?: string } = {}): Packet {
  const d = parseIp(dst)!;
  return {
    family: d.family,
    dst: d.addr,
    src: opts.src ? parseIp(opts.src)!.addr : null,
    dstIsLocal: false,
    ...(opts.oif !== undefined ? { oif: opts.oif } : {}),
  };
}

const config = makeConfig({
  nonMasqueradeCIDRs: ['10.0.0.0/8', '10.1.2.0/24'],
  masqueradeCIDRs: [cidr('10.1.0.0/16')],
  sourceCIDRs: [cidr('10.244.0.0/16')],
  outputInterfaces: ['eth*'],
  snatAddress: '192.0.2.9',
});
const sources: PolicySources = {
  nonMasqueradeCIDRs: [
    { value: cidr('10.0.0.0/8'), where: 'config.yaml:2' },
    { value: cidr('10.1.2.0/24'), where: 'config.d/b.yaml:1' },
  ],
  masqueradeCIDRs: [{ value: cidr('10.1.0.0/16'), where: 'config.d/a.yaml:3' }],
  sourceCIDRs: [{ value: cidr('10.244.0.0/16'), where: 'config.yaml:5' }],
  outputInterfaces: [{ value: 'eth*', where: 'config.yaml:7' }],
  snatAddress: 'config.yaml:9',
  snatAddressIPv6: null,
};

const text = (dst: string, opts: { src?: string; oif?: string } = {}): string[] =>
  explainKeys(config, sources, packet(dst, opts)).map((k) => `${k.key}: ${k.text}`);

describe('explainKeys', () => {
  it('names the longest-prefix entry and its place, three levels deep', () => {
    expect(text('10.9.9.9')[0]).toBe(
      'nonMasqueradeCIDRs/masqueradeCIDRs: longest prefix 10.0.0.0/8, a nonMasqueradeCIDRs entry (config.yaml:2) → keep source',
    );
    expect(text('10.1.9.9')[0]).toBe(
      'nonMasqueradeCIDRs/masqueradeCIDRs: longest prefix 10.1.0.0/16 is a masqueradeCIDRs entry (config.d/a.yaml:3) → masquerade',
    );
    expect(text('10.1.2.3')[0]).toMatch(
      /10\.1\.2\.0\/24, a nonMasqueradeCIDRs entry \(config\.d\/b\.yaml:1\)/,
    );
    expect(text('169.254.1.1')[0]).toMatch(/link-local \(masqLinkLocal is false\) → keep source/);
    expect(text('203.0.113.1')[0]).toMatch(/203\.0\.113\.1 is in no entry → masquerade/);
  });

  it('decides sourceCIDRs, outputInterfaces and snatAddress, or says what is missing', () => {
    expect(text('203.0.113.1', { src: '10.244.1.2', oif: 'eth0' }).slice(1)).toEqual([
      'sourceCIDRs: 10.244.1.2 is in 10.244.0.0/16 (config.yaml:5) → subject to masquerade',
      'outputInterfaces: eth0 matches "eth*" (config.yaml:7) → subject to masquerade',
      'snatAddress: a masqueraded packet leaves from 192.0.2.9 (config.yaml:9) (SNAT)',
    ]);
    expect(text('203.0.113.1', { src: '192.0.2.1', oif: 'wg0' }).slice(1, 3)).toEqual([
      'sourceCIDRs: 192.0.2.1 is in no entry → keep source',
      'outputInterfaces: wg0 matches no entry → keep source',
    ]);
    expect(text('203.0.113.1').slice(1, 3)).toEqual([
      'sourceCIDRs: no --src given: the source decides (pass --src IP)',
      'outputInterfaces: no --oif given: the output interface decides (pass --oif NAME)',
    ]);
  });

  it('without the policy keys: only the nonMasqueradeCIDRs line, naming the default list', () => {
    const plain = makeConfig();
    const s: PolicySources = {
      ...sources,
      nonMasqueradeCIDRs: [{ value: cidr('10.0.0.0/8'), where: null }],
      masqueradeCIDRs: [],
    };
    expect(explainKeys(plain, s, packet('10.3.3.3'))).toEqual([
      {
        key: 'nonMasqueradeCIDRs',
        text: 'in 10.0.0.0/8, a nonMasqueradeCIDRs entry (the default list) → keep source',
      },
    ]);
    expect(explainKeys(plain, s, packet('2001:db8::1'))).toEqual([]);
  });
});

describe('policyWarnings', () => {
  const pods = {
    podNetwork: { ipv4: { network: cidr('10.244.0.0/16'), subnet: cidr('10.244.1.0/24') } },
  };
  it('warns about entries flannel overrides and entries that change nothing', () => {
    const c = makeConfig({
      nonMasqueradeCIDRs: ['10.0.0.0/8'],
      masqueradeCIDRs: [cidr('10.244.5.0/24'), cidr('203.0.113.0/24'), cidr('169.254.169.254/32')],
    });
    const s: PolicySources = {
      ...sources,
      nonMasqueradeCIDRs: [{ value: cidr('10.0.0.0/8'), where: 'config.yaml:1' }],
      masqueradeCIDRs: c.masqueradeCIDRs.map((value, i) => ({
        value,
        where: `config.yaml:${i + 3}`,
      })),
    };
    expect(policyWarnings(c, pods, s).map((w) => w.message)).toEqual([
      "10.244.5.0/24 overlaps flannel's pod network (pod to pod) 10.244.0.0/16: flannel's exclusions come first, so pod traffic there keeps its source",
      '203.0.113.0/24 is inside no nonMasqueradeCIDRs entry, so it is masqueraded anyway: the entry changes nothing',
    ]);
    expect(policyWarnings(makeConfig(), pods, { ...s, masqueradeCIDRs: [] })).toEqual([]);
  });
});
