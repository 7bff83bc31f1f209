// Proxy CPU time per request, from a load table: CPU % of one core / req/s. It still compares
// peers when the load generator, not the proxy, is the limit (the proxy then idles part of the
// time, and req/s shows the load generator's ceiling for everyone).
import { REFERENCE } from '../peers/index.mjs';
import { int } from './format.mjs';

/** A proxy below this CPU % of its core was not the limit. */
export const SATURATED_PCT = 90;

/**
 * @param {import('../scenarios/scenario.mjs').LoadRow[]} rows
 * @param {string} what  the unit of work, e.g. "handshake"
 * @returns {string[]}
 */
export function cpuPerRequestNotes(rows, what) {
  const us = (/** @type {import('../scenarios/scenario.mjs').LoadRow} */ r) => ((r.cpuPct / 100) * 1e6) / r.rps;
  const measured = rows.filter((r) => Number.isFinite(us(r)) && r.rps > 0);
  if (measured.length === 0) return [];
  const ref = rows.find((r) => r.peer === REFERENCE);
  const refUs = ref ? us(ref) : Number.NaN;
  const each = measured.map((r) => `${r.label} ${int(us(r))} µs${r.peer !== REFERENCE && Number.isFinite(refUs) ? ` (×${(us(r) / refUs).toFixed(2)})` : ''}`);
  const notes = [`proxy CPU per ${what} (CPU % / req/s; lower is better, and it compares peers even when wrk is the limit): ${each.join(', ')}`];
  if (ref && ref.cpuPct < SATURATED_PCT) {
    notes.unshift(
      `**wrk was the limit, not the proxies**: ${ref.label} used ${int(ref.cpuPct)}% of its core, so req/s is close to wrk's own ceiling (one core, shared with the upstream) for every peer; compare the CPU per ${what} below`,
    );
  }
  return notes;
}
