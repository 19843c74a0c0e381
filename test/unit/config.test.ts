import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_RESERVED_CIDRS, RFC1918_CIDRS } from '../../daemon/src/config/defaults.js';
import { findFastCidrList } from '../../daemon/src/config/fast-cidr-list.js';
import { parseGoDuration } from '../../daemon/src/config/duration.js';
import { defaultConfig } from '../../daemon/src/config/settings.js';
import { configToJson } from '../../daemon/src/config/to-json.js';
import type { Config } from '../../daemon/src/config/schema.js';
import { ConfigError, formatConfigIssue } from '../../daemon/src/errors.js';
import { formatCidr } from '../../daemon/src/net/cidr.js';
import { parseConfigText } from '../helpers/config.js';

const FILE = '/etc/ip-masq/config.yaml';

/** The issues of `text`, one formatted line each (throws if the text is valid). */
function issuesOf(text: string): string[] {
  try {
    parseConfigText(text, FILE);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.exitCode).toBe(6);
    expect(e.message).toBe(e.issues.map(formatConfigIssue).join('\n'));
    return e.issues.map(formatConfigIssue);
  }
  throw new Error(`expected issues for ${JSON.stringify(text)}`);
}

function json(text: string): Record<string, unknown> {
  return configToJson(parseConfigText(text, FILE));
}

const DEFAULT_JSON = {
  nonMasqueradeCIDRs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  collapsed: { ipv4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'], ipv6: [] },
  masqLinkLocal: false,
  masqLinkLocalIPv6: false,
  resyncInterval: '60s',
  cidrLimit: null,
  nomasqAllReservedRanges: false,
  enableIPv6: false,
  randomFully: true,
  flannel: {
    removeMasquerade: true,
    subnetEnv: '/run/flannel/subnet.env',
    removeLegacy: false,
    clusterCIDR: [],
    nodeSubnet: [],
  },
  toPorts: null,
  metrics: { textfileDir: null, listen: null },
  masqueradeCIDRs: [],
  outputInterfaces: [],
  sourceCIDRs: [],
  snatAddress: null,
  snatAddressIPv6: null,
};

describe('defaults', () => {
  it("defaultConfig is ip-masq-agent's defaults plus the flannel section", () => {
    const config = defaultConfig();
    expect(configToJson(config)).toEqual(DEFAULT_JSON);
    expect(config.resyncIntervalMs).toBe(60_000);
  });

  it.each([
    ['empty file', ''],
    ['whitespace only', '  \n\n\t\n'],
    ['comments only', '# ip-masq config\n# nonMasqueradeCIDRs: []\n'],
    ['{}', '{}'],
    ['{} with a newline', '{}\n'],
    ['explicit null document', 'null\n'],
    ['~', '~'],
    ['document start marker only', '---\n'],
    ['a UTF-8 BOM and a comment', '\ufeff# hello\n'],
    ['CRLF comments', '# a\r\n# b\r\n'],
  ])('%s → all defaults', (_name, text) => {
    expect(json(text)).toEqual(DEFAULT_JSON);
  });

  it('nomasqAllReservedRanges: true selects the 11 reserved ranges in upstream order', () => {
    const config = parseConfigText('nomasqAllReservedRanges: true\n', FILE);
    expect(config.nonMasqueradeCIDRs).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '100.64.0.0/10',
      '192.0.0.0/24',
      '192.0.2.0/24',
      '192.88.99.0/24',
      '198.18.0.0/15',
      '198.51.100.0/24',
      '203.0.113.0/24',
      '240.0.0.0/4',
    ]);
    expect(ALL_RESERVED_CIDRS).toEqual(config.nonMasqueradeCIDRs);
    expect(config.collapsed.ipv4.map(formatCidr)).toEqual([
      '10.0.0.0/8',
      '100.64.0.0/10',
      '172.16.0.0/12',
      '192.0.0.0/24',
      '192.0.2.0/24',
      '192.88.99.0/24',
      '192.168.0.0/16',
      '198.18.0.0/15',
      '198.51.100.0/24',
      '203.0.113.0/24',
      '240.0.0.0/4',
    ]);
  });

  it('an explicit list wins over nomasqAllReservedRanges (the flag only picks the default)', () => {
    expect(
      parseConfigText('nomasqAllReservedRanges: true\nnonMasqueradeCIDRs: [192.168.0.0/16]\n', FILE)
        .nonMasqueradeCIDRs,
    ).toEqual(['192.168.0.0/16']);
    expect(parseConfigText('nomasqAllReservedRanges: false\n', FILE).nonMasqueradeCIDRs).toEqual([
      ...RFC1918_CIDRS,
    ]);
  });

  it('returns a fresh object each time (callers may not share state through it)', () => {
    const a = defaultConfig();
    a.nonMasqueradeCIDRs.push('1.2.3.0/24');
    a.flannel.clusterCIDR.push({ family: 'ipv4', addr: 0n, len: 0 });
    expect(defaultConfig().nonMasqueradeCIDRs).toEqual([...RFC1918_CIDRS]);
    expect(defaultConfig().flannel.clusterCIDR).toEqual([]);
  });
});

describe('present keys replace their defaults', () => {
  it.each<[string, string, Record<string, unknown>]>([
    [
      'empty list',
      'nonMasqueradeCIDRs: []\n',
      { nonMasqueradeCIDRs: [], collapsed: { ipv4: [], ipv6: [] } },
    ],
    [
      'null list',
      'nonMasqueradeCIDRs:\n',
      { nonMasqueradeCIDRs: [], collapsed: { ipv4: [], ipv6: [] } },
    ],
    [
      'null list with a comment',
      'nonMasqueradeCIDRs: # none\nmasqLinkLocal: true\n',
      { nonMasqueradeCIDRs: [], collapsed: { ipv4: [], ipv6: [] }, masqLinkLocal: true },
    ],
    [
      'one CIDR, no RFC 1918 merged in',
      'nonMasqueradeCIDRs:\n  - 192.168.0.0/16\n',
      { nonMasqueradeCIDRs: ['192.168.0.0/16'], collapsed: { ipv4: ['192.168.0.0/16'], ipv6: [] } },
    ],
    [
      'order and duplicates kept as written, collapsed separately',
      'nonMasqueradeCIDRs: [10.128.0.0/9, 10.0.0.0/9, 10.0.0.0/9, 10.1.0.0/16]\n',
      {
        nonMasqueradeCIDRs: ['10.128.0.0/9', '10.0.0.0/9', '10.0.0.0/9', '10.1.0.0/16'],
        collapsed: { ipv4: ['10.0.0.0/8'], ipv6: [] },
      },
    ],
    [
      'IPv6 with enableIPv6, non-canonical spelling kept as written',
      'enableIPv6: true\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - FD00::/8\n  - 2001:0db8::/32\n',
      {
        enableIPv6: true,
        nonMasqueradeCIDRs: ['10.0.0.0/8', 'FD00::/8', '2001:0db8::/32'],
        collapsed: { ipv4: ['10.0.0.0/8'], ipv6: ['2001:db8::/32', 'fd00::/8'] },
      },
    ],
    [
      'IPv6 listed before enableIPv6 (order of keys does not matter)',
      'nonMasqueradeCIDRs: [fd00::/8]\nenableIPv6: true\n',
      {
        enableIPv6: true,
        nonMasqueradeCIDRs: ['fd00::/8'],
        collapsed: { ipv4: [], ipv6: ['fd00::/8'] },
      },
    ],
    [
      'every boolean flipped',
      'masqLinkLocal: true\nmasqLinkLocalIPv6: true\nrandomFully: false\nenableIPv6: true\nflannel:\n  removeMasquerade: false\n  removeLegacy: true\n',
      {
        masqLinkLocal: true,
        masqLinkLocalIPv6: true,
        randomFully: false,
        enableIPv6: true,
        flannel: {
          removeMasquerade: false,
          subnetEnv: '/run/flannel/subnet.env',
          removeLegacy: true,
          clusterCIDR: [],
          nodeSubnet: [],
        },
      },
    ],
    [
      'YAML 1.2 core booleans in other cases',
      'masqLinkLocal: True\nrandomFully: FALSE\n',
      { masqLinkLocal: true, randomFully: false },
    ],
    ['cidrLimit honoured when within the limit', 'cidrLimit: 3\n', { cidrLimit: 3 }],
    [
      'cidrLimit 0 with an empty list',
      'cidrLimit: 0\nnonMasqueradeCIDRs: []\n',
      { cidrLimit: 0, nonMasqueradeCIDRs: [], collapsed: { ipv4: [], ipv6: [] } },
    ],
    ['resyncInterval kept as written', 'resyncInterval: 1m30s\n', { resyncInterval: '1m30s' }],
    ['quoted resyncInterval', 'resyncInterval: "5m"\n', { resyncInterval: '5m' }],
    [
      'flannel section',
      'flannel:\n  subnetEnv: /run/flannel/other.env\n  clusterCIDR: 10.244.0.0/16\n  nodeSubnet: [10.244.1.0/24]\n',
      {
        flannel: {
          removeMasquerade: true,
          subnetEnv: '/run/flannel/other.env',
          removeLegacy: false,
          clusterCIDR: ['10.244.0.0/16'],
          nodeSubnet: ['10.244.1.0/24'],
        },
      },
    ],
    [
      'flannel dual-stack lists',
      'enableIPv6: true\nflannel:\n  clusterCIDR: [10.244.0.0/16, "fd42::/48"]\n  nodeSubnet:\n    - 10.244.1.0/24\n    - fd42:0:0:1::/64\n',
      {
        enableIPv6: true,
        flannel: {
          removeMasquerade: true,
          subnetEnv: '/run/flannel/subnet.env',
          removeLegacy: false,
          clusterCIDR: ['10.244.0.0/16', 'fd42::/48'],
          nodeSubnet: ['10.244.1.0/24', 'fd42:0:0:1::/64'],
        },
      },
    ],
    ['flannel: with nothing under it', 'flannel:\n#  removeLegacy: true\n', {}],
    ['flannel clusterCIDR null', 'flannel:\n  clusterCIDR:\n', {}],
    [
      'anchors and aliases resolve',
      'nonMasqueradeCIDRs: &nets [10.244.0.0/16]\nflannel:\n  clusterCIDR: *nets\n',
      {
        nonMasqueradeCIDRs: ['10.244.0.0/16'],
        collapsed: { ipv4: ['10.244.0.0/16'], ipv6: [] },
        flannel: {
          removeMasquerade: true,
          subnetEnv: '/run/flannel/subnet.env',
          removeLegacy: false,
          clusterCIDR: ['10.244.0.0/16'],
          nodeSubnet: [],
        },
      },
    ],
    [
      'JSON-escaped string (upstream test.go:268)',
      '{"resyncInterval": "\\u0035\\u006d"}',
      { resyncInterval: '5m' },
    ],
  ])('%s', (_name, text, changes) => {
    expect(json(text)).toEqual({ ...DEFAULT_JSON, ...changes });
  });

  it('resyncIntervalMs is the parsed duration', () => {
    expect(parseConfigText('resyncInterval: 1.5h\n', FILE).resyncIntervalMs).toBe(5_400_000);
    expect(parseConfigText('resyncInterval: 250ms\n', FILE).resyncIntervalMs).toBe(250);
  });
});

describe('JSON input (JSON is YAML 1.2)', () => {
  it('reads a JSON file', () => {
    const text = JSON.stringify(
      {
        nonMasqueradeCIDRs: ['10.0.0.0/8', '100.64.0.0/10'],
        masqLinkLocal: true,
        resyncInterval: '30s',
        cidrLimit: 10,
      },
      null,
      2,
    );
    expect(json(text)).toEqual({
      ...DEFAULT_JSON,
      nonMasqueradeCIDRs: ['10.0.0.0/8', '100.64.0.0/10'],
      collapsed: { ipv4: ['10.0.0.0/8', '100.64.0.0/10'], ipv6: [] },
      masqLinkLocal: true,
      resyncInterval: '30s',
      cidrLimit: 10,
    });
  });

  it('reports JSON errors with positions', () => {
    const text =
      '{\n  "masqLinkLocal": "true",\n  "nonMasqueradeCIDRs": ["10.0.0.0/8", "10.1.2.3/8"],\n  "resyncInterval": 60\n}\n';
    expect(issuesOf(text)).toEqual([
      `${FILE}:2:20: masqLinkLocal: expected boolean, got string "true"; write true without quotes`,
      `${FILE}:3:40: nonMasqueradeCIDRs[1]: "10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?`,
      `${FILE}:4:21: resyncInterval: expected a Go duration string such as "60s" or "1m30s", got number 60; add a unit, e.g. "60s"`,
    ]);
  });

  it('reports minified JSON errors with columns', () => {
    expect(issuesOf('{"nonMasqueradeCIDRs":["10.0.0.0/8","abcdefg"],"masqLinkLocal":1}')).toEqual([
      `${FILE}:1:37: nonMasqueradeCIDRs[1]: "abcdefg" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)`,
      `${FILE}:1:64: masqLinkLocal: expected boolean, got number 1; write true`,
    ]);
  });

  it('rejects duplicate keys in JSON (upstream: last one wins silently)', () => {
    expect(issuesOf('{"masqLinkLocal": true, "masqLinkLocal": false}')).toEqual([
      `${FILE}:1:25: masqLinkLocal: duplicate key "masqLinkLocal"; each key may appear only once`,
    ]);
  });
});

describe('errors: each with its line:col and path', () => {
  it.each([
    // Unknown and mis-spelt keys.
    [
      'nonMasqueradeCIRDs: []\n',
      [`1:1: unknown key "nonMasqueradeCIRDs"; did you mean nonMasqueradeCIDRs?`],
    ],
    [
      'NonMasqueradeCIDRs: []\n',
      [
        `1:1: unknown key "NonMasqueradeCIDRs"; did you mean nonMasqueradeCIDRs? (keys are case-sensitive)`,
      ],
    ],
    [
      'masqlinklocal: true\n',
      [`1:1: unknown key "masqlinklocal"; did you mean masqLinkLocal? (keys are case-sensitive)`],
    ],
    [
      'masq-link-local: true\n',
      [`1:1: unknown key "masq-link-local"; did you mean masqLinkLocal?`],
    ],
    ['enable-ipv6: true\n', [`1:1: unknown key "enable-ipv6"; did you mean enableIPv6?`]],
    ['resyncIntreval: 60s\n', [`1:1: unknown key "resyncIntreval"; did you mean resyncInterval?`]],
    ['cidrLimt: 5\n', [`1:1: unknown key "cidrLimt"; did you mean cidrLimit?`]],
    [
      'subnetEnv: /x\n',
      [
        `1:1: unknown key "subnetEnv"; did you mean flannel.subnetEnv? (it belongs under "flannel:")`,
      ],
    ],
    [
      'foo: 1\n',
      [
        `1:1: unknown key "foo"; valid keys at the top level: nonMasqueradeCIDRs, masqLinkLocal, masqLinkLocalIPv6, resyncInterval, cidrLimit, nomasqAllReservedRanges, enableIPv6, randomFully, flannel, toPorts, metrics, masqueradeCIDRs, outputInterfaces, sourceCIDRs, snatAddress, snatAddressIPv6`,
      ],
    ],
    [
      'flannel:\n  subnetenv: /x\n',
      [`2:3: flannel: unknown key "subnetenv"; did you mean subnetEnv? (keys are case-sensitive)`],
    ],
    [
      'flannel:\n  clusterCidr: 10.0.0.0/8\n',
      [
        `2:3: flannel: unknown key "clusterCidr"; did you mean clusterCIDR? (keys are case-sensitive)`,
      ],
    ],
    [
      'flannel:\n  bar: 1\n',
      [
        `2:3: flannel: unknown key "bar"; valid keys under "flannel:": removeMasquerade, subnetEnv, removeLegacy, clusterCIDR, nodeSubnet`,
      ],
    ],
    ['1: true\n', [`1:1: keys must be plain names, got number 1`]],
    [
      '<<: {masqLinkLocal: true}\n',
      [
        `1:1: unknown key "<<"; valid keys at the top level: nonMasqueradeCIDRs, masqLinkLocal, masqLinkLocalIPv6, resyncInterval, cidrLimit, nomasqAllReservedRanges, enableIPv6, randomFully, flannel, toPorts, metrics, masqueradeCIDRs, outputInterfaces, sourceCIDRs, snatAddress, snatAddressIPv6`,
      ],
    ],
    // Duplicates.
    [
      'masqLinkLocal: true\nmasqLinkLocal: false\n',
      [`2:1: masqLinkLocal: duplicate key "masqLinkLocal"; each key may appear only once`],
    ],
    [
      'flannel:\n  removeLegacy: true\n  removeLegacy: true\n',
      [`3:3: flannel.removeLegacy: duplicate key "removeLegacy"; each key may appear only once`],
    ],
    // Booleans.
    [
      'masqLinkLocal: yes\n',
      [
        `1:16: masqLinkLocal: expected boolean, got string "yes"; write true (YAML 1.2 reads yes/on as a string)`,
      ],
    ],
    [
      'randomFully: off\n',
      [
        `1:14: randomFully: expected boolean, got string "off"; write false (YAML 1.2 reads no/off as a string)`,
      ],
    ],
    [
      'enableIPv6: "true"\n',
      [`1:13: enableIPv6: expected boolean, got string "true"; write true without quotes`],
    ],
    [
      'masqLinkLocalIPv6: 0\n',
      [`1:20: masqLinkLocalIPv6: expected boolean, got number 0; write false`],
    ],
    [
      'nomasqAllReservedRanges: maybe\n',
      [`1:26: nomasqAllReservedRanges: expected boolean, got string "maybe"`],
    ],
    ['masqLinkLocal:\n', [`1:1: masqLinkLocal: expected boolean, got nothing (an empty value)`]],
    ['masqLinkLocal: null\n', [`1:16: masqLinkLocal: expected boolean, got null`]],
    ['masqLinkLocal: [true]\n', [`1:16: masqLinkLocal: expected boolean, got a list`]],
    [
      'flannel:\n  removeMasquerade: no\n',
      [
        `2:21: flannel.removeMasquerade: expected boolean, got string "no"; write false (YAML 1.2 reads no/off as a string)`,
      ],
    ],
    // resyncInterval.
    [
      'resyncInterval: 60\n',
      [
        `1:17: resyncInterval: expected a Go duration string such as "60s" or "1m30s", got number 60; add a unit, e.g. "60s"`,
      ],
    ],
    [
      'resyncInterval: "60"\n',
      [
        `1:17: resyncInterval: "60" is not a Go duration (a number with a unit ns, us, ms, s, m or h, e.g. "60s", "1m30s", "1.5h")`,
      ],
    ],
    [
      'resyncInterval: 1d\n',
      [
        `1:17: resyncInterval: "1d" is not a Go duration (a number with a unit ns, us, ms, s, m or h, e.g. "60s", "1m30s", "1.5h")`,
      ],
    ],
    [
      'resyncInterval:\n',
      [
        `1:1: resyncInterval: expected a Go duration string such as "60s" or "1m30s", got nothing (an empty value)`,
      ],
    ],
    [
      'resyncInterval: 0s\n',
      [
        `1:17: resyncInterval: "0s" must be greater than zero (it is how often the rules are re-checked)`,
      ],
    ],
    [
      'resyncInterval: "0"\n',
      [
        `1:17: resyncInterval: "0" must be greater than zero (it is how often the rules are re-checked)`,
      ],
    ],
    [
      'resyncInterval: -5s\n',
      [
        `1:17: resyncInterval: "-5s" must be greater than zero (it is how often the rules are re-checked)`,
      ],
    ],
    [
      'resyncInterval: 720h\n',
      [
        `1:17: resyncInterval: "720h" is longer than the maximum "596h31m23.647s" (Node timers cannot wait longer)`,
      ],
    ],
    // cidrLimit.
    [
      'cidrLimit: 2\n',
      [
        `1:12: cidrLimit: the daemon can only accept up to 2 CIDRs (excluding link-local), but got 3`,
      ],
    ],
    [
      'cidrLimit: 1\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\n',
      [
        `3:3: nonMasqueradeCIDRs: the daemon can only accept up to 1 CIDRs (excluding link-local), but got 2`,
      ],
    ],
    ['cidrLimit: -1\n', [`1:12: cidrLimit: expected a non-negative whole number, got number -1`]],
    ['cidrLimit: 2.5\n', [`1:12: cidrLimit: expected a non-negative whole number, got number 2.5`]],
    [
      'cidrLimit: "64"\n',
      [`1:12: cidrLimit: expected a non-negative whole number, got string "64"`],
    ],
    // nonMasqueradeCIDRs entries.
    [
      'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\n',
      [
        `3:5: nonMasqueradeCIDRs[1]: "10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?`,
      ],
    ],
    [
      'nonMasqueradeCIDRs: [10.0.0.1]\n',
      [`1:22: nonMasqueradeCIDRs[0]: "10.0.0.1" has no prefix length; did you mean 10.0.0.1/32?`],
    ],
    [
      'nonMasqueradeCIDRs: ["010.0.0.0/8"]\n',
      [
        `1:22: nonMasqueradeCIDRs[0]: "010.0.0.0/8" has a leading zero in an octet (ambiguous: octal or decimal); write 10.0.0.0/8`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n- abcdefg\n',
      [
        `2:3: nonMasqueradeCIDRs[0]: "abcdefg" is not a CIDR (expected a.b.c.d/n or an IPv6 prefix like fd00::/8)`,
      ],
    ],
    [
      'nonMasqueradeCIDRs: [10.0.0.0/33]\n',
      [
        `1:22: nonMasqueradeCIDRs[0]: "10.0.0.0/33" has prefix length 33, out of range for IPv4 (0-32)`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n  - ::ffff:10.0.0.0/104\n',
      [
        `2:5: nonMasqueradeCIDRs[0]: "::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 prefix; write it as IPv4: 10.0.0.0/8`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - fd00::/8\n',
      [
        `3:5: nonMasqueradeCIDRs[1]: "fd00::/8" is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
      ],
    ],
    [
      'enableIPv6: false\nnonMasqueradeCIDRs: ["fd00::/8"]\n',
      [
        `2:22: nonMasqueradeCIDRs[0]: "fd00::/8" is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n  -\n  - 10.0.0.0/8\n',
      [
        `2:3: nonMasqueradeCIDRs[0]: empty entry; write a CIDR such as 10.0.0.0/8 or remove the line`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n  - ""\n',
      [
        `2:5: nonMasqueradeCIDRs[0]: empty entry; write a CIDR such as 10.0.0.0/8 or remove the line`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n  - null\n',
      [
        `2:5: nonMasqueradeCIDRs[0]: empty entry; write a CIDR such as 10.0.0.0/8 or remove the line`,
      ],
    ],
    [
      'nonMasqueradeCIDRs:\n  - 10\n',
      [`2:5: nonMasqueradeCIDRs[0]: expected a CIDR string such as "10.0.0.0/8", got number 10`],
    ],
    [
      'nonMasqueradeCIDRs:\n  - [10.0.0.0/8]\n',
      [`2:5: nonMasqueradeCIDRs[0]: expected a CIDR string such as "10.0.0.0/8", got a list`],
    ],
    [
      'nonMasqueradeCIDRs: 10.0.0.0/8\n',
      [
        `1:21: nonMasqueradeCIDRs: expected a list of CIDRs, got string "10.0.0.0/8"; write [10.0.0.0/8]`,
      ],
    ],
    [
      'nonMasqueradeCIDRs: {a: 1}\n',
      [`1:21: nonMasqueradeCIDRs: expected a list of CIDRs, got a mapping`],
    ],
    [
      'nonMasqueradeCIDRs: *nowhere\n',
      [`1:21: nonMasqueradeCIDRs: alias *nowhere refers to no anchor defined before it`],
    ],
    // flannel.
    [
      'flannel: true\n',
      [
        `1:10: flannel: expected a mapping (e.g. "removeMasquerade: true" on the next line, indented), got boolean true`,
      ],
    ],
    [
      'flannel:\n  subnetEnv: run/flannel/subnet.env\n',
      [
        `2:14: flannel.subnetEnv: expected an absolute path such as "/run/flannel/subnet.env", got string "run/flannel/subnet.env"`,
      ],
    ],
    [
      'flannel:\n  subnetEnv:\n',
      [
        `2:3: flannel.subnetEnv: expected an absolute path such as "/run/flannel/subnet.env", got nothing (an empty value)`,
      ],
    ],
    [
      'flannel:\n  clusterCIDR: 10.244.0.1/16\n',
      [
        `2:16: flannel.clusterCIDR: "10.244.0.1/16" is not aligned to its prefix; did you mean 10.244.0.0/16?`,
      ],
    ],
    [
      'flannel:\n  nodeSubnet: [10.244.1.0/24, fd42::/64]\n',
      [
        `2:31: flannel.nodeSubnet[1]: "fd42::/64" is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
      ],
    ],
    [
      'flannel:\n  clusterCIDR: 16\n',
      [`2:16: flannel.clusterCIDR: expected a list of CIDRs, got number 16`],
    ],
    // Document shape.
    [
      '- 10.0.0.0/8\n',
      [`1:1: expected a mapping of settings (e.g. "masqLinkLocal: false"), got a list`],
    ],
    [
      '"10.0.0.0/8"\n',
      [
        `1:1: expected a mapping of settings (e.g. "masqLinkLocal: false"), got string "10.0.0.0/8"`,
      ],
    ],
    [
      'masqLinkLocal: true\n---\nmasqLinkLocal: false\n',
      [`2:1: the file holds more than one YAML document ("---"); keep a single document`],
    ],
    [
      'masqLinkLocal: true\n\tenableIPv6: true\n',
      [`2:1: invalid YAML: Tabs are not allowed as indentation`],
    ],
    [
      'nonMasqueradeCIDRs: [10.0.0.0/8\n',
      [
        `2:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      ],
    ],
    [
      'masqLinkLocal: !custom true\n',
      [
        `1:16: YAML: Unresolved tag: !custom`,
        `1:24: masqLinkLocal: expected boolean, got string "true"`,
      ],
    ],
    [
      'masqLinkLocal: !!binary dHJ1ZQ==\n',
      [`1:25: masqLinkLocal: expected boolean, got a !!binary value`],
    ],
  ])('%j', (text, expected) => {
    expect(issuesOf(text)).toEqual(expected.map((e) => `${FILE}:${e}`));
  });

  it('collects every issue of the file at once, in file order', () => {
    const text = [
      'nonMasqueradeCIRDs: [10.0.0.0/8]', // 1
      'masqLinkLocal: yes', // 2
      'resyncInterval: 60', // 3
      'cidrLimit: 2', // 4
      'nonMasqueradeCIDRs:', // 5
      '  - 10.0.0.0/8', // 6
      '  - 10.1.2.3/8', // 7
      '  -', // 8
      '  - fd00::/8', // 9
      '  - 010.0.0.0/8', // 10
      'flannel:', // 11
      '  subnetEnv: relative', // 12
      '  removeLegacy: on', // 13
      'masqLinkLocal: false', // 14
      '',
    ].join('\n');
    const issues = issuesOf(text);
    expect(issues).toEqual([
      `${FILE}:1:1: unknown key "nonMasqueradeCIRDs"; did you mean nonMasqueradeCIDRs?`,
      `${FILE}:2:16: masqLinkLocal: expected boolean, got string "yes"; write true (YAML 1.2 reads yes/on as a string)`,
      `${FILE}:3:17: resyncInterval: expected a Go duration string such as "60s" or "1m30s", got number 60; add a unit, e.g. "60s"`,
      `${FILE}:6:3: nonMasqueradeCIDRs: the daemon can only accept up to 2 CIDRs (excluding link-local), but got 5`,
      `${FILE}:7:5: nonMasqueradeCIDRs[1]: "10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?`,
      `${FILE}:8:3: nonMasqueradeCIDRs[2]: empty entry; write a CIDR such as 10.0.0.0/8 or remove the line`,
      `${FILE}:9:5: nonMasqueradeCIDRs[3]: "fd00::/8" is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
      `${FILE}:10:5: nonMasqueradeCIDRs[4]: "010.0.0.0/8" has a leading zero in an octet (ambiguous: octal or decimal); write 10.0.0.0/8`,
      `${FILE}:12:14: flannel.subnetEnv: expected an absolute path such as "/run/flannel/subnet.env", got string "relative"`,
      `${FILE}:13:17: flannel.removeLegacy: expected boolean, got string "on"; write true (YAML 1.2 reads yes/on as a string)`,
      `${FILE}:14:1: masqLinkLocal: duplicate key "masqLinkLocal"; each key may appear only once`,
    ]);
  });

  it('carries structured issues: file as given, 1-based line/col of the node, field path', () => {
    try {
      parseConfigText(
        'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\n',
        'relative/config.yaml',
      );
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues).toEqual([
        {
          file: 'relative/config.yaml',
          line: 3,
          col: 5,
          path: 'nonMasqueradeCIDRs[1]',
          message: '"10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?',
        },
      ]);
    }
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['60s', 60_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1000us', 1],
    ['1000µs', 1], // U+00B5 micro sign
    ['1000μs', 1], // U+03BC Greek mu
    ['1000000ns', 1],
    ['.5s', 500],
    ['1.s', 1000],
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['-5s', -5000],
    ['+5s', 5000],
    ['2h45m30.5s', 9_930_500],
    ['00010s', 10_000],
    ['1m1m', 120_000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 6);
  });

  it.each([
    '',
    '60',
    '1d',
    '1 s',
    's',
    '.s',
    '1..5s',
    '1S',
    '1mh',
    '-',
    '1s ',
    ' 1s',
    '1e3s',
    '5m-1s',
    '9999999999h',
  ])('%j is invalid', (text) => {
    expect(parseGoDuration(text)).toBeNull();
  });
});

describe('big-list fast path', () => {
  const slow = (text: string): Config => parseConfigText(text, FILE, { fastPath: false });
  const fast = (text: string): Config => parseConfigText(text, FILE, { fastPath: true });

  function outcome(f: () => Config): unknown {
    try {
      return { ok: configToJson(f()) };
    } catch (e) {
      if (e instanceof ConfigError) return { issues: e.issues };
      throw e;
    }
  }

  it('recognises the plain shapes', () => {
    for (const text of [
      'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - "192.168.0.0/16" # x\n\n  # c\n  - \'fd00::/8\'\nenableIPv6: true\n',
      'nonMasqueradeCIDRs:\n- 10.0.0.0/8\n',
      '{"nonMasqueradeCIDRs": ["10.0.0.0/8", "fd00::/8"], "enableIPv6": true}',
      '{\n  "nonMasqueradeCIDRs": [\n    "10.0.0.0/8",\n    "192.168.0.0/16"\n  ]\n}\n',
      'nonMasqueradeCIDRs: [10.0.0.0/8, 192.168.0.0/16, ]\n',
    ]) {
      const found = findFastCidrList(text);
      expect(found, text).not.toBeNull();
      expect(fast(text)).toEqual(slow(text));
    }
  });

  it.each([
    ['a quoted item with an escape', 'nonMasqueradeCIDRs:\n  - "10.0.0.0\\/8"\n'],
    ['a continuation line', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n    192.168.0.0/16\n'],
    ['mixed indentation', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n   - 192.168.0.0/16\n'],
    ['a comment without a space', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8#x\n'],
    ['an item ending in a colon (a mapping)', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8:\n'],
    ['a bare number', 'nonMasqueradeCIDRs:\n  - 10\n'],
    ['the key twice', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8\n'],
    ['an unindented flow continuation', 'nonMasqueradeCIDRs: [10.0.0.0/8,\n192.168.0.0/16]\n'],
  ])('leaves %s to the full parser', (_name, text) => {
    expect(findFastCidrList(text)).toBeNull();
  });

  it.each([
    [
      'the list text inside a block scalar of another key',
      'flannel: |\n  x\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8\nmasqLinkLocal: true\n',
    ],
    ['the flow key nested under flannel', 'flannel: {nonMasqueradeCIDRs: [10.0.0.0/8]}\n'],
    ['the flow key inside a quoted string', 'resyncInterval: "nonMasqueradeCIDRs: [10.0.0.0/8]"\n'],
    ['a mis-cased prefix key', 'xnonMasqueradeCIDRs: [10.0.0.0/8]\n'],
    ['a multi-document file', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n---\na: 1\n'],
    ['an invalid entry', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\n'],
    ['an IPv6 entry without enableIPv6', '{"nonMasqueradeCIDRs": ["10.0.0.0/8", "fd00::/8"]}'],
    ['a cidrLimit overflow', 'cidrLimit: 1\nnonMasqueradeCIDRs: [10.0.0.0/8, 192.168.0.0/16]\n'],
  ])('agrees with the full parser on %s', (_name, text) => {
    expect(outcome(() => fast(text))).toEqual(outcome(() => slow(text)));
  });

  it('agrees with the full parser on generated block and flow lists', () => {
    const item = fc.oneof(
      fc.constantFrom(
        '10.0.0.0/8',
        '192.168.0.0/16',
        'fd00::/8',
        '10.1.2.3/8',
        '010.0.0.0/8',
        '10.0.0.1',
        'abc',
        '',
        '10',
        'FD00::/8',
        '::/0',
        '1.2.3.4/32',
      ),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 }))
        .map(([a, len]) => `${a}.0.0.0/${len}`),
    );
    const quote = fc.constantFrom('', '"', "'");
    const entries = fc.array(
      fc.tuple(
        item,
        quote,
        fc.constantFrom('', ' # c', ' '),
        fc.constantFrom('', '\n', '  # between\n'),
      ),
      { maxLength: 8 },
    );
    const extras = fc.subarray([
      'enableIPv6: true',
      'masqLinkLocal: yes',
      'cidrLimit: 3',
      '# trailing comment',
      'resyncInterval: 5',
    ]);
    const before = fc.subarray(['# head', 'randomFully: false', 'masqLinkLocalIPv6: 1']);
    fc.assert(
      fc.property(
        entries,
        before,
        extras,
        fc.constantFrom(0, 2, 4),
        fc.constantFrom('block', 'flow', 'flow-multiline'),
        fc.constantFrom('\n', '\r\n'),
        fc.constantFrom('', ' # key comment'),
        (list, head, extra, indent, shape, eol, keyComment) => {
          const pad = ' '.repeat(indent);
          const prefix = head.map((l) => `${l}\n`).join('');
          const suffix = extra.join('\n');
          let text: string;
          if (shape === 'flow')
            text = `${prefix}nonMasqueradeCIDRs: [${list.map(([v, q]) => `${q}${v}${q}`).join(', ')}]\n${suffix}\n`;
          else if (shape === 'flow-multiline')
            text = `${prefix}nonMasqueradeCIDRs: [\n${list.map(([v, q]) => `  ${q}${v}${q}`).join(',\n')}\n  ]\n${suffix}\n`;
          else
            text = `${prefix}nonMasqueradeCIDRs:${keyComment}\n${list.map(([v, q, tail, gap]) => `${gap}${pad}- ${q}${v}${q}${tail}\n`).join('')}${suffix}\n`;
          text = text.replace(/\n/g, eol);
          expect(outcome(() => fast(text))).toEqual(outcome(() => slow(text)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('loads 100,000 entries (no cidrLimit by default) in YAML and JSON', () => {
    const list: string[] = [];
    for (let i = 0; i < 100_000; i++)
      list.push(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
    const yaml = `nonMasqueradeCIDRs:\n${list.map((c) => `  - ${c}\n`).join('')}masqLinkLocal: true\n`;
    const fromYaml = parseConfigText(yaml, FILE);
    expect(fromYaml.nonMasqueradeCIDRs).toHaveLength(100_000);
    expect(fromYaml.masqLinkLocal).toBe(true);
    expect(fromYaml.collapsed.ipv4.map(formatCidr)).toEqual([
      '10.0.0.0/8',
      '11.0.0.0/9',
      '11.128.0.0/14',
      '11.132.0.0/15',
      '11.134.0.0/17',
      '11.134.128.0/19',
    ]);
    const fromJson = parseConfigText(JSON.stringify({ nonMasqueradeCIDRs: list }), FILE);
    expect(fromJson.nonMasqueradeCIDRs).toEqual(list);
  });

  it('reports an error in a 100,000-entry list at its exact line', () => {
    const list: string[] = [];
    for (let i = 0; i < 100_000; i++)
      list.push(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
    list[54_321] = '10.212.49.1/24';
    const yaml = `nonMasqueradeCIDRs:\n${list.map((c) => `  - ${c}\n`).join('')}`;
    expect(issuesOf(yaml)).toEqual([
      `${FILE}:54323:5: nonMasqueradeCIDRs[54321]: "10.212.49.1/24" is not aligned to its prefix; did you mean 10.212.49.0/24?`,
    ]);
  });
});
