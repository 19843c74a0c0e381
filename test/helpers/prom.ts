/**
 * A strict parser for the Prometheus text exposition format (0.0.4), for tests that scrape the
 * daemon: it throws on anything a Prometheus server or node_exporter's textfile collector would
 * reject or misread (a sample before its TYPE, a TYPE twice, bad names or label syntax, a
 * histogram whose buckets are not cumulative or whose +Inf bucket differs from _count, a
 * counter not named *_total, a timestamp).
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: ParsedSample[];
}

export interface Exposition {
  families: Map<string, ParsedFamily>;
  /** The value of one sample; throws when there is not exactly one. */
  value(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text))
    throw new Error(`bad value in ${JSON.stringify(line)}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq === -1) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name))
      throw new Error(`bad label name ${JSON.stringify(name)} in ${JSON.stringify(line)}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in ${JSON.stringify(line)}`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        value +=
          next === 'n'
            ? '\n'
            : next === '\\'
              ? '\\'
              : next === '"'
                ? '"'
                : (() => {
                    throw new Error(`bad escape in ${JSON.stringify(line)}`);
                  })();
      } else value += text[j];
    }
    if (text[j] !== '"') throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
    if (name in labels) throw new Error(`label ${name} twice in ${JSON.stringify(line)}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`expected "," in ${JSON.stringify(line)}`);
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, ParsedFamily>();
  const helps = new Map<string, string>();
  let current: ParsedFamily | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`HELP twice for ${name}`);
        helps.set(name, rest);
      } else {
        if (families.has(name)) throw new Error(`TYPE twice for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`bad type ${rest} for ${name}`);
        current = {
          name,
          type: rest as ParsedFamily['type'],
          help: helps.get(name) ?? '',
          samples: [],
        };
        families.set(name, current);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m)
      throw new Error(
        `bad sample line ${JSON.stringify(line)} (a timestamp is not allowed either)`,
      );
    const [, name, labelText, valueText] = m as unknown as [
      string,
      string,
      string | undefined,
      string,
    ];
    const family = [...families.values()].find(
      (f) =>
        name === f.name ||
        (f.type === 'histogram' &&
          [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(name)),
    );
    if (!family || family !== current)
      throw new Error(`sample ${name} outside its family's block (or before its TYPE)`);
    family.samples.push({
      name,
      labels: labelText ? parseLabels(labelText, line) : {},
      value: parseValue(valueText, line),
    });
  }
  for (const f of families.values()) {
    if (!helps.has(f.name)) throw new Error(`no HELP for ${f.name}`);
    f.help = helps.get(f.name) ?? '';
    if (f.type === 'counter' && !f.name.endsWith('_total'))
      throw new Error(`counter ${f.name} should end in _total`);
    if (f.type === 'counter' && f.samples.some((s) => s.value < 0))
      throw new Error(`negative counter ${f.name}`);
    if (f.type === 'histogram') {
      const buckets = f.samples.filter((s) => s.name.endsWith('_bucket'));
      const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
      if (les[les.length - 1] !== Infinity) throw new Error(`${f.name}: no +Inf bucket`);
      for (let i = 1; i < buckets.length; i++) {
        if (!(les[i]! > les[i - 1]!)) throw new Error(`${f.name}: le not increasing`);
        if (buckets[i]!.value < buckets[i - 1]!.value)
          throw new Error(`${f.name}: buckets not cumulative`);
      }
      const count = f.samples.find((s) => s.name === `${f.name}_count`);
      if (!count || !f.samples.some((s) => s.name === `${f.name}_sum`))
        throw new Error(`${f.name}: _sum/_count missing`);
      if (buckets[buckets.length - 1]!.value !== count.value)
        throw new Error(`${f.name}: +Inf bucket differs from _count`);
    }
  }
  return {
    families,
    value(name, labels = {}) {
      const all = [...families.values()].flatMap((f) => f.samples);
      const found = all.filter(
        (s) =>
          s.name === name &&
          Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
          Object.keys(s.labels).length === Object.keys(labels).length,
      );
      if (found.length !== 1)
        throw new Error(`${found.length} samples for ${name}${JSON.stringify(labels)}`);
      return found[0]!.value;
    },
  };
}
