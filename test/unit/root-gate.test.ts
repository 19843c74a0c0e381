/**
 * Every test file that drives the kernel goes through the one root gate (canUseNetns in
 * test/helpers/netns.ts): skipped with the reason under `make check`, a failure under
 * `make test`. A new suite that creates namespaces without it would fail hard as an ordinary
 * user, or skip silently in CI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const KERNEL = /\bNetns\.create\b|\bDaemonSandbox\.create\b|\bnftArgv\(/;

describe('root-needing test files', () => {
  it('all use canUseNetns()', () => {
    const ungated: string[] = [];
    for (const dir of ['integration', 'reliability']) {
      const root = fileURLToPath(new URL(`../${dir}/`, import.meta.url));
      for (const name of readdirSync(root).filter((n) => n.endsWith('.test.ts'))) {
        const text = readFileSync(root + name, 'utf8');
        if (KERNEL.test(text) && !text.includes('canUseNetns(')) ungated.push(`${dir}/${name}`);
      }
    }
    expect(ungated).toEqual([]);
  });
});
