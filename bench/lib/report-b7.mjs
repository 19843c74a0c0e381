// B7 (issue 15) in docs/BENCHMARKS.md: the daemon's CPU under a co-tenant's rule churn, before
// and after the scoped monitor, and its reactions under that churn. `after` is this run's
// bench/churn-cost.mjs result; `before` the same script run on the tree before issue 15
// (bench/baseline/b7-before.json, recorded once: the old code is not in this tree any more).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, stats } from './common.mjs';
import { lineChart } from './svg.mjs';

const pct = (v) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)} %` : '–');
const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');

export const B7_BEFORE = join(REPO, 'bench/baseline/b7-before.json');

export function loadB7Before() {
  return existsSync(B7_BEFORE) ? JSON.parse(readFileSync(B7_BEFORE, 'utf8')) : null;
}

/** CPU % of one core (median over reps) and achieved rules/s, per rate, for one mode. */
function cpuRows(run, mode) {
  const cpu = run?.modes?.[mode]?.cpu ?? {};
  return Object.entries(cpu).map(([rate, reps]) => ({
    rate: Number(rate),
    cpu: stats(reps.map((r) => r.cpuPct)),
    achieved: stats(reps.map((r) => r.rulesPerS)).p50,
  }));
}

/**
 * Appends the B7 section to `md`, writes the plot through `svg`, returns the targets.
 * `target(name, goal, measured, met, note)` is report.mjs's.
 */
export function reportB7({ md, svg, target, after, before }) {
  const targets = [];
  if (!after) {
    targets.push(target('B7 daemon tree CPU at 4,000 rules/s', '≤ 2 %', 'not measured', null));
    return targets;
  }
  md.push("## B7 · A quiet neighbour: CPU under a co-tenant's rule churn\n");
  md.push(
    `A kube-proxy-like co-tenant restores N nat rules once a second with \`iptables-restore --noflush\` (every chain declared, so flushed and refilled) in the daemon's namespace, while \`ip-masq run\` runs with the unit's node flags. **CPU** is CPU-seconds per wall second of the daemon's whole process tree — node, its live children and its reaped children (\`/proc/<pid>/stat\` utime + stime + cutime + cstime) — over ${after.windowS} s windows, median of ${after.reps}. **flannel ipMasq off**: no flannel MASQUERADE rule (the recommended end state). **on**: a stand-in flanneld re-adds its MASQUERADE rules every 5 s once they are missing, and the daemon keeps deleting them. Reactions are measured under ${after.latencyRate.toLocaleString('en-US')} rules/s. "Before" is the same script run on the tree before issue 15 (an unfiltered \`nft -j monitor\`; \`bench/baseline/b7-before.json\`${before?.recorded ? `, recorded ${before.recorded}` : ''}). "After" is this tree: \`nft -j monitor chains\` always, and while flannel's re-adds are expected \`nft -j monitor new rules\` or, once that stream floods, a poll of flannel's chains twice a second through one long-lived \`nft -j -i\` (docs/ARCHITECTURE.md, "The monitor"). CPU figures are less sensitive to other jobs on the VM than latencies, but not immune: compare the load averages.\n`,
  );
  md.push(
    '| co-tenant rules/s (achieved) | before, ipMasq off | after, ipMasq off | before, ipMasq on | after, ipMasq on |',
  );
  md.push('|---:|---:|---:|---:|---:|');
  const series = {};
  for (const run of [before, after])
    for (const mode of ['off', 'on'])
      series[`${run === after ? 'after' : 'before'}-${mode}`] = cpuRows(run, mode);
  const rates = [...new Set(Object.values(series).flatMap((rows) => rows.map((r) => r.rate)))].sort(
    (a, b) => a - b,
  );
  const cell = (key, rate) => {
    const r = series[key]?.find((x) => x.rate === rate);
    return r ? `${pct(r.cpu.p50)} (${pct(r.cpu.min)}–${pct(r.cpu.max)})` : '–';
  };
  for (const rate of rates) {
    const ach = series['after-off']?.find((x) => x.rate === rate)?.achieved;
    md.push(
      `| ${rate.toLocaleString('en-US')}${rate > 0 && Number.isFinite(ach) ? ` (${Math.round(ach).toLocaleString('en-US')})` : ''} | ${cell('before-off', rate)} | ${cell('after-off', rate)} | ${cell('before-on', rate)} | ${cell('after-on', rate)} |`,
    );
  }
  md.push('');
  md.push('CPU: % of one core, median (min–max) of the windows.\n');
  const names = {
    'before-off': 'before, ipMasq off',
    'before-on': 'before, ipMasq on',
    'after-off': 'after, ipMasq off',
    'after-on': 'after, ipMasq on',
  };
  const plotted = Object.entries(series)
    .filter(([, rows]) => rows.some((r) => r.rate > 0))
    .map(([key, rows]) => ({
      name: names[key],
      dashed: key.startsWith('before'),
      points: rows
        .filter((r) => r.rate > 0)
        // x is the rate the co-tenant achieved: a loaded VM cannot restore 40,000 rules a second.
        .map((r) => ({
          x: Number.isFinite(r.achieved) && r.achieved > 0 ? r.achieved : r.rate,
          y: Math.max(r.cpu.p50, 0.01),
          hi: Math.max(r.cpu.max, 0.01),
        })),
    }));
  if (plotted.length > 0) {
    svg(
      'churn-cpu.svg',
      lineChart({
        title: "B7 · daemon tree CPU vs a co-tenant's rule churn",
        xLabel: 'co-tenant nat rules restored per second, achieved (log scale)',
        yLabel: '% of one core (log scale), median, max whisker',
        series: plotted,
        hlines: [{ y: 2, label: 'target ≤ 2 %' }],
        note: 'node + nft children,\nreaped ones included\ndashed: before issue 15',
      }),
    );
    md.push('![daemon CPU vs churn](bench/churn-cpu.svg)\n');
  }
  const rx = [];
  for (const [label, run] of [
    ['before', before],
    ['after', after],
  ]) {
    if (!run) continue;
    for (const mode of ['off', 'on']) {
      const m = run.modes?.[mode];
      if (m?.heal)
        rx.push({
          label,
          mode,
          what: 'our table deleted → restored',
          s: stats(m.heal),
          missed: m.healMissed ?? 0,
        });
      if (m?.readd)
        rx.push({
          label,
          mode,
          what: 'flannel MASQUERADE re-added → deleted',
          s: stats(m.readd),
          missed: m.readdMissed ?? 0,
        });
    }
  }
  if (rx.length) {
    md.push(
      `Reactions under ${after.latencyRate.toLocaleString('en-US')} rules/s of churn (ms; instants from one \`nft -j monitor\` stream of the bench):\n`,
    );
    md.push('| build | flannel ipMasq | reaction | n | p50 | p95 | p99 | max | not within 10 s |');
    md.push('|---|---|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rx)
      md.push(
        `| ${r.label} | ${r.mode} | ${r.what} | ${r.s.n} | ${ms(r.s.p50)} | ${ms(r.s.p95)} | ${ms(r.s.p99)} | ${ms(r.s.max)} | ${r.missed} |`,
      );
    md.push('');
    md.push(
      'A trial not seen within 10 s is counted in the last column, not in the quantiles; after three the bench stops that series (the table then comes back at the resync, 60 s).\n',
    );
  }
  const at = (mode, rate) => series[`after-${mode}`]?.find((r) => r.rate === rate);
  for (const mode of ['off', 'on']) {
    const r = at(mode, 4000);
    targets.push(
      r
        ? target(
            `B7 daemon tree CPU at 4,000 co-tenant rules/s, flannel ipMasq ${mode}`,
            '≤ 2 % of a core',
            `${pct(r.cpu.p50)} (max ${pct(r.cpu.max)}; 40,000/s: ${pct(at(mode, 40000)?.cpu.p50)})`,
            r.cpu.p50 <= 2,
            `b7-cpu-${mode}`,
          )
        : target(`B7 CPU at 4,000 rules/s, ipMasq ${mode}`, '≤ 2 %', 'not measured', null),
    );
  }
  const heal = rx.find((r) => r.label === 'after' && r.mode === 'off' && r.what.startsWith('our'));
  targets.push(
    heal
      ? target(
          'B7 under churn: table deleted → restored p99',
          '≤ 100 ms',
          `${ms(heal.s.p99)} ms (p50 ${ms(heal.s.p50)}, n=${heal.s.n}${heal.missed ? `, ${heal.missed} not within 10 s` : ''})`,
          heal.s.p99 <= 100 && heal.missed === 0,
          'b7-heal',
        )
      : target('B7 under churn: table deleted → restored p99', '≤ 100 ms', 'not measured', null),
  );
  const readd = rx.find((r) => r.label === 'after' && r.what.startsWith('flannel'));
  targets.push(
    readd
      ? target(
          'B7 under churn (ipMasq on): flannel re-add → deleted p99',
          '≤ 1 s',
          `${ms(readd.s.p99)} ms (p50 ${ms(readd.s.p50)}, n=${readd.s.n}${readd.missed ? `, ${readd.missed} not within 10 s` : ''})`,
          readd.s.p99 <= 1000 && readd.missed === 0,
          'b7-readd',
        )
      : target('B7 under churn: flannel re-add → deleted p99', '≤ 1 s', 'not measured', null),
  );
  return targets;
}
