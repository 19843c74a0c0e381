// Hand-written SVG charts (no plotting dependency): a line chart with log or linear axes and
// p50 markers with a p95 whisker, and a horizontal distribution chart. Plain SVG 1.1 that GitHub
// renders from docs/bench/*.svg.
const W = 720;
const H = 420;
const M = { l: 78, r: 200, t: 44, b: 58 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmtNum = (v) => {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
};

function axis(lo, hi, log) {
  if (log) {
    const a = Math.floor(Math.log10(lo));
    const b = Math.ceil(Math.log10(hi));
    const ticks = [];
    for (let e = a; e <= b; e++) ticks.push(10 ** e);
    return { lo: 10 ** a, hi: 10 ** b, ticks, f: (v) => (Math.log10(v) - a) / (b - a || 1) };
  }
  const span = hi - 0 || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const nice = [1, 2, 2.5, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10;
  const top = Math.ceil(hi / nice) * nice;
  const ticks = [];
  for (let v = 0; v <= top + 1e-9; v += nice) ticks.push(v);
  return { lo: 0, hi: top, ticks, f: (v) => v / top };
}

/**
 * series: [{ name, points: [{x, y, hi?}] , dashed? }], hlines: [{ y, label }].
 * y is the median; hi (optional) the p95, drawn as a whisker.
 */
export function lineChart({
  title,
  xLabel,
  yLabel,
  logX = true,
  logY = true,
  series,
  hlines = [],
  note,
}) {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = [
    ...series.flatMap((s) => s.points.flatMap((p) => [p.y, p.hi ?? p.y])),
    ...hlines.map((h) => h.y),
  ].filter((v) => v > 0);
  const ax = axis(Math.min(...xs), Math.max(...xs), logX);
  const ay = axis(logY ? Math.min(...ys) : 0, Math.max(...ys) * (logY ? 1 : 1.05), logY);
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const X = (v) => M.l + ax.f(v) * pw;
  const Y = (v) => M.t + ph - ay.f(v) * ph;
  const o = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  o.push(
    `<text x="${M.l + pw / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );
  for (const t of ax.ticks) {
    o.push(`<line x1="${X(t)}" y1="${M.t}" x2="${X(t)}" y2="${M.t + ph}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${X(t)}" y="${M.t + ph + 18}" text-anchor="middle">${fmtNum(t)}</text>`);
  }
  for (const t of ay.ticks) {
    o.push(`<line x1="${M.l}" y1="${Y(t)}" x2="${M.l + pw}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${M.l - 8}" y="${Y(t) + 4}" text-anchor="end">${fmtNum(t)}</text>`);
  }
  o.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${M.l + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(xLabel)}</text>`);
  o.push(
    `<text transform="translate(18 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  hlines.forEach((h, i) => {
    o.push(
      `<line x1="${M.l}" y1="${Y(h.y)}" x2="${M.l + pw}" y2="${Y(h.y)}" stroke="#888" stroke-dasharray="2 4"/>`,
    );
    o.push(
      `<text x="${M.l + pw - 4}" y="${Y(h.y) - 4 - (i % 2) * 0}" text-anchor="end" fill="#555" font-size="11">${esc(h.label)}</text>`,
    );
  });
  series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => p.y > 0 || !logY);
    o.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts) {
      if (p.hi !== undefined && p.hi > p.y)
        o.push(
          `<line x1="${X(p.x)}" y1="${Y(p.y)}" x2="${X(p.x)}" y2="${Y(p.hi)}" stroke="${c}"/><line x1="${X(p.x) - 4}" y1="${Y(p.hi)}" x2="${X(p.x) + 4}" y2="${Y(p.hi)}" stroke="${c}"/>`,
        );
      o.push(
        `<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${c}"><title>${esc(`${s.name}: N=${p.x} → ${fmtNum(p.y)}${p.hi !== undefined ? ` (p95 ${fmtNum(p.hi)})` : ''}`)}</title></circle>`,
      );
    }
    const ly = M.t + 14 + i * 20;
    o.push(
      `<line x1="${W - M.r + 14}" y1="${ly}" x2="${W - M.r + 38}" y2="${ly}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    o.push(`<text x="${W - M.r + 44}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  if (note)
    o.push(
      `<text x="${W - M.r + 14}" y="${M.t + ph}" font-size="10" fill="#555">${note
        .split('\n')
        .map(
          (l, i) =>
            `<tspan x="${W - M.r + 14}" dy="${i ? 13 : -13 * (note.split('\n').length - 1)}">${esc(l)}</tspan>`,
        )
        .join('')}</text>`,
    );
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}

/**
 * Latency distributions, one row per series: a box from p50 to p95, a whisker to p99, a tick at
 * max, and (when samples are given) every sample as a faint dot. Linear x in ms, with an
 * optional target line.
 */
export function distributionChart({ title, xLabel, rows, target }) {
  const rowH = 54;
  const h = M.t + M.b + rows.length * rowH;
  const lw = 200;
  const pw = W - lw - 30;
  const maxV =
    Math.max(...rows.flatMap((r) => [r.stats.max, ...(r.samples ?? [])]), target?.value ?? 0) *
    1.05;
  const ax = axis(0, maxV, false);
  const X = (v) => lw + (v / ax.hi) * pw;
  const o = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${h}" fill="#fff"/>`);
  o.push(
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );
  const bottom = M.t + rows.length * rowH;
  for (const t of ax.ticks) {
    o.push(`<line x1="${X(t)}" y1="${M.t}" x2="${X(t)}" y2="${bottom}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${X(t)}" y="${bottom + 18}" text-anchor="middle">${fmtNum(t)}</text>`);
  }
  o.push(`<text x="${lw + pw / 2}" y="${bottom + 40}" text-anchor="middle">${esc(xLabel)}</text>`);
  if (target) {
    o.push(
      `<line x1="${X(target.value)}" y1="${M.t - 6}" x2="${X(target.value)}" y2="${bottom}" stroke="#d62728" stroke-dasharray="5 4"/>`,
    );
    const right = X(target.value) > W - 160;
    o.push(
      `<text x="${X(target.value) + (right ? -4 : 4)}" y="${M.t - 8}" text-anchor="${right ? 'end' : 'start'}" fill="#d62728" font-size="11">${esc(target.label)}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const c = COLORS[i % COLORS.length];
    const cy = M.t + i * rowH + rowH / 2;
    o.push(`<text x="${lw - 10}" y="${cy - 2}" text-anchor="end">${esc(r.name)}</text>`);
    o.push(
      `<text x="${lw - 10}" y="${cy + 13}" text-anchor="end" fill="#666" font-size="10">n=${r.stats.n}</text>`,
    );
    if (r.samples) {
      r.samples.forEach((v, j) =>
        o.push(
          `<circle cx="${X(v).toFixed(1)}" cy="${(cy + 14 + ((j * 7) % 9) - 4).toFixed(1)}" r="1.6" fill="${c}" fill-opacity="0.35"/>`,
        ),
      );
    }
    const s = r.stats;
    o.push(
      `<line x1="${X(s.min ?? s.p50)}" y1="${cy - 6}" x2="${X(s.max)}" y2="${cy - 6}" stroke="${c}"/>`,
    );
    o.push(
      `<rect x="${X(s.p50)}" y="${cy - 14}" width="${Math.max(1, X(s.p95) - X(s.p50))}" height="16" fill="${c}" fill-opacity="0.35" stroke="${c}"/>`,
    );
    o.push(
      `<line x1="${X(s.p50)}" y1="${cy - 17}" x2="${X(s.p50)}" y2="${cy + 5}" stroke="${c}" stroke-width="3"/>`,
    );
    o.push(
      `<line x1="${X(s.p99)}" y1="${cy - 12}" x2="${X(s.p99)}" y2="${cy}" stroke="${c}" stroke-width="2"/>`,
    );
    o.push(
      `<line x1="${X(s.max)}" y1="${cy - 10}" x2="${X(s.max)}" y2="${cy - 2}" stroke="${c}"/>`,
    );
    o.push(
      `<text x="${Math.min(X(s.max) + 6, W - 150)}" y="${cy - 2}" font-size="10" fill="#333">p50 ${s.p50.toFixed(0)} · p95 ${s.p95.toFixed(0)} · p99 ${s.p99.toFixed(0)} · max ${s.max.toFixed(0)}</text>`,
    );
  });
  o.push(
    `<text x="${lw}" y="${h - 6}" font-size="10" fill="#555">thick tick: p50 · box: p50–p95 · short tick: p99 · line: min–max${rows.some((r) => r.samples) ? ' · dots: every sample' : ''}</text>`,
  );
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
