// Prints DEP-5 copyright paragraphs (and their licence texts) for every npm package that
// esbuild bundled into the given file, read from the bundle's source map: what the map lists
// is exactly what ships, so the list can neither miss nor invent a package.
//   usage: node packaging/third-party.mjs dist/ip-masq.js.map
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const mapPath = process.argv[2];
if (!mapPath) {
  console.error('usage: third-party.mjs BUNDLE.js.map');
  process.exit(2);
}
const map = JSON.parse(readFileSync(mapPath, 'utf8'));
const root = resolve(dirname(mapPath), map.sourceRoot ?? '');

// "../node_modules/@scope/name/lib/x.js" → "@scope/name" (innermost node_modules wins)
const packages = new Map();
for (const src of map.sources) {
  const m = /^(.*node_modules\/)((?:@[^/]+\/)?[^/]+)\//.exec(src);
  if (!m) continue;
  const dir = resolve(root, m[1] + m[2]);
  packages.set(dir, m[2]);
}

// SPDX → DEP-5 short names (Debian calls MIT "Expat").
const dep5Name = {
  MIT: 'Expat',
  ISC: 'ISC',
  'BSD-2-Clause': 'BSD-2-clause',
  'BSD-3-Clause': 'BSD-3-clause',
  'Apache-2.0': 'Apache-2.0',
};
const texts = new Map();
const paragraphs = [];
for (const [dir, name] of [...packages].sort((a, b) => a[1].localeCompare(b[1]))) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const spdx = typeof pkg.license === 'string' ? pkg.license : pkg.license?.type;
  const license = dep5Name[spdx];
  if (!license) {
    console.error(
      `third-party: ${name}@${pkg.version}: licence ${JSON.stringify(spdx)} has no mapping; add it to dep5Name`,
    );
    process.exit(1);
  }
  const licFile = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.md|\.txt)?$/i.test(f));
  const licText = licFile ? readFileSync(join(dir, licFile), 'utf8') : '';
  const holders = licText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(\(c\)\s*)?copyright\b/i.test(l) && !/notice/i.test(l));
  const copyright = holders.length
    ? holders.map((h) => h.replace(/^copyright\s*(\(c\))?\s*/i, ''))
    : [String(pkg.author?.name ?? pkg.author ?? `the ${name} authors`)];
  paragraphs.push(
    `Files: node_modules/${name}/*\nComment: ${name} ${pkg.version}, bundled into /usr/lib/ip-masq/ip-masq.js\nCopyright: ${copyright.join('\n ')}\nLicense: ${license}`,
  );
  if (license !== 'Apache-2.0' && !texts.has(license) && licText) {
    // the licence body without its own copyright lines, as DEP-5 wants one text per name
    const body = licText
      .split('\n')
      .filter((l) => !/^\s*(\(c\)\s*)?copyright\b/i.test(l.trim()) || /notice/i.test(l))
      .join('\n')
      .trim();
    const titled = body.replace(/^(the )?(mit|isc) licen[sc]e.*\n+/i, '');
    texts.set(license, titled);
  }
}
const out = [...paragraphs];
for (const [name, text] of texts) {
  out.push(
    `License: ${name}\n` +
      text
        .split('\n')
        .map((l) => (l.trim() === '' ? ' .' : ' ' + l.trimEnd()))
        .join('\n'),
  );
}
process.stdout.write(out.join('\n\n') + '\n');
