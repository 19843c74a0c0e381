#!/usr/bin/env node
// The benchmark orchestrator behind `make bench` and `make bench-quick` (root; namespaces only,
// never the host ruleset):
//   node bench/run.mjs --full    every figure at full size (≈ 10–15 min), regenerates
//                                docs/BENCHMARKS.md and docs/bench/*.svg
//   node bench/run.mjs --quick   small N, few repetitions (< ~1 min), writes bench/out/ only;
//                                for CI, so the benchmark code cannot rot. Never asserts a timing:
//                                exits non-zero only when a scenario's own code broke.
//   node bench/run.mjs --report-only [--full]   rebuild the report from bench/out/results-<mode>.json
//                                (after editing lib/report.mjs or lib/findings.mjs; no measuring)
// Each scenario is a script of its own with --json output (run alone to dig into one figure);
// raw results go to bench/out/<scenario>.json and, together, to bench/out/results-<mode>.json,
// which the report is built from.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { args, now, REPO } from './lib/common.mjs';
import { machineInfo } from './lib/machine.mjs';
import { writeReport } from './lib/report.mjs';

const opt = args();
const FULL = Boolean(opt.full);
const mode = FULL ? 'full' : 'quick';
const OUT = join(REPO, 'bench/out');

/** Scenario → command line per mode. Every script takes --json FILE. */
const SCENARIOS = [
  {
    id: 'apply-cost',
    what: 'B1 apply cost vs N (ours vs ip-masq-agent) + B5 unchanged-config resync',
    argv: FULL
      ? [
          'bench/apply-cost.mjs',
          '--n',
          '1,64,1000,10000,100000',
          '--reps',
          '10',
          '--cli-reps',
          '5',
          '--noop',
          '20',
        ]
      : [
          'bench/apply-cost.mjs',
          '--n',
          '1,64,1000',
          '--reps',
          '2',
          '--cli-reps',
          '1',
          '--noop',
          '3',
        ],
  },
  {
    id: 'flow-rate',
    what: 'B2 new flows/s through a router namespace vs N (ours vs ip-masq-agent)',
    argv: FULL
      ? [
          'bench/flow-rate.mjs',
          '--n',
          '64,1000,10000',
          '--reps',
          '3',
          '--window',
          '3',
          '--split',
          '10000',
        ]
      : [
          'bench/flow-rate.mjs',
          '--n',
          '64,1000',
          '--reps',
          '1',
          '--window',
          '1',
          '--warmup',
          '0.5',
          '--split',
          '1000',
        ],
  },
  {
    id: 'daemon-latency',
    what: 'B3 reload latency, B4 drift heal (table deleted), B5 RSS and start → READY (ip-masq run)',
    argv: FULL
      ? [
          'bench/daemon-latency.mjs',
          '--edits',
          '200',
          '--drifts',
          '100',
          '--reconciles',
          '1000',
          '--starts',
          '20',
        ]
      : [
          'bench/daemon-latency.mjs',
          '--edits',
          '8',
          '--drifts',
          '5',
          '--reconciles',
          '20',
          '--starts',
          '2',
          '--idle-ms',
          '300',
        ],
  },
  {
    id: 'flannel',
    what: 'B4 flannel MASQUERADE re-added → deleted by ip-masq run; one removal pass',
    argv: FULL ? ['bench/flannel.mjs', '--trials', '60'] : ['bench/flannel.mjs', '--trials', '4'],
    text: true, // prints text only; parsed by lib/report.mjs
  },
  {
    id: 'facts-latency',
    what: "B6 flannel's subnet.env written → pod-network rules live (ip-masq run, late /run/flannel)",
    argv: FULL
      ? ['bench/facts-latency.mjs', '--writes', '200']
      : ['bench/facts-latency.mjs', '--writes', '8'],
  },
  {
    id: 'churn-cost',
    what: "B7 daemon CPU under a co-tenant's nat rule churn; reactions under that churn",
    argv: FULL
      ? ['bench/churn-cost.mjs', '--window', '10', '--reps', '3', '--heals', '60', '--readds', '30']
      : [
          'bench/churn-cost.mjs',
          '--rates',
          '0,4000',
          '--window',
          '2',
          '--reps',
          '1',
          '--heals',
          '5',
          '--readds',
          '3',
          '--no-settle',
        ],
  },
  {
    id: 'journal-cost',
    what: 'issue 14: one native journal entry, the perl helper vs logger --journald per entry',
    argv: FULL
      ? ['bench/journal-cost.mjs', '--n', '2000', '--logger-n', '500']
      : ['bench/journal-cost.mjs', '--n', '100', '--logger-n', '20'],
  },
  {
    id: 'adversarial-parse',
    what: 'hostile config shapes at the 4 MiB cap: parsed or rejected (the loader, in process)',
    argv: ['bench/adversarial-parse.mjs', '--reps', FULL ? '5' : '1'],
  },
  {
    id: 'config',
    what: 'config parse and CIDR collapse at 100,000 entries (vitest bench)',
    cmd: (json) => [
      'npx',
      '--no-install',
      'vitest',
      'bench',
      '--run',
      'bench/config.bench.ts',
      '--outputJson',
      json,
      ...(FULL ? [] : ['-t', 'collapseCidrs']),
    ],
  },
];

function runScenario(s) {
  const json = join(OUT, `${s.id}.json`);
  const argv = s.cmd
    ? s.cmd(json)
    : [process.execPath, ...s.argv, ...(s.text ? [] : ['--json', json])];
  return new Promise((resolve) => {
    const t0 = now();
    let stdout = '';
    let stderr = '';
    const child = spawn(argv[0], argv.slice(1), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    // Child output, indented line by line (chunks do not end at line ends).
    const echo = () => {
      let pending = '';
      return (d) => {
        pending += d;
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const l of lines) process.stdout.write(`  ${l}\n`);
      };
    };
    const out = echo();
    const err = echo();
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      if (!s.cmd) out(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      err(d);
    });
    child.on('error', (e) => resolve({ ok: false, error: e.message, ms: now() - t0 }));
    child.on('close', (status) => {
      const ms = now() - t0;
      if (status !== 0)
        return resolve({
          ok: false,
          error: `${argv.join(' ')} exited ${status}: ${stderr.slice(-800)}`,
          ms,
        });
      if (s.text) writeFileSync(join(OUT, `${s.id}.txt`), stdout);
      if (!s.text && !existsSync(json))
        return resolve({ ok: false, error: `${json} was not written`, ms });
      resolve({ ok: true, ms, data: s.text ? stdout : JSON.parse(readFileSync(json, 'utf8')) });
    });
  });
}

async function main() {
  if (opt['report-only']) {
    const { meta, results } = JSON.parse(readFileSync(join(OUT, `results-${mode}.json`), 'utf8'));
    const { mdPath, svgs } = writeReport({ meta, results, full: meta.mode === 'full' });
    console.log(
      `bench: report → ${mdPath} (+ ${svgs.length} SVG plots) from ${meta.mode} results of ${meta.started}`,
    );
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('bench needs root: it creates network namespaces');
  if (!existsSync(join(REPO, 'dist/ip-masq.js')))
    throw new Error('dist/ip-masq.js missing: run make build');
  mkdirSync(OUT, { recursive: true });
  const started = new Date();
  const machineBefore = machineInfo();
  const only = opt.only ? String(opt.only).split(',') : null;
  const results = {};
  let passed = 0;
  let failed = 0;
  for (const s of SCENARIOS) {
    if (only && !only.includes(s.id)) continue;
    console.log(`bench(${mode}): ${s.id} — ${s.what}`);
    const r = await runScenario(s);
    results[s.id] = r;
    if (r.ok) passed++;
    else failed++;
    console.log(
      `bench(${mode}): ${s.id} ${r.ok ? 'ok' : 'FAILED'} in ${(r.ms / 1000).toFixed(1)} s${r.ok ? '' : `: ${r.error}`}`,
    );
  }
  const meta = {
    mode,
    started: started.toISOString(),
    elapsedS: (Date.now() - started.getTime()) / 1000,
    machine: machineBefore,
    loadAfter: machineInfo().load,
  };
  writeFileSync(
    join(OUT, `results-${mode}.json`),
    `${JSON.stringify({ meta, results }, null, 1)}\n`,
  );
  // The report is a scenario too: the code that turns figures into tables and plots must run in CI.
  try {
    const { mdPath, svgs } = writeReport({ meta, results, full: FULL });
    passed++;
    console.log(`bench(${mode}): report → ${mdPath} (+ ${svgs.length} SVG plots)`);
  } catch (e) {
    failed++;
    console.log(`bench(${mode}): report FAILED: ${e.stack}`);
  }
  console.log(`bench-${mode}: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
