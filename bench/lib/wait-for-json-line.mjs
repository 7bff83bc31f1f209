// Waits for a child to print a JSON line with a given "event".
import { tail } from './wait-for-http.mjs';

/**
 * @param {import('./process-group.mjs').Started} proc
 * @param {string} event
 * @param {number} timeoutMs
 * @param {number} [after]  ignore output before this offset
 * @returns {Promise<Record<string, any>>}
 */
export async function waitForJsonLine(proc, event, timeoutMs, after = 0) {
  const deadline = Date.now() + timeoutMs;
  const needle = `{"event":"${event}"`;
  for (;;) {
    const out = proc.output().slice(after);
    const at = out.lastIndexOf(needle);
    if (at >= 0 && out.indexOf('\n', at) > 0) return JSON.parse(out.slice(at, out.indexOf('\n', at)));
    if (!proc.alive()) throw new Error(`${proc.name} exited before "${event}": ${tail(proc.output())}`);
    if (Date.now() > deadline) throw new Error(`${proc.name}: no "${event}" after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
