/**
 * Config files parse or are rejected in time linear in their size: a linear scan of the shape
 * (config/limits.ts) rejects what would make yaml slow, before yaml sees it; drop-ins have a
 * total size cap. (The timings are in bench/, docs/BENCHMARKS.md.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_LIMITS, exceedsLimits } from '../../daemon/src/config/limits.js';
import { parseConfigFragment } from '../../daemon/src/config/parse.js';
import { loadConfigTree } from '../../daemon/src/config/tree.js';

const dir = mkdtempSync(join(tmpdir(), 'ipm-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keys = (n: number): string => Array.from({ length: n }, (_, i) => `key${i}: ${i}`).join('\n');
const cidrList = (n: number): string =>
  'nonMasqueradeCIDRs:\n' +
  Array.from(
    { length: n },
    (_, i) => `  - 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`,
  ).join('\n') +
  '\n';

describe('exceedsLimits (the shapes that make yaml slow)', () => {
  it.each([
    ['40,000 distinct keys', keys(40_000), /^more than 1000 mapping keys/],
    [
      'a flow mapping of keys',
      `{${Array.from({ length: 2000 }, (_, i) => `k${i}: 1`).join(', ')}}`,
      /mapping keys/,
    ],
    [
      '100,000 list entries of nested lists',
      `x: [${Array.from({ length: 100_000 }, () => '[1]').join(', ')}]`,
      /list entries/,
    ],
    [
      'deep flow nesting',
      `x: ${'['.repeat(10_000)}${']'.repeat(10_000)}`,
      /nested more than 64 deep/,
    ],
    [
      'deep block nesting',
      Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'),
      /indented more than 256/,
    ],
    [
      'alias-heavy',
      `a: &x [1]\nb: [${Array.from({ length: 1000 }, () => '*x').join(', ')}]`,
      /more than 100 aliases/,
    ],
  ])('%s is over a limit', (_name, text, message) => {
    expect(exceedsLimits(text)?.message).toMatch(message);
  });

  it('a real config is far below every limit: comments, quotes, IPv6 colons, a 100,000-entry list', () => {
    const real = `# ip-masq: egress policy: keep the source for the VPC
nonMasqueradeCIDRs: ["fd00::/8", '10.0.0.0/8', 2001:db8::/32]   # a: comment
masqLinkLocal: false
flannel:
  subnetEnv: "/run/flannel/subnet.env: not really"
metrics: {textfileDir: /var/lib/node_exporter}
`;
    expect(exceedsLimits(real)).toBeNull();
    expect(exceedsLimits(cidrList(100_000), { ...CONFIG_LIMITS, maxEntries: 100_000 })).toBeNull();
  });

  it('counts keys, entries and aliases outside quotes and comments only', () => {
    const quoted = `a: "${'k: v, '.repeat(2000)}"\nb: '${"it''s: x ".repeat(2000)}'\n# ${'c: d '.repeat(2000)}\n`;
    expect(exceedsLimits(quoted)).toBeNull();
  });
});

describe('parseConfigFragment with limits', () => {
  it('rejects 40,000 distinct keys with one located issue instead of parsing them', () => {
    const f = parseConfigFragment(keys(40_000), 'big.yaml');
    expect(f.issues).toHaveLength(1);
    expect(f.issues[0]).toMatchObject({ file: 'big.yaml', line: 1001 });
    expect(f.issues[0]?.message).toMatch(/more than 1000 mapping keys; a config file holds/);
  });

  it('a 100,000-entry CIDR list still parses (the fast path keeps it away from yaml)', () => {
    const f = parseConfigFragment(cidrList(100_000), 'list.yaml');
    expect(f.issues).toEqual([]);
  });

  it('a valid CIDR list filling the whole 4 MiB cap parses (no stack overflow at ~220,000 entries)', async () => {
    const path = join(dir, 'cap.yaml');
    let text = 'nonMasqueradeCIDRs:\n';
    for (let i = 0; text.length < 4 * 1024 * 1024 - 64; i++)
      text += `  - 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32\n`;
    writeFileSync(path, text);
    expect((await loadConfigTree(path)).config.nonMasqueradeCIDRs.length).toBeGreaterThan(200_000);
  });

  it('duplicate keys are still reported (by the walk, not by yaml), with the key path', () => {
    const f = parseConfigFragment('masqLinkLocal: true\nmasqLinkLocal: false\n', 'd.yaml');
    expect(f.issues.map((i) => [i.line, i.path, i.message])).toEqual([
      [2, 'masqLinkLocal', 'duplicate key "masqLinkLocal"; each key may appear only once'],
    ]);
  });
});

describe('drop-in total size', () => {
  it('more than 16 MiB of drop-ins together is refused, naming the directory', async () => {
    const base = join(dir, 'etc');
    mkdirSync(join(base, 'config.d'), { recursive: true });
    writeFileSync(join(base, 'config.yaml'), 'masqLinkLocal: true\n');
    const filler = `# ${'x'.repeat(4 * 1024 * 1024 - 100)}\n`;
    for (let i = 0; i < 5; i++) writeFileSync(join(base, 'config.d', `${i}.yaml`), filler);
    await expect(loadConfigTree(join(base, 'config.yaml'))).rejects.toMatchObject({
      code: 'CONFIG_UNREADABLE',
      message: expect.stringMatching(
        /config\.d: its drop-ins hold more than 16 MiB together \(at 4\.yaml\)/,
      ),
    });
  });
});
