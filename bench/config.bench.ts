/**
 * Figures (not assertions) for the config path with big lists:
 *   npx vitest bench --run bench/config.bench.ts
 * Budget: render+apply of 100,000 CIDRs in <= 2 s end to end, of which loading should take
 * <= 400 ms and collapsing well under 200 ms.
 */
import { bench, describe } from 'vitest';
import { parseConfigText } from '../test/helpers/config.js';
import { collapseCidrs, type Cidr } from '../daemon/src/net/cidr.js';

const N = 100_000;

/** Deterministic pseudo-random numbers (xorshift32), so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomPrefixes(count: number, seed: number): Cidr[] {
  const next = rng(seed);
  const out: Cidr[] = [];
  for (let i = 0; i < count; i++) {
    const len = 24 + Math.floor(next() * 9);
    const block = 2 ** (32 - len);
    const addr = Math.floor((next() * 2 ** 32) / block) * block;
    out.push({ family: 'ipv4', addr: BigInt(addr), len });
  }
  return out;
}

function text(c: Cidr): string {
  const n = Number(c.addr);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${c.len}`;
}

const sparse = randomPrefixes(N, 1);
/** 100,000 prefixes inside 10.0.0.0/12: lots of overlap and merging. */
const dense = randomPrefixes(N, 2).map((c) => ({
  ...c,
  addr: 0x0a000000n | (c.addr & 0x000fffffn),
}));
const list = sparse.map(text);
const yamlBlock = `nonMasqueradeCIDRs:\n${list.map((c) => `  - ${c}\n`).join('')}masqLinkLocal: true\n`;
const yamlBlockInvalid = yamlBlock.replace(`  - ${list[50_000] as string}\n`, '  - 10.1.2.3/8\n');
const jsonMin = JSON.stringify({ nonMasqueradeCIDRs: list, masqLinkLocal: true });
const jsonPretty = JSON.stringify({ nonMasqueradeCIDRs: list, masqLinkLocal: true }, null, 2);
const options = { iterations: 10, time: 0, warmupIterations: 2 };

describe('collapseCidrs, 100,000 random /24-/32', () => {
  bench('sparse (whole IPv4 space)', () => void collapseCidrs(sparse), options);
  bench('dense (inside 10.0.0.0/12)', () => void collapseCidrs(dense), options);
});

describe('parseConfigText, 100,000 entries', () => {
  bench('YAML block list', () => void parseConfigText(yamlBlock, 'bench.yaml'), options);
  bench('JSON minified', () => void parseConfigText(jsonMin, 'bench.json'), options);
  bench('JSON pretty', () => void parseConfigText(jsonPretty, 'bench.json'), options);
  bench(
    'YAML block list with one invalid entry (fast path, exact positions)',
    () => {
      try {
        parseConfigText(yamlBlockInvalid, 'bench.yaml');
      } catch {
        // expected: the ConfigError is the result being measured
      }
    },
    options,
  );
  bench(
    'YAML block list, full AST path (fast path off)',
    () => void parseConfigText(yamlBlock, 'bench.yaml', { fastPath: false }),
    {
      iterations: 3,
      time: 0,
      warmupIterations: 1,
    },
  );
});
