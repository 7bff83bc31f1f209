// Number formatting shared by the Markdown and SVG writers. NaN prints as "-".

/** @param {number} n */
export const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
/** @param {number} n */
export const ratio = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-');
/** A latency or size with about three significant digits. @param {number} n */
export const num = (n) => (!Number.isFinite(n) ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
/** @param {number} s */
export const duration = (s) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);

/** A table cell: numbers through `num`, strings escaped for Markdown tables. @param {string | number} v */
export const cell = (v) =>
  typeof v === 'number' ? (Number.isInteger(v) || Math.abs(v) >= 100 ? int(v) : num(v)) : v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
