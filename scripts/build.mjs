// Bundles the daemon into ONE file, dist/ip-masq.js, that runs on Node >= 18.19 with no
// node_modules beside it: the .deb/.rpm ship exactly this file.
import { build } from 'esbuild';
import { readFileSync, chmodSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: ['daemon/src/main.ts'],
  outfile: 'dist/ip-masq.js',
  bundle: true,
  platform: 'node',
  target: 'node18.19',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'eof',
  banner: { js: '#!/usr/bin/env node' },
  define: { IP_MASQ_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
chmodSync('dist/ip-masq.js', 0o755);
// The bundle is CommonJS (what Node assumes for /usr/lib/ip-masq/ip-masq.js, which has no
// package.json around it); inside this repo the root package.json says "type": "module", so
// dist/ needs its own marker for `node dist/ip-masq.js` to run here too.
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
