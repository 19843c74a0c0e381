import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { parseCidr, formatCidr, type Cidr } from '../../daemon/src/net/cidr.js';
import { parseSubnetEnv, resolveFlannelFacts } from '../../daemon/src/flannel/subnet-env.js';
import { readFlannelFacts } from '../../daemon/src/flannel/read-facts.js';

const cidr = (t: string): Cidr => {
  const r = parseCidr(t);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
};
const noOverride = { clusterCIDR: [] as Cidr[], nodeSubnet: [] as Cidr[] };

// What flanneld v0.28 writes on a dual-stack node (pkg/subnet/subnet.go WriteSubnetFile).
const DUAL = `FLANNEL_NETWORK=10.244.0.0/16
FLANNEL_SUBNET=10.244.1.1/24
FLANNEL_IPV6_NETWORK=fd00:10:244::/56
FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
`;

describe('parseSubnetEnv', () => {
  it('reads every key and clears the gateway host bits of FLANNEL_SUBNET', () => {
    const { env, problems } = parseSubnetEnv(DUAL, '/run/flannel/subnet.env');
    expect(problems).toEqual([]);
    expect(formatCidr(env.network4!)).toBe('10.244.0.0/16');
    expect(formatCidr(env.subnet4!)).toBe('10.244.1.0/24');
    expect(formatCidr(env.network6!)).toBe('fd00:10:244::/56');
    expect(formatCidr(env.subnet6!)).toBe('fd00:10:244:1::/64');
    expect(env.mtu).toBe(1450);
    expect(env.ipMasq).toBe(true);
  });

  it('tolerates comments, blank lines, CRLF, export and quotes; ignores unknown keys', () => {
    const text =
      '# written by flanneld\r\n\r\nexport FLANNEL_NETWORK="10.244.0.0/16"\r\nFLANNEL_SUBNET=\'10.244.7.1/24\'\r\nFLANNEL_FUTURE=x\r\nFLANNEL_IPMASQ=false\r\n';
    const { env, problems } = parseSubnetEnv(text, 'f');
    expect(problems).toEqual([]);
    expect(formatCidr(env.network4!)).toBe('10.244.0.0/16');
    expect(formatCidr(env.subnet4!)).toBe('10.244.7.0/24');
    expect(env.ipMasq).toBe(false);
  });

  it('reports each bad line with its number and keeps the good ones', () => {
    const text = [
      'FLANNEL_NETWORK=10.244.0.0/33',
      'garbage line',
      'FLANNEL_SUBNET=10.244.1.1/24',
      'FLANNEL_IPMASQ=yes',
      'FLANNEL_MTU=abc',
      'FLANNEL_IPV6_NETWORK=10.0.0.0/8',
      'FLANNEL_NETWORK="10.0.0.0/8',
    ].join('\n');
    const { env, problems } = parseSubnetEnv(text, 'subnet.env');
    expect(formatCidr(env.subnet4!)).toBe('10.244.1.0/24');
    expect(env.network4).toBeUndefined();
    expect(env.ipMasq).toBeUndefined();
    expect(problems).toHaveLength(6);
    expect(problems[0]).toMatch(/^subnet\.env:1: FLANNEL_NETWORK: .*prefix length 33/);
    expect(problems[1]).toMatch(/^subnet\.env:2: expected KEY=VALUE/);
    expect(problems[2]).toMatch(/^subnet\.env:4: FLANNEL_IPMASQ: "yes" is not true or false/);
    expect(problems[3]).toMatch(/^subnet\.env:5: FLANNEL_MTU/);
    expect(problems[4]).toMatch(/^subnet\.env:6: FLANNEL_IPV6_NETWORK: .*not an IPv6 prefix/);
    expect(problems[5]).toMatch(/^subnet\.env:7: FLANNEL_NETWORK: unbalanced quotes/);
  });

  it('rejects a subnet of the wrong family and a missing prefix length', () => {
    const { problems } = parseSubnetEnv(
      'FLANNEL_SUBNET=fd00::1/64\nFLANNEL_IPV6_SUBNET=fd00::1',
      'f',
    );
    expect(problems[0]).toMatch(/^f:1: FLANNEL_SUBNET: .*expected IPv4/);
    expect(problems[1]).toMatch(/^f:2: FLANNEL_IPV6_SUBNET: .*no prefix length/);
  });
});

describe('resolveFlannelFacts', () => {
  it('no file and no override: no flannel', () => {
    expect(resolveFlannelFacts(noOverride, null)).toEqual({ facts: null, problems: [] });
  });

  it('file only: both families, ipMasq, source is the path', () => {
    const { facts, problems } = resolveFlannelFacts(noOverride, {
      text: DUAL,
      path: '/run/flannel/subnet.env',
    });
    expect(problems).toEqual([]);
    expect(facts?.source).toBe('/run/flannel/subnet.env');
    expect(facts?.ipMasq).toBe(true);
    expect(formatCidr(facts!.ipv4!.network)).toBe('10.244.0.0/16');
    expect(formatCidr(facts!.ipv4!.subnet)).toBe('10.244.1.0/24');
    expect(formatCidr(facts!.ipv6!.subnet)).toBe('fd00:10:244:1::/64');
  });

  it('config overrides win over the file, per family', () => {
    const { facts } = resolveFlannelFacts(
      { clusterCIDR: [cidr('10.42.0.0/16')], nodeSubnet: [cidr('10.42.3.0/24')] },
      { text: DUAL, path: 'p' },
    );
    expect(facts?.source).toBe('config+p');
    expect(formatCidr(facts!.ipv4!.network)).toBe('10.42.0.0/16');
    expect(formatCidr(facts!.ipv4!.subnet)).toBe('10.42.3.0/24');
    expect(formatCidr(facts!.ipv6!.network)).toBe('fd00:10:244::/56');
  });

  it('overrides without a file; a family with only C is rejected with a fix', () => {
    const { facts, problems } = resolveFlannelFacts(
      {
        clusterCIDR: [cidr('10.42.0.0/16'), cidr('fd00::/48')],
        nodeSubnet: [cidr('10.42.3.0/24')],
      },
      null,
    );
    expect(facts?.source).toBe('config');
    expect(facts?.ipMasq).toBeNull();
    expect(facts?.ipv4).toBeDefined();
    expect(facts?.ipv6).toBeUndefined();
    expect(problems).toEqual([]);
    expect(facts?.rejected?.ipv6).toMatch(/IPv6 cluster network fd00::\/48 .*flannel\.nodeSubnet/);
    expect(facts?.rejected?.ipv4).toBeUndefined();
  });

  it('a malformed line rejects its family (the line is named); other families still count', () => {
    const { facts, problems } = resolveFlannelFacts(noOverride, {
      text: 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=bogus\nFLANNEL_IPV6_NETWORK=fd00::/48\nFLANNEL_IPV6_SUBNET=fd00:0:0:1::1/64\n',
      path: 'p',
    });
    expect(facts?.ipv4).toBeUndefined();
    expect(formatCidr(facts!.ipv6!.subnet)).toBe('fd00:0:0:1::/64');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^p:2: FLANNEL_SUBNET/);
    expect(facts?.rejected).toEqual({ ipv4: problems[0] });
  });

  it('rejects a node subnet outside the cluster network; warns on duplicate overrides', () => {
    const { facts, problems } = resolveFlannelFacts(
      {
        clusterCIDR: [cidr('10.42.0.0/16'), cidr('10.43.0.0/16')],
        nodeSubnet: [cidr('10.99.0.0/24')],
      },
      null,
    );
    expect(facts?.ipv4).toBeUndefined();
    expect(problems.some((p) => /2 IPv4 prefixes given, using 10\.42\.0\.0\/16/.test(p))).toBe(
      true,
    );
    expect(facts?.rejected?.ipv4).toMatch(
      /config: flannel\.nodeSubnet 10\.99\.0\.0\/24: node subnet 10\.99\.0\.0\/24 is not inside the cluster network 10\.42\.0\.0\/16/,
    );
  });

  it.each([
    [
      'FLANNEL_NETWORK=0.0.0.0/0\nFLANNEL_SUBNET=10.244.1.1/24',
      'ipv4',
      /p:1: FLANNEL_NETWORK=0\.0\.0\.0\/0: cluster network 0\.0\.0\.0\/0 is shorter than \/8/,
    ],
    ['FLANNEL_NETWORK=10.0.0.0/7\nFLANNEL_SUBNET=10.244.1.1/24', 'ipv4', /shorter than \/8/],
    [
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.1.1.1/1',
      'ipv4',
      /p:2: FLANNEL_SUBNET=10\.1\.1\.1\/1: node subnet 0\.0\.0\.0\/1 is not inside the cluster network 10\.244\.0\.0\/16/,
    ],
    [
      'FLANNEL_NETWORK=fd00::/48\nFLANNEL_SUBNET=10.244.1.1/24',
      'ipv4',
      /p:1: FLANNEL_NETWORK: "fd00::\/48" is not an IPv4 prefix/,
    ],
    ['FLANNEL_IPV6_NETWORK=::/0\nFLANNEL_IPV6_SUBNET=fd00::1/64', 'ipv6', /shorter than \/32/],
    ['FLANNEL_IPV6_NETWORK=fd00::/48\nFLANNEL_IPV6_SUBNET=10.244.1.1/24', 'ipv6', /expected IPv6/],
  ] as const)('rejects implausible facts: %j', (text, family, reason) => {
    const { facts } = resolveFlannelFacts(noOverride, { text, path: 'p' });
    expect(facts?.[family]).toBeUndefined();
    expect(facts?.rejected?.[family]).toMatch(reason);
  });

  it('accepts a /8 IPv4 and a /32 IPv6 cluster network (the documented bounds)', () => {
    const { facts } = resolveFlannelFacts(noOverride, {
      text: 'FLANNEL_NETWORK=10.0.0.0/8\nFLANNEL_SUBNET=10.9.1.1/24\nFLANNEL_IPV6_NETWORK=2001:db8::/32\nFLANNEL_IPV6_SUBNET=2001:db8:0:1::1/64',
      path: 'p',
    });
    expect(facts?.rejected).toBeUndefined();
    expect(facts?.ipv4 && facts.ipv6).toBeTruthy();
  });
});

describe('readFlannelFacts', () => {
  it('reads the file; ENOENT means no facts and no problem; EISDIR is a problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipm-subnet-'));
    try {
      const path = join(dir, 'subnet.env');
      await writeFile(path, DUAL);
      const ok = await readFlannelFacts({ subnetEnv: path, ...noOverride });
      expect(ok.facts?.ipv4).toBeDefined();
      expect(await readFlannelFacts({ subnetEnv: join(dir, 'absent'), ...noOverride })).toEqual({
        facts: null,
        problems: [],
        rejected: [],
      });
      await mkdir(join(dir, 'adir'));
      const bad = await readFlannelFacts({ subnetEnv: join(dir, 'adir'), ...noOverride });
      expect(bad.facts?.ipv4).toBeUndefined();
      expect(bad.rejected).toEqual([
        expect.stringMatching(/cannot read flannel's lease file .*adir: is a directory/),
      ]);
      expect(Object.keys(bad.facts?.rejected ?? {})).toEqual(['ipv4', 'ipv6']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseSubnetEnv never throws', () => {
  const line = fc.oneof(
    fc.string(),
    fc
      .constantFrom(
        'FLANNEL_NETWORK',
        'FLANNEL_SUBNET',
        'FLANNEL_IPV6_NETWORK',
        'FLANNEL_IPV6_SUBNET',
        'FLANNEL_MTU',
        'FLANNEL_IPMASQ',
      )
      .chain((k) =>
        fc
          .oneof(
            fc.string(),
            fc.ipV4(),
            fc.ipV6(),
            fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([a, l]) => `${a}/${l}`),
          )
          .map((v) => `${k}=${v}`),
      ),
  );
  fcTest.prop([fc.array(line, { maxLength: 12 })])(
    'every problem names its line; facts resolve',
    (lines) => {
      const text = lines.join('\n');
      const { problems } = parseSubnetEnv(text, 'f');
      const count = text.split(/\r?\n/).length;
      for (const p of problems) {
        const n = Number(/^f:(\d+): /.exec(p)?.[1]);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(count);
      }
      expect(() => resolveFlannelFacts(noOverride, { text, path: 'f' })).not.toThrow();
    },
  );
});
