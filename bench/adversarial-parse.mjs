// Config files of hostile shapes at the size cap: each must parse or be rejected in ≤ 1 s.
//   node bench/adversarial-parse.mjs [--reps 5] [--json FILE]
// Each shape is written to a temp config.yaml (root-owned, 0644) and loaded with the daemon's
// own loader (loadConfigTree: read, trust, shape limits, parse, merge), in process, so a figure
// is the loader and not Node's start-up. "Before" figures of yaml's quadratic duplicate-key
// check are in docs/BENCHMARKS.md (issue #10).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDaemonSources } from './lib/daemon-src.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const REPS = Number(arg('reps', 5));
const JSON_OUT = arg('json', null);
const CAP = 4 * 1024 * 1024;

/** Repeats `unit(i)` until the text would pass `CAP - slack` bytes. */
function fill(head, unit, sep, tail, slack = 64) {
  const parts = [];
  let size = head.length + tail.length;
  for (let i = 0; ; i++) {
    const u = unit(i);
    if (size + u.length + sep.length > CAP - slack) break;
    parts.push(u);
    size += u.length + sep.length;
  }
  return head + parts.join(sep) + tail;
}
const ip = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const SHAPES = [
  [
    '40,000 distinct keys',
    () => Array.from({ length: 40_000 }, (_, i) => `key${i}: ${i}`).join('\n'),
  ],
  ['distinct keys up to the 4 MiB cap', () => fill('', (i) => `k${i}: 1`, '\n', '\n')],
  ['one flow mapping of keys at the cap', () => fill('{', (i) => `k${i}: 1`, ', ', '}\n')],
  [
    '100,000-entry CIDR list (block, valid)',
    () =>
      `nonMasqueradeCIDRs:\n${Array.from({ length: 100_000 }, (_, i) => `  - ${ip(i)}/32`).join('\n')}\n`,
  ],
  [
    'CIDR list (block) at the cap, valid',
    () => fill('nonMasqueradeCIDRs:\n', (i) => `  - ${ip(i)}/32`, '\n', '\n'),
  ],
  [
    'CIDR list (JSON) at the cap, valid',
    () => fill('{"nonMasqueradeCIDRs": [', (i) => `"${ip(i)}/32"`, ',', ']}\n'),
  ],
  [
    '100,000-entry list of nested lists',
    () => `nonMasqueradeCIDRs: [${Array.from({ length: 100_000 }, () => '[1]').join(', ')}]\n`,
  ],
  [
    'list of scalars at the cap (not CIDRs)',
    () => fill('nonMasqueradeCIDRs:\n', () => '  - x', '\n', '\n'),
  ],
  [
    'deep flow nesting at the cap',
    () => {
      const d = Math.floor((CAP - 40) / 2);
      return `nonMasqueradeCIDRs: ${'['.repeat(d)}${']'.repeat(d)}\n`;
    },
  ],
  [
    'deep block nesting',
    () => Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'),
  ],
  [
    'alias-heavy (anchors + aliases at the cap)',
    () => fill('a: &x [1]\nb: [', () => '*x', ', ', ']\n'),
  ],
  ['duplicate keys at the cap', () => fill('', () => 'masqLinkLocal: true', '\n', '\n')],
  ['one 4 MiB comment line', () => `# ${'x'.repeat(CAP - 10)}\n`],
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main() {
  const { mod, outfile } = await loadDaemonSources();
  const dir = mkdtempSync(join(tmpdir(), 'ipm-bench-parse-'));
  const etc = join(dir, 'etc');
  mkdirSync(etc, { mode: 0o755 });
  const path = join(etc, 'config.yaml');
  const results = { reps: REPS, shapes: [] };
  try {
    for (const [name, make] of SHAPES) {
      const text = make();
      writeFileSync(path, text, { mode: 0o644 });
      const times = [];
      let outcome = '';
      for (let r = 0; r < REPS; r++) {
        const t0 = performance.now();
        try {
          await mod.loadConfigTree(path);
          outcome = 'parsed';
        } catch (e) {
          outcome = `rejected: ${String(e.message).split('\n')[0].replace(path, 'config.yaml').slice(0, 140)}`;
        }
        times.push(performance.now() - t0);
      }
      const row = {
        name,
        bytes: Buffer.byteLength(text),
        medianMs: median(times),
        maxMs: Math.max(...times),
        outcome,
      };
      results.shapes.push(row);
      console.log(
        `${name.padEnd(44)} ${(row.bytes / 1048576).toFixed(2)} MiB  median ${row.medianMs.toFixed(0)} ms  max ${row.maxMs.toFixed(0)} ms  ${outcome.slice(0, 80)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outfile, { force: true });
  }
  if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
