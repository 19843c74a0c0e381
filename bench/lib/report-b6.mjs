// B6 (issue 12) in docs/BENCHMARKS.md: flannel's subnet.env written → the pod-network rules
// live, measured by bench/facts-latency.mjs on the real daemon, which starts before the lease
// file's directory exists (the boot order on a node: ip-masq before flanneld).

const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');

/** Appends the B6 section to `md` and returns its target. `target` is report.mjs's. */
export function reportB6({ md, target, data, up }) {
  const name = 'B6 subnet.env written → pod-network rules live p99';
  if (!data) return [target(name, '≤ 100 ms', 'not measured', null)];
  const s = data.factsLatency;
  md.push("## B6 · flannel's subnet.env written → pod-network rules live\n");
  md.push(
    `[\`bench/facts-latency.mjs\`](${up}/bench/facts-latency.mjs) starts \`ip-masq run\` in a throwaway namespace before \`/run/flannel\` exists, then acts like flanneld: creates the directory, writes \`.subnet.env\` and renames it to \`subnet.env\`, then writes a new lease the same way every ~250 ms. The clock stops when \`nft -j monitor\` reports a rule of table \`ip ip-masq\` carrying the new pod network; resyncInterval is 1 h, so only the file watch can explain these figures.\n`,
  );
  md.push('| | n | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|');
  md.push(
    `| subnet.env renamed into place → rules live | ${s.n} | ${ms(s.p50)} ms | ${ms(s.p95)} ms | ${ms(s.p99)} ms | ${ms(s.max)} ms |`,
  );
  md.push(
    `\nThe first sample, flanneld's start (the directory created, then the file renamed into it): ${ms(data.lateDirMs)} ms.\n`,
  );
  return [target(name, '≤ 100 ms', `${ms(s.p99)} ms (p50 ${ms(s.p50)}, n=${s.n})`, s.p99 <= 100)];
}
