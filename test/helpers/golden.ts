/** The render golden cases (test/golden/render/<case>/), materialized in a temp dir. */
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './cli.js';

export const GOLDEN_RENDER = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'golden',
  'render',
);

export function goldenRenderCases(): string[] {
  return readdirSync(GOLDEN_RENDER)
    .filter((name) => statSync(join(GOLDEN_RENDER, name)).isDirectory())
    .sort();
}

/** Copies a case's inputs into a fresh dir, `@DIR@` in its YAML files replaced by that dir. */
export function materializeGolden(name: string): string {
  const dir = tempDir('golden');
  cpSync(join(GOLDEN_RENDER, name), dir, {
    recursive: true,
    filter: (src) => !/render\.(json|stderr)$/.test(src),
  });
  const yamls = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? yamls(join(d, e.name)) : e.name.endsWith('.yaml') ? [join(d, e.name)] : [],
    );
  for (const file of yamls(dir))
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('@DIR@', dir));
  return dir;
}
