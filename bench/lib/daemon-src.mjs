// The daemon's own TypeScript sources (daemon/src), bundled with esbuild for in-process timing:
// the same reconcile the daemon runs, called directly, so a figure is the reconcile itself and
// not Node's start-up.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { REPO } from './common.mjs';

/**
 * Bundles and imports the daemon's sources. BENCH_DAEMON_ROOT=DIR measures another checkout (a
 * directory holding daemon/src, e.g. a copy with a proposed fix) against the same harness.
 */
export async function loadDaemonSources(outDir = join(REPO, 'bench/out')) {
  const root = process.env.BENCH_DAEMON_ROOT || REPO;
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `daemon-src-${process.pid}.mjs`);
  await build({
    stdin: {
      contents: [
        "export { reconcile } from './daemon/src/reconcile/reconcile.ts';",
        "export { flannelHooks } from './daemon/src/reconcile/flannel-hooks.ts';",
        "export { NftClient } from './daemon/src/nft/client.ts';",
        "export { NftSession } from './daemon/src/nft/session.ts';",
        "export { parseConfigSnapshot as parseConfigText } from './daemon/src/config/snapshot.ts';",
        "export { loadConfigTree } from './daemon/src/config/tree.ts';",
        "export { JournalSender } from './daemon/src/daemon/journal-sender.ts';",
        "export { journalEntry } from './daemon/src/daemon/journal-entry.ts';",
      ].join('\n'),
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18.19',
    // yaml/pino stay imports from node_modules (CommonJS inside an ESM bundle cannot require).
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  return { mod: await import(pathToFileURL(outfile).href), outfile };
}

/**
 * An NftClient whose list/applyBatch/run calls are recorded with their start and end times, so
 * a reconcile can be split into phases (read live tables, transaction, read-back, flannel pass)
 * and its nft write transactions counted independently of what reconcile reports.
 */
export function timedClient(NftClient, options) {
  const client = new NftClient(options);
  const calls = [];
  // Only the two public entry points reconcile and the flannel pass use (both go through run()
  // inside, which is therefore not wrapped: a write is one applyBatch).
  for (const method of ['list', 'applyBatch']) {
    const orig = client[method].bind(client);
    client[method] = async (...a) => {
      const rec = {
        method,
        what: method === 'list' ? a[0].join(' ') : 'batch',
        t0: performance.now(),
        t1: NaN,
      };
      calls.push(rec);
      try {
        return await orig(...a);
      } finally {
        rec.t1 = performance.now();
      }
    };
  }
  return { client, calls, reset: () => (calls.length = 0) };
}
