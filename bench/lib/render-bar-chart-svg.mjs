// A grouped bar chart as a hand-written SVG (no dependency): one group per scenario, one bar
// per peer, the value being req/s relative to the reference (a dashed line at 1.00).

const PALETTE = ['#9e9e9e', '#009639', '#1f6fb2', '#e08a00', '#7b4fb0', '#d6336c', '#f28cb1', '#17a2b8', '#6c757d'];

/**
 * @typedef {object} ChartInput
 * @property {string} title
 * @property {string} subtitle
 * @property {Array<{ name: string, label: string }>} series    one per peer, in legend order
 * @property {Array<{ title: string, values: Record<string, number> }>} groups  per scenario: peer name -> ratio (NaN: no bar)
 * @property {string} referenceLabel   e.g. "nginx = 1.00"
 */

/** @param {string} s */
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * @param {ChartInput} c
 * @returns {string} an SVG document
 */
export function renderBarChartSvg(c) {
  const barW = 18;
  const barGap = 2;
  const groupGap = 28;
  const n = Math.max(1, c.series.length);
  const groupW = n * (barW + barGap) - barGap;
  const left = 56;
  const right = 20;
  const top = 64;
  const plotH = 260;
  const width = Math.max(560, left + c.groups.length * (groupW + groupGap) + right);
  const legendCols = Math.max(1, Math.floor((width - left) / 190));
  const legendRows = Math.ceil(c.series.length / legendCols);
  const height = top + plotH + 56 + legendRows * 20 + 10;

  const max = Math.max(1.2, ...c.groups.flatMap((g) => Object.values(g.values).filter(Number.isFinite)));
  const step = max <= 1.5 ? 0.25 : max <= 3 ? 0.5 : max <= 6 ? 1 : Math.ceil(max / 6);
  const yMax = Math.ceil((max * 1.08) / step) * step;
  const y = (/** @type {number} */ v) => top + plotH - (v / yMax) * plotH;
  const color = (/** @type {number} */ i) => PALETTE[i % PALETTE.length];

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="600" fill="#222">${esc(c.title)}</text>`,
    `<text x="${left}" y="44" font-size="11" fill="#555">${esc(c.subtitle)}</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="#e5e5e5" stroke-width="1"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="10" fill="#666" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  parts.push(
    `<text x="14" y="${top + plotH / 2}" font-size="11" fill="#444" text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">req/s ÷ ${esc(c.referenceLabel.split(' ')[0])}</text>`,
  );

  c.groups.forEach((g, gi) => {
    const gx = left + groupGap / 2 + gi * (groupW + groupGap);
    c.series.forEach((s, si) => {
      const v = g.values[s.name];
      if (!Number.isFinite(v)) return;
      const x = gx + si * (barW + barGap);
      const h = Math.max(0.5, (v / yMax) * plotH);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${color(si)}"><title>${esc(`${s.label}, ${g.title}: ${v.toFixed(2)}`)}</title></rect>`,
      );
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(top + plotH - h - 3).toFixed(1)}" font-size="8" fill="#333" text-anchor="middle">${v.toFixed(2)}</text>`);
    });
    const lines = wrap(g.title, Math.max(12, Math.floor(groupW / 5.6)));
    lines.forEach((line, li) => {
      parts.push(`<text x="${(gx + groupW / 2).toFixed(1)}" y="${top + plotH + 16 + li * 13}" font-size="10.5" fill="#333" text-anchor="middle">${esc(line)}</text>`);
    });
  });

  const yRef = y(1).toFixed(1);
  parts.push(`<line x1="${left}" y1="${yRef}" x2="${width - right}" y2="${yRef}" stroke="#009639" stroke-width="1.2" stroke-dasharray="5 4"/>`);
  parts.push(`<text x="${width - right}" y="${(y(1) - 4).toFixed(1)}" font-size="10" fill="#009639" text-anchor="end">${esc(c.referenceLabel)}</text>`);
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#888" stroke-width="1"/>`);

  const ly = top + plotH + 56;
  c.series.forEach((s, si) => {
    const lx = left + (si % legendCols) * 190;
    const yy = ly + Math.floor(si / legendCols) * 20;
    parts.push(`<rect x="${lx}" y="${yy - 10}" width="12" height="12" fill="${color(si)}"/>`);
    parts.push(`<text x="${lx + 18}" y="${yy}" font-size="11" fill="#333">${esc(s.label)}</text>`);
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}

/**
 * Splits `text` into at most three lines of about `width` characters, at spaces.
 * @param {string} text
 * @param {number} width
 */
export function wrap(text, width) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length > 3 ? [...lines.slice(0, 2), `${lines.slice(2).join(' ').slice(0, width - 1)}…`] : lines;
}
