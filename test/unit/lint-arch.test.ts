/** scripts/lint-arch.mjs finds what it exists for: cycles, upward imports, long files. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { lintTree, MAX_LINES } from '../../scripts/lint-arch.mjs';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ipmasq-lint-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}
const lint = (files: Record<string, string>): string[] => lintTree(tree(files)) as string[];

describe('lint-arch', () => {
  it('accepts imports down the layers and within a folder', () => {
    expect(
      lint({
        'errors.ts': 'export const x = 1;\n',
        'net/cidr.ts': "import { x } from '../errors.js';\n",
        'nft/to-nft.ts':
          "import type { A } from '../plan/plan.js';\nimport { b } from './types.js';\n",
        'nft/types.ts': 'export const b = 1;\n',
        'plan/plan.ts': "import '../net/cidr.js';\n",
        'cli.ts': "import { run } from './verbs/run.js';\n",
        'verbs/run.ts': "import { r } from '../reconcile/reconcile.js';\n",
        'reconcile/reconcile.ts': 'export const r = 1;\n',
      }),
    ).toEqual([]);
  });

  it('reports an upward import and a sibling import with the place and the fix', () => {
    const problems = lint({
      'nft/monitor.ts': "\nimport { Backoff } from '../daemon/backoff.js';\n",
      'daemon/backoff.ts': 'export class Backoff {}\n',
      'metrics/m.ts': "import '../daemon/backoff.js';\n",
    });
    expect(problems).toEqual([
      'metrics/m.ts:1: imports daemon/backoff.ts, a sibling in layer "shell"; move the shared code down',
      'nft/monitor.ts:2: imports daemon/backoff.ts from the higher layer "shell" (this is "nft"); move the shared code down',
    ]);
  });

  it('reports an import cycle, type-only imports included', () => {
    const problems = lint({
      'config/parse.ts': "import type { M } from './merge.js';\n",
      'config/merge.ts': "import { p } from './parse.js';\n",
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^config\/\w+\.ts:1: import cycle: config\/\w+\.ts → config\/\w+\.ts → /,
    );
  });

  it(`reports a file over ${MAX_LINES} lines and a file in no layer`, () => {
    const long = 'export const a = 1;\n'.repeat(MAX_LINES + 1);
    expect(lint({ 'plan/plan.ts': long, 'stray/x.ts': '' })).toEqual([
      `plan/plan.ts:1: ${MAX_LINES + 1} lines (limit ${MAX_LINES}); split it by concern`,
      'stray/x.ts:1: in no layer; add its folder to LAYERS in scripts/lint-arch.mjs',
    ]);
    expect(lint({ 'plan/plan.ts': 'export const a = 1;\n'.repeat(MAX_LINES) })).toEqual([]);
  });
});
