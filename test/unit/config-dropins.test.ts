/**
 * Drop-ins: config.yaml + config.d/*.yaml merged (merge.ts) and read from real temp directories
 * (dropins.ts): which names count, order, the merge rules, errors naming their files, the
 * snapshot the daemon persists.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDropInName } from '../../daemon/src/config/dropins.js';
import { mergeConfigFragments } from '../../daemon/src/config/merge.js';
import { parseConfigFragment } from '../../daemon/src/config/parse.js';
import { parseConfigSnapshot } from '../../daemon/src/config/snapshot.js';
import { loadConfigTree } from '../../daemon/src/config/tree.js';
import { configToJson } from '../../daemon/src/config/to-json.js';
import { ConfigError, formatConfigIssue } from '../../daemon/src/errors.js';
import { formatCidr } from '../../daemon/src/net/cidr.js';
import { parseConfigText } from '../helpers/config.js';

let root: string;
let main: string;
let dropDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ipm-dropins-'));
  main = join(root, 'config.yaml');
  dropDir = join(root, 'config.d');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function dropIn(name: string, text: string): string {
  mkdirSync(dropDir, { recursive: true });
  const p = join(dropDir, name);
  writeFileSync(p, text);
  return p;
}

async function issuesOf(): Promise<string[]> {
  try {
    await loadConfigTree(main);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(formatConfigIssue);
    throw e;
  }
  throw new Error('expected issues');
}

describe('which names count', () => {
  it.each([
    ['10-vpc.yaml', true],
    ['a.yml', true],
    ['b.json', true],
    ['.10-vpc.yaml.swp', false],
    ['.#10-vpc.yaml', false],
    ['.hidden.yaml', false],
    ['10-vpc.yaml~', false],
    ['10-vpc.yaml.bak', false],
    ['10-vpc.yaml.dpkg-old', false],
    ['10-vpc.yaml.rpmnew', false],
    ['#10-vpc.yaml#', false],
    ['README', false],
    ['.yaml', false],
    ['..data', false],
  ])('%s → %s', (name, counted) => expect(isDropInName(name)).toBe(counted));
});

describe('loadConfigTree', () => {
  it('no config.d: exactly the single-file result, text unchanged', async () => {
    writeFileSync(main, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n');
    const loaded = await loadConfigTree(main);
    expect(loaded.text).toBe('nonMasqueradeCIDRs: [10.0.0.0/8]\n');
    expect(configToJson(loaded.config)).toEqual(
      configToJson(parseConfigText('nonMasqueradeCIDRs: [10.0.0.0/8]\n', main)),
    );
    expect(loaded.origin).toBe('file');
  });

  it('nothing at all: defaults, origin absent; sources say "default"', async () => {
    const loaded = await loadConfigTree(main);
    expect(loaded.origin).toBe('absent');
    expect(loaded.text).toBeNull();
    expect(loaded.config.nonMasqueradeCIDRs).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
    ]);
    expect(loaded.cidrSources().every((s) => s.file === null)).toBe(true);
  });

  it("unions the lists in file order (main, then drop-ins by name), collapses, and names each CIDR's file and line", async () => {
    writeFileSync(main, 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\n');
    const b = dropIn(
      '20-b.yaml',
      '# second\nnonMasqueradeCIDRs: [198.51.100.0/25, 198.51.100.128/25]\n',
    );
    const a = dropIn('10-a.yml', 'nonMasqueradeCIDRs:\n- 10.1.0.0/16\n');
    dropIn('.10-a.yml.swp', 'garbage: [');
    dropIn('10-a.yml~', 'garbage: [');
    mkdirSync(join(dropDir, 'sub.yaml'));
    const loaded = await loadConfigTree(main);
    expect(loaded.config.nonMasqueradeCIDRs).toEqual([
      '10.0.0.0/8',
      '192.168.0.0/16',
      '10.1.0.0/16',
      '198.51.100.0/25',
      '198.51.100.128/25',
    ]);
    expect(loaded.config.collapsed.ipv4.map(formatCidr)).toEqual([
      '10.0.0.0/8',
      '192.168.0.0/16',
      '198.51.100.0/24',
    ]);
    expect(loaded.cidrSources()).toEqual([
      { cidr: '10.0.0.0/8', file: main, line: 2 },
      { cidr: '192.168.0.0/16', file: main, line: 3 },
      { cidr: '10.1.0.0/16', file: a, line: 2 },
      { cidr: '198.51.100.0/25', file: b, line: 2 },
      { cidr: '198.51.100.128/25', file: b, line: 2 },
    ]);
    expect(loaded.files.map((f) => f.path)).toEqual([main, a, b]);
    expect(loaded.ignored).toEqual([
      { path: join(dropDir, '10-a.yml~'), reason: 'the name does not end in .yaml, .yml or .json' },
      { path: join(dropDir, 'sub.yaml'), reason: 'a directory' },
    ]);
  });

  it('absent main file + a drop-in with a list: only that list (a set key replaces the default, as in one file)', async () => {
    dropIn('10-vpc.yaml', 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    const loaded = await loadConfigTree(main);
    expect(loaded.origin).toBe('file');
    expect(loaded.config.nonMasqueradeCIDRs).toEqual(['198.51.100.0/24']);
  });

  it('drop-ins without a list keep the default list, chosen by nomasqAllReservedRanges wherever it is set', async () => {
    dropIn('10-flags.yaml', 'masqLinkLocal: true\n');
    dropIn('20-reserved.yaml', 'nomasqAllReservedRanges: true\n');
    const loaded = await loadConfigTree(main);
    expect(loaded.config.masqLinkLocal).toBe(true);
    expect(loaded.config.nonMasqueradeCIDRs).toHaveLength(11);
    expect(loaded.settingSources.get('masqLinkLocal')).toEqual({
      file: join(dropDir, '10-flags.yaml'),
      line: 1,
      col: 1,
    });
  });

  it('an explicit empty list in a drop-in means "no default list"', async () => {
    dropIn('10-empty.yaml', 'nonMasqueradeCIDRs: []\n');
    expect((await loadConfigTree(main)).config.nonMasqueradeCIDRs).toEqual([]);
  });

  it('a key set in two files is an error at the second, naming the first (sections merge key by key)', async () => {
    writeFileSync(main, 'masqLinkLocal: false\nflannel:\n  subnetEnv: /run/flannel/subnet.env\n');
    dropIn('10-a.yaml', 'flannel:\n  removeLegacy: true\n');
    dropIn('20-b.yaml', '\nmasqLinkLocal: true\nflannel:\n  subnetEnv: /x/subnet.env\n');
    expect(await issuesOf()).toEqual([
      `${join(dropDir, '20-b.yaml')}:2:1: masqLinkLocal: also set in ${main}:1:1; every key except nonMasqueradeCIDRs, masqueradeCIDRs, outputInterfaces, sourceCIDRs may be set in one file only: remove one of them`,
      `${join(dropDir, '20-b.yaml')}:4:3: flannel.subnetEnv: also set in ${main}:3:3; every key except nonMasqueradeCIDRs, masqueradeCIDRs, outputInterfaces, sourceCIDRs may be set in one file only: remove one of them`,
    ]);
  });

  it('every problem names its own file; files in order, each in line order', async () => {
    writeFileSync(main, 'masqLinkLocal: yes\n');
    dropIn('10-a.yaml', 'nonMasqueradeCIDRs:\n  - 10.1.2.3/8\n');
    dropIn('20-b.json', '{"resyncInterval": 5}');
    const issues = await issuesOf();
    expect(issues[0]).toMatch(new RegExp(`^${main}:1:16: masqLinkLocal: expected boolean`));
    expect(issues[1]).toBe(
      `${join(dropDir, '10-a.yaml')}:2:5: nonMasqueradeCIDRs[0]: "10.1.2.3/8" is not aligned to its prefix; did you mean 10.0.0.0/8?`,
    );
    expect(issues[2]).toMatch(
      new RegExp(`^${join(dropDir, '20-b.json')}:1:20: resyncInterval: expected a Go duration`),
    );
  });

  it('IPv6 prefixes in a drop-in are valid when config.yaml enables IPv6, an error (in the drop-in) when nothing does', async () => {
    writeFileSync(main, 'enableIPv6: true\n');
    const v6 = dropIn('10-v6.yaml', 'nonMasqueradeCIDRs: [fd00::/8]\n');
    expect((await loadConfigTree(main)).config.collapsed.ipv6.map(formatCidr)).toEqual([
      'fd00::/8',
    ]);
    writeFileSync(main, '');
    expect(await issuesOf()).toEqual([
      `${v6}:1:22: nonMasqueradeCIDRs[0]: "fd00::/8" is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
    ]);
  });

  it('cidrLimit limits the merged list and says which files contribute', async () => {
    writeFileSync(main, 'cidrLimit: 2\nnonMasqueradeCIDRs: [10.0.0.0/8]\n');
    const a = dropIn('10-a.yaml', 'nonMasqueradeCIDRs: [192.0.2.0/24, 198.51.100.0/24]\n');
    expect(await issuesOf()).toEqual([
      `${main}:1:12: cidrLimit: the daemon can only accept up to 2 CIDRs (excluding link-local), but got 3 from 2 files (${main}, ${a})`,
    ]);
  });

  it('toPorts and metrics may live in a drop-in', async () => {
    dropIn(
      '50-metrics.yaml',
      'metrics:\n  textfileDir: /var/lib/prometheus/node-exporter/\n  listen: "9817"\ntoPorts: "1024-65535"\n',
    );
    const { config } = await loadConfigTree(main);
    expect(config.metrics).toEqual({
      textfileDir: '/var/lib/prometheus/node-exporter',
      listen: { host: '127.0.0.1', port: 9817, loopback: true },
    });
    expect(config.toPorts).toEqual([{ first: 1024, last: 65535 }]);
  });

  it('unreadable drop-ins are errors naming the file; a file named like the directory is too', async () => {
    mkdirSync(dropDir);
    symlinkSync(join(root, 'nowhere.yaml'), join(dropDir, '10-gone.yaml'));
    expect(await issuesOf()).toEqual([
      `${join(dropDir, '10-gone.yaml')}: is a dangling symlink (points to "${join(root, 'nowhere.yaml')}", which does not exist)`,
    ]);
    rmSync(dropDir, { recursive: true });
    writeFileSync(dropDir, 'oops');
    expect((await issuesOf())[0]).toMatch(/config\.d: is not a directory/);
  });

  it('a symlinked drop-in (Kubernetes-style ..data mount) is read', async () => {
    mkdirSync(join(root, '..data'));
    writeFileSync(join(root, '..data', 'vpc.yaml'), 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    mkdirSync(dropDir);
    symlinkSync(join(root, '..data', 'vpc.yaml'), join(dropDir, 'vpc.yaml'));
    expect((await loadConfigTree(main)).config.nonMasqueradeCIDRs).toEqual(['198.51.100.0/24']);
  });
});

describe('the snapshot the daemon persists', () => {
  it('re-parses to the same config; blank files are left out; a lone main file is its own text', async () => {
    writeFileSync(main, 'nonMasqueradeCIDRs: [10.0.0.0/8]\nenableIPv6: true\n');
    dropIn('10-a.yaml', 'nonMasqueradeCIDRs: [fd00::/8]\n');
    dropIn('20-blank.yaml', '\n\n');
    const loaded = await loadConfigTree(main);
    expect(loaded.text).toMatch(/^\{"ipMasqSnapshot":1,/);
    expect(JSON.parse(loaded.text!).files).toHaveLength(2);
    expect(configToJson(parseConfigSnapshot(loaded.text!, '/state/last-good.json'))).toEqual(
      configToJson(loaded.config),
    );

    rmSync(join(dropDir, '10-a.yaml'));
    writeFileSync(main, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n');
    expect((await loadConfigTree(main)).text).toBe('nonMasqueradeCIDRs: [10.0.0.0/8]\n');
    writeFileSync(main, '# nothing\n');
    rmSync(join(dropDir, '20-blank.yaml'));
    dropIn('30-blank.yaml', '');
    expect((await loadConfigTree(main)).text).toBe('# nothing\n');
  });

  it('a snapshot whose files are no longer valid names them', () => {
    const text = JSON.stringify({
      ipMasqSnapshot: 1,
      files: [{ path: '/etc/ip-masq/config.d/a.yaml', text: 'masqLinkLocal: 1\n' }],
    });
    expect(() => parseConfigSnapshot(text, '/state/x.json')).toThrow(
      /\/etc\/ip-masq\/config\.d\/a\.yaml \(saved in \/state\/x\.json\):1:16: masqLinkLocal/,
    );
  });
});

describe('mergeConfigFragments', () => {
  it('one fragment is one file parsed', () => {
    const text = 'nonMasqueradeCIDRs: [10.0.0.0/8]\nmasqLinkLocal: true\n';
    expect(configToJson(mergeConfigFragments([parseConfigFragment(text, 'a')]).config)).toEqual(
      configToJson(parseConfigText(text, 'a')),
    );
  });

  it('a file that is not a mapping contributes nothing but its issue', () => {
    expect(() =>
      mergeConfigFragments([
        parseConfigFragment('- a\n', 'x.yaml'),
        parseConfigFragment('masqLinkLocal: true\n', 'y.yaml'),
      ]),
    ).toThrow(/^x\.yaml:1:1: expected a mapping of settings/);
  });
});
