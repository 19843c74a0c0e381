#!/usr/bin/env node
/**
 * The architecture rules of daemon/src, checked (`make lint`, part of `make check`):
 *
 *   1. No import cycles between source files (type-only imports count: they couple too).
 *   2. No upward imports. Each folder has a layer; a file may import its own folder and any
 *      lower layer, never a higher one, never a sibling folder of the same layer (the
 *      top-level files of a layer count as one unit with it):
 *
 *        base       errors.ts, version.ts, util/, proc/ (bounded children), fs/ (bounded reads,
 *                   atomic writes)
 *        net        net/          addresses and CIDRs
 *        config     config/       bytes → Config
 *        plan       plan/         Config + facts → Plan (and explain)
 *        nft        nft/          Plan → nft JSON, read-back, the NftBackend seam and its client
 *        flannel    flannel/      flannel's facts and rules
 *        reconcile  reconcile/    one pass: plan, compare, apply, verify, flannel removal
 *        shell      daemon/, metrics/, doctor/, migrate/   the daemon, its metrics, the node
 *                   checklist, ip-masq-agent import
 *        verbs      verbs/, cli-args.ts   one file per CLI verb; the argv shape they declare
 *        cli        cli.ts, main.ts
 *
 *   3. No source file over MAX_LINES lines: split by concern instead.
 *
 * Prints one line per violation (`file:line: problem; fix`) and exits 1 if there is any.
 * No dependencies: imports are read with a regular expression, which is enough for this tree
 * (every relative import is a `from '…'` / `import('…')` with a literal path).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAX_LINES = 400;

export const LAYERS = [
  ['base', ['errors.ts', 'version.ts', 'util/', 'proc/', 'fs/']],
  ['net', ['net/']],
  ['config', ['config/']],
  ['plan', ['plan/']],
  ['nft', ['nft/']],
  ['flannel', ['flannel/']],
  ['reconcile', ['reconcile/']],
  ['shell', ['daemon/', 'metrics/', 'doctor/', 'migrate/']],
  ['verbs', ['verbs/', 'cli-args.ts']],
  ['cli', ['cli.ts', 'main.ts']],
];

/**
 * [layer index, unit] of a path relative to the source root. The unit is the folder; in a layer
 * that has top-level files, the whole layer is one unit (errors.ts and util/ may meet).
 */
export function layerOf(rel) {
  for (let i = 0; i < LAYERS.length; i++) {
    const [name, entries] = LAYERS[i];
    for (const p of entries) {
      if (!(p.endsWith('/') ? rel.startsWith(p) : rel === p)) continue;
      return [i, entries.some((e) => !e.endsWith('/')) ? name : p];
    }
  }
  return null;
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Relative imports of one file: [{ target (relative to root), line }]. */
export function importsOf(root, file, text) {
  const out = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1].replace(/\.js$/, '.ts');
    const target = relative(root, resolve(dirname(file), spec));
    const line = text.slice(0, m.index).split('\n').length;
    out.push({ target, line });
  }
  return out;
}

export function lintTree(root) {
  const problems = [];
  const files = walk(root)
    .map((f) => relative(root, f))
    .sort();
  const graph = new Map();
  for (const rel of files) {
    const text = readFileSync(join(root, rel), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES)
      problems.push(`${rel}:1: ${lines} lines (limit ${MAX_LINES}); split it by concern`);
    const from = layerOf(rel);
    if (!from)
      problems.push(`${rel}:1: in no layer; add its folder to LAYERS in scripts/lint-arch.mjs`);
    const edges = [];
    for (const { target, line } of importsOf(root, join(root, rel), text)) {
      edges.push(target);
      const to = layerOf(target);
      if (!from || !to || from[1] === to[1]) continue;
      if (to[0] > from[0])
        problems.push(
          `${rel}:${line}: imports ${target} from the higher layer "${LAYERS[to[0]][0]}" (this is "${LAYERS[from[0]][0]}"); move the shared code down`,
        );
      else if (to[0] === from[0])
        problems.push(
          `${rel}:${line}: imports ${target}, a sibling in layer "${LAYERS[to[0]][0]}"; move the shared code down`,
        );
    }
    graph.set(rel, edges);
  }
  for (const cycle of findCycles(graph))
    problems.push(
      `${cycle[0]}:1: import cycle: ${cycle.join(' → ')}; break it by moving the shared part into its own file`,
    );
  return problems;
}

/** Strongly connected components with more than one file (or a self-import), as cycles. */
export function findCycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v))
        cycles.push([...scc.reverse(), scc[0]]);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(
    process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../daemon/src'),
  );
  const problems = lintTree(root);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(
      `lint-arch: ${problems.length} problem(s) in ${relative(process.cwd(), root) || '.'}`,
    );
    process.exit(1);
  }
  console.log(`lint-arch: ok (no cycles, no upward imports, no file over ${MAX_LINES} lines)`);
}
