// node bench/selection.mjs [--quick]: selections per second of each load-balancing algorithm
// (CPU only, no peers, a few seconds), written to results/selection.md and results/selection.json.
import { writeFileSync } from 'node:fs';
import { arch, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { measureSelections, selectionTable } from './lib/measure-selections.mjs';
import { NOTES } from './scenarios/selection.mjs';

const quick = process.argv.includes('--quick');
const loadBefore = loadavg()[0];
const rows = await measureSelections({ roundMs: quick ? 100 : 500, log: (m) => console.log(m) });
const table = selectionTable(rows);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} (${arch()}), Node ${process.version}, load average ${loadBefore.toFixed(1)} at the start`;
const md = [
  '# Load-balancing selections per second',
  '',
  `\`node bench/selection.mjs\`, ${new Date().toISOString().slice(0, 10)}, ${machine}. Selections per second (higher is better) and the time of the first`,
  'selection after a change, which builds the selector.',
  '',
  `| ${table.columns.join(' | ')} |`,
  `|${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ...table.rows.map((r) => `| ${r.join(' | ')} |`),
  '',
  ...NOTES.map((n) => `- ${n}`),
  '',
].join('\n');
const out = fileURLToPath(new URL('./results/', import.meta.url));
writeFileSync(`${out}selection.md`, md);
writeFileSync(`${out}selection.json`, `${JSON.stringify({ machine, rows }, null, 2)}\n`);
console.log(md);
