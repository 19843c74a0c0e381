// Issue 14 in docs/BENCHMARKS.md: what one native journal entry costs the daemon, measured by
// bench/journal-cost.mjs against a stand-in journald — the daemon's one long-lived perl helper
// against the rejected `logger --journald` per entry. No target: the figures explain the choice.

const ms = (v) => (Number.isFinite(v) ? (v >= 10 ? v.toFixed(1) : v.toFixed(3)) : '–');
const us = (v) => (Number.isFinite(v) ? `${v.toFixed(v >= 100 ? 0 : 1)} µs` : '–');
const received = (c, n) => `${c.received}/${n}${c.intact ? '' : ` (${c.problems.join('; ')})`}`;

/** Appends the journal section to `md`; returns no target (nothing in the issue sets one). */
export function reportJournal({ md, data, up }) {
  if (!data) return [];
  const h = data.helper;
  const l = data.logger;
  md.push('## Journal entries: cost per event (issue 14)\n');
  md.push(
    `[\`bench/journal-cost.mjs\`](${up}/bench/journal-cost.mjs) sends realistic \`applied\` entries (built by \`journal-entry.ts\`) to a stand-in journald — a perl datagram listener, ${data.socket} — one at a time, each waited for until acknowledged, as the daemon does. Every entry is checked on arrival (count and fields); a lost or altered one fails the run. Node's CPU is \`process.cpuUsage\` (building the entry included); the helper's is its \`/proc/<pid>/stat\` utime + stime (10 ms ticks) and, finer, its \`schedstat\` on-CPU time; \`logger\`'s is the reaped children's cutime + cstime.\n`,
  );
  md.push(
    '| sender | n | wall p50 | wall p99 | node CPU / entry | sender CPU / entry | sender RSS | received |',
  );
  md.push('|---|---:|---:|---:|---:|---:|---:|---|');
  md.push(
    `| JournalSender, one perl helper (send → ack) | ${h.n} | ${ms(h.latencyMs.p50)} ms | ${ms(h.latencyMs.p99)} ms | ${us(h.nodeCpuPerEntryUs)} | ${us(h.helperCpuPerEntryUs)} stat (${h.helperCpuTicks} ticks), ${us(h.helperOnCpuPerEntryUs)} schedstat | ${(h.helperRssKiB / 1024).toFixed(1)} MiB | ${received(h.check, h.n)} |`,
  );
  if (l.skipped)
    md.push(`| \`logger --journald\` per entry | – | skipped: ${l.skipped} | | | | | |`);
  else
    md.push(
      `| \`logger --journald\` per entry (spawn → exit) | ${l.n} | ${ms(l.latencyMs.p50)} ms | ${ms(l.latencyMs.p99)} ms | ${us(l.nodeCpuPerEntryUs)} | ${us(l.childCpuPerEntryUs)} | – | ${received(l.check, l.n)} |`,
    );
  md.push('');
  md.push(
    `A burst of ${h.n} entries queued at once goes through the helper at ${Math.round(h.burstEntriesPerS).toLocaleString('en-US')} entries/s (received ${received(h.burstCheck, h.n)}).\n`,
  );
  return [];
}
