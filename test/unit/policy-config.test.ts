/**
 * The policy keys through the production parse + merge: values, drop-in merge rules (lists
 * unioned, SNAT addresses in one file only), and every invalid value as one line with
 * file:line:col and the fix.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeConfigFiles } from '../../daemon/src/config/merge.js';
import { configToJson } from '../../daemon/src/config/to-json.js';
import { ConfigError, formatConfigIssue } from '../../daemon/src/errors.js';
import { formatCidr } from '../../daemon/src/net/cidr.js';
import { cli, tempDir } from '../helpers/cli.js';

type Files = Array<[string, string]>;

function merge(files: Files) {
  return mergeConfigFiles(files.map(([path, text]) => ({ path, text })));
}

function problems(files: Files): string[] {
  try {
    merge(files);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(formatConfigIssue);
    throw e;
  }
  return [];
}

describe('policy keys: values and drop-ins', () => {
  it('reads every key, unions the lists across files in file order, with per-entry places', () => {
    const merged = merge([
      [
        'config.yaml',
        'enableIPv6: true\nmasqueradeCIDRs: [10.1.0.0/16]\noutputInterfaces: ["eth*"]\nsourceCIDRs: [10.244.0.0/16]\nsnatAddress: 192.0.2.9\n',
      ],
      [
        'config.d/a.yaml',
        'masqueradeCIDRs:\n  - 169.254.169.254/32\n  - fd00:1::/32\noutputInterfaces: [ens3]\nsourceCIDRs: [fd00:10:244::/48]\nsnatAddressIPv6: "2001:DB8::9"\n',
      ],
    ]);
    const c = merged.config;
    expect(c.masqueradeCIDRs.map(formatCidr)).toEqual([
      '10.1.0.0/16',
      '169.254.169.254/32',
      'fd00:1::/32',
    ]);
    expect(c.outputInterfaces).toEqual(['eth*', 'ens3']);
    expect(c.sourceCIDRs.map(formatCidr)).toEqual(['10.244.0.0/16', 'fd00:10:244::/48']);
    expect([c.snatAddress, c.snatAddressIPv6]).toEqual(['192.0.2.9', '2001:db8::9']);
    expect(merged.listSources('masqueradeCIDRs')).toEqual([
      { file: 'config.yaml', line: 2, col: 19 },
      { file: 'config.d/a.yaml', line: 2, col: 5 },
      { file: 'config.d/a.yaml', line: 3, col: 5 },
    ]);
    expect(configToJson(c)).toMatchObject({
      masqueradeCIDRs: ['10.1.0.0/16', '169.254.169.254/32', 'fd00:1::/32'],
      outputInterfaces: ['eth*', 'ens3'],
      snatAddress: '192.0.2.9',
    });
  });

  it('SNAT addresses may be set in one file only', () => {
    expect(
      problems([
        ['config.yaml', 'snatAddress: 192.0.2.9\n'],
        ['config.d/a.yaml', 'snatAddress: 192.0.2.10\n'],
      ]),
    ).toEqual([
      'config.d/a.yaml:1:1: snatAddress: also set in config.yaml:1:1; every key except nonMasqueradeCIDRs, masqueradeCIDRs, outputInterfaces, sourceCIDRs may be set in one file only: remove one of them',
    ]);
  });
});

describe('policy keys: every invalid value, with its place and the fix', () => {
  it.each([
    [
      'masqueradeCIDRs: [10.1.2.3/16]\n',
      'f.yaml:1:19: masqueradeCIDRs[0]: "10.1.2.3/16" is not aligned to its prefix; did you mean 10.1.0.0/16?',
    ],
    [
      'masqueradeCIDRs: 10.1.0.0/16\n',
      'f.yaml:1:18: masqueradeCIDRs: expected a list of CIDRs, got string "10.1.0.0/16"; write [10.1.0.0/16]',
    ],
    [
      'masqueradeCIDRs: [fd00::/8]\n',
      'f.yaml:1:19: masqueradeCIDRs[0]: "fd00::/8" is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it',
    ],
    [
      'sourceCIDRs: [10.244.0.0/33]\n',
      'f.yaml:1:15: sourceCIDRs[0]: "10.244.0.0/33" has prefix length 33, out of range for IPv4 (0-32)',
    ],
    [
      'outputInterfaces: ["e*h0"]\n',
      `f.yaml:1:20: outputInterfaces[0]: "e*h0" has '*' inside the name; '*' is a wildcard only at the end, e.g. "eth*"`,
    ],
    [
      'outputInterfaces: [averyveryverylongname]\n',
      'f.yaml:1:20: outputInterfaces[0]: "averyveryverylongname" is 21 characters long; Linux interface names have at most 15',
    ],
    [
      'outputInterfaces: [12]\n',
      'f.yaml:1:20: outputInterfaces[0]: expected interface name string, got number 12',
    ],
    [
      'snatAddress: 192.0.2.0/24\n',
      'f.yaml:1:14: snatAddress: "192.0.2.0/24" is a prefix, not an address; write one IPv4 address of this node, e.g. 192.0.2.9',
    ],
    [
      'snatAddress: "2001:db8::9"\n',
      'f.yaml:1:14: snatAddress: "2001:db8::9" is an IPv6 address; this key takes IPv4: move it to snatAddressIPv6',
    ],
    [
      'snatAddressIPv6: "2001:db8::9"\n',
      'f.yaml:1:1: snatAddressIPv6: is set but enableIPv6 is false; set enableIPv6: true, or remove snatAddressIPv6',
    ],
    [
      'enableIPv6: true\nsourceCIDRs: [10.244.0.0/16]\n',
      'f.yaml:2:15: sourceCIDRs: has no IPv6 entry while enableIPv6 is true, so no IPv6 packet would be masqueraded; add the IPv6 sources (e.g. the IPv6 pod network), or set enableIPv6: false (the same effect)',
    ],
    [
      'masqueradeCIDRs: [169.254.0.0/16]\n',
      'f.yaml:1:19: masqueradeCIDRs[0]: 169.254.0.0/16 is the implicit link-local entry of nonMasqueradeCIDRs (masqLinkLocal is false), so no prefix is longer; set masqLinkLocal: true instead, or list a longer prefix',
    ],
  ])('%j', (text, expected) => {
    expect(problems([['f.yaml', text]])).toEqual([expected]);
  });

  it('the same prefix in both lists, across files, names both places', () => {
    expect(
      problems([
        ['config.yaml', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.0.0/16\n'],
        ['config.d/a.yaml', 'masqueradeCIDRs:\n  - 10.1.0.0/16\n'],
      ]),
    ).toEqual([
      'config.d/a.yaml:2:5: masqueradeCIDRs[0]: 10.1.0.0/16 is also in nonMasqueradeCIDRs at config.yaml:3; the same prefix cannot be in both lists (neither is longer): remove one of them',
    ]);
    expect(problems([['config.yaml', 'masqueradeCIDRs: [192.168.0.0/16]\n']])).toEqual([
      'config.yaml:1:19: masqueradeCIDRs[0]: 192.168.0.0/16 is also in the default nonMasqueradeCIDRs (no file sets the list); the same prefix cannot be in both lists (neither is longer): remove one of them',
    ]);
  });
});

describe('the operator tools on the policy keys (CLI in-process)', () => {
  const dir = tempDir('policy');
  const config = join(dir, 'config.yaml');
  mkdirSync(join(dir, 'config.d'));
  writeFileSync(
    config,
    [
      'nonMasqueradeCIDRs: [10.0.0.0/8, 10.1.2.0/24]',
      'sourceCIDRs: [10.244.0.0/16]',
      'outputInterfaces: ["eth*"]',
      'snatAddress: 192.0.2.9',
      'flannel:',
      `  subnetEnv: ${join(dir, 'none.env')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'config.d', '10-exceptions.yaml'), 'masqueradeCIDRs:\n  - 10.1.0.0/16\n');

  it('check --json shows each new key with the file and line of each entry', async () => {
    const r = await cli('check', '--json', '--config', config);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Record<string, unknown> & {
      sources: Record<string, unknown>;
    };
    expect(json).toMatchObject({
      masqueradeCIDRs: ['10.1.0.0/16'],
      sourceCIDRs: ['10.244.0.0/16'],
      outputInterfaces: ['eth*'],
      snatAddress: '192.0.2.9',
      snatAddressIPv6: null,
    });
    expect(json.sources).toMatchObject({
      masqueradeCIDRs: [
        { cidr: '10.1.0.0/16', file: join(dir, 'config.d', '10-exceptions.yaml'), line: 2 },
      ],
      sourceCIDRs: [{ cidr: '10.244.0.0/16', file: config, line: 2 }],
      outputInterfaces: [{ name: 'eth*', file: config, line: 3 }],
      settings: { snatAddress: `${config}:4:1` },
    });
  });

  it('explain names the deciding entry of each key with file:line, and takes --oif', async () => {
    const r = await cli(
      'explain',
      '10.1.9.9',
      '--src',
      '10.244.1.2',
      '--oif',
      'eth0',
      '--config',
      config,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `longest prefix 10.1.0.0/16 is a masqueradeCIDRs entry (${join(dir, 'config.d', '10-exceptions.yaml')}:2) → masquerade`,
    );
    expect(r.stdout).toContain(`outputInterfaces: eth0 matches "eth*" (${config}:3)`);
    expect(r.stdout).toMatch(
      /^10\.1\.9\.9: masquerade\n {2}rule \d+: counter snat to 192\.0\.2\.9 fully-random/,
    );
    const keep = await cli(
      'explain',
      '10.1.9.9',
      '--src',
      '10.244.1.2',
      '--oif',
      'wg0',
      '--config',
      config,
    );
    expect(keep.stdout).toMatch(
      /^10\.1\.9\.9: keep source\n {2}rule \d+: oifname != "eth\*" counter return/,
    );
    expect((await cli('explain', '10.1.9.9', '--oif', 'eth*', '--config', config)).code).toBe(2);
  });

  it('an invalid value: exit 6, file:line:col and the fix on stderr', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'outputInterfaces: ["eth 0"]\n');
    const r = await cli('check', '--config', bad);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`${bad}:1:20: outputInterfaces[0]: "eth 0" contains whitespace`);
  });
});
