// Rewrites the part of bench/README.md between the results markers.
import { readFileSync, writeFileSync } from 'node:fs';

export const START = '<!-- bench-results:start -->';
export const END = '<!-- bench-results:end -->';

/**
 * `readme` with `body` between the markers (which must both be there, in order).
 * @param {string} readme
 * @param {string} body
 */
export function replaceBetweenMarkers(readme, body) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`the README has no ${START} ... ${END} block`);
  return `${readme.slice(0, a + START.length)}\n${body.trim()}\n${readme.slice(b)}`;
}

/**
 * @param {string} file  bench/README.md
 * @param {string} body
 */
export function updateReadmeResults(file, body) {
  writeFileSync(file, replaceBetweenMarkers(readFileSync(file, 'utf8'), body));
}
