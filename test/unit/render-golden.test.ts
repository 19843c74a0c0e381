/**
 * `ip-masq render` pinned byte for byte: refactors of config/, plan/ and nft/ must keep the
 * batch identical. Each directory of test/golden/render/ is one case: its config.yaml (plus
 * config.d/ and subnet.env when present) is copied to a temp dir, `@DIR@` in the YAML files is
 * replaced by that dir (flannel.subnetEnv must be absolute), and `render` runs in-process.
 * stdout must equal render.json exactly; stderr (temp dir written back as `@DIR@`) must equal
 * render.stderr, or be empty when that file is absent.
 *
 * The goldens were generated from the code before the refactors. When a change to the output
 * is intended, regenerate them with
 *   UPDATE_GOLDEN=1 npx vitest run test/unit/render-golden.test.ts
 * and review the diff of test/golden/ like code.
 */
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers/cli.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden', 'render');
const OUTPUTS = new Set(['render.json', 'render.stderr']);
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const cases = readdirSync(GOLDEN)
  .filter((name) => statSync(join(GOLDEN, name)).isDirectory())
  .sort();

/** Copies a case's inputs into a fresh dir, with `@DIR@` in YAML files replaced by it. */
function materialize(caseDir: string): string {
  const dir = tempDir('golden');
  cpSync(caseDir, dir, { recursive: true, filter: (src) => !OUTPUTS.has(src.split('/').pop()!) });
  const yamls = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? yamls(join(d, e.name)) : e.name.endsWith('.yaml') ? [join(d, e.name)] : [],
    );
  for (const file of yamls(dir))
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('@DIR@', dir));
  return dir;
}

describe('render golden output', () => {
  it('has cases, each with a config.yaml', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    for (const name of cases) expect(existsSync(join(GOLDEN, name, 'config.yaml'))).toBe(true);
  });

  it.each(cases)('%s', async (name) => {
    const caseDir = join(GOLDEN, name);
    const dir = materialize(caseDir);
    try {
      const run = await cli('render', '--config', join(dir, 'config.yaml'));
      const stderr = run.stderr.replaceAll(dir, '@DIR@');
      expect(run.code, stderr).toBe(0);
      const jsonFile = join(caseDir, 'render.json');
      const stderrFile = join(caseDir, 'render.stderr');
      if (UPDATE) {
        writeFileSync(jsonFile, run.stdout);
        if (stderr !== '') writeFileSync(stderrFile, stderr);
        else rmSync(stderrFile, { force: true });
      }
      expect(run.stdout).toBe(readFileSync(jsonFile, 'utf8'));
      expect(stderr).toBe(existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8') : '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
