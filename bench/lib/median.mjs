/**
 * The median of the finite numbers in `xs` (mean of the two middle ones for an even count), or NaN.
 * @param {number[]} xs
 */
export function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
