/**
 * Prometheus text exposition format 0.0.4, written by hand (no client library: the format is a
 * few lines and the daemon stays dependency-light). Both node_exporter's textfile collector and
 * a scraper of `/metrics` read it.
 *
 * Rules that matter here: one `# HELP` and one `# TYPE` line per family, before its samples;
 * label values escape `\`, `"` and newline; HELP escapes `\` and newline; histogram samples are
 * `_bucket{le="…"}` (cumulative, ending with `+Inf` = `_count`), `_sum` and `_count`; no
 * timestamps (the textfile collector rejects them).
 */

export type Labels = Record<string, string>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface CounterOrGauge {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

export interface Histogram {
  name: string;
  help: string;
  type: 'histogram';
  /** Upper bounds, ascending, without +Inf. */
  buckets: readonly number[];
  /** Observations ≤ each bound (cumulative), same length as `buckets`. */
  cumulative: readonly number[];
  sum: number;
  count: number;
}

export type MetricFamily = CounterOrGauge | Histogram;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: integers as integers, +Inf/-Inf/NaN spelled as Prometheus spells them. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** The families as exposition text (ends with a newline). */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      f.buckets.forEach((le, i) =>
        out.push(`${f.name}_bucket{le="${formatValue(le)}"} ${formatValue(f.cumulative[i] ?? 0)}`),
      );
      out.push(`${f.name}_bucket{le="+Inf"} ${formatValue(f.count)}`);
      out.push(`${f.name}_sum ${formatValue(f.sum)}`);
      out.push(`${f.name}_count ${formatValue(f.count)}`);
    } else {
      for (const s of f.samples)
        out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
