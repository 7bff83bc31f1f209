/**
 * The docs stay true: docs/errors.md lists exactly the error kinds there are (with their
 * retry and status), docs/node-internals.md exactly the Node internals `nodeInternals()` knows,
 * and the README embeds examples/echo-server.mjs verbatim.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectReadmeEmbedsExamples } from '../../../test-support/examples';
import { ERROR_KINDS, type ErrorKind } from '@pingora-ts/core';
import { nodeInternals } from '@pingora-ts/core/internal';
import { CORE_DIR } from './helpers';

function errorTable(): Map<string, { source: string; retry: string; status: string; what: string }> {
  const rows = new Map<string, { source: string; retry: string; status: string; what: string }>();
  const lines = readFileSync(join(CORE_DIR, 'docs', 'errors.md'), 'utf8').split('\n');
  const header = lines.findIndex((l) => /^\|\s*kind\s*\|\s*source\s*\|\s*retry\s*\|\s*status\s*\|\s*what to do\s*\|$/.test(l));
  expect(header).toBeGreaterThanOrEqual(0);
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [kind, source, retry, status, what] = line.split('|').slice(1, -1).map((c) => c.trim());
    rows.set((kind ?? '').replace(/`/g, ''), { source: source ?? '', retry: retry ?? '', status: status ?? '', what: what ?? '' });
  }
  return rows;
}

test('docs/errors.md has one row per error kind, and no other', () => {
  expect([...errorTable().keys()].sort()).toEqual(Object.keys(ERROR_KINDS).sort());
});

test('docs/errors.md agrees with ERROR_KINDS on retry and status, and says what to do', () => {
  for (const [kind, row] of errorTable()) {
    const spec = ERROR_KINDS[kind as ErrorKind];
    expect({ kind, retry: row.retry, status: Number.parseInt(row.status, 10) }).toEqual({
      kind,
      retry: spec.retry === 'reused-only' ? 'reused-only' : spec.retry ? 'yes' : 'no',
      status: spec.status,
    });
    expect(['upstream', 'downstream', 'internal']).toContain(row.source);
    expect(row.what.length).toBeGreaterThan(20);
  }
});

test('the README embeds examples/echo-server.mjs verbatim', () => expectReadmeEmbedsExamples(CORE_DIR));

/** The rows of docs/node-internals.md's table: name, module, fallback cell and Node versions. */
function internalsTable(): Array<{ name: string; module: string; fallback: string; versions: string }> {
  const lines = readFileSync(join(CORE_DIR, 'docs', 'node-internals.md'), 'utf8').split('\n');
  const header = lines.findIndex((l) => l.startsWith('| internal | where (module) |'));
  expect(lines[header]).toBe('| internal | where (module) | what it is used for | load-time check | fallback / error | Node versions tested |');
  const rows: Array<{ name: string; module: string; fallback: string; versions: string }> = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [internal, where, , , fallback, versions] = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '').trim());
    rows.push({ name: /^`([^`]+)`/.exec(internal ?? '')?.[1] ?? '', module: /^`([^`]+)`/.exec(where ?? '')?.[1] ?? '', fallback: fallback ?? '', versions: versions ?? '' });
  }
  return rows;
}

test('docs/node-internals.md lists what nodeInternals() lists: names, modules, fallback or startup error, Node 20/22/24', () => {
  const rows = internalsTable();
  const table = nodeInternals();
  expect(rows.map((r) => [r.name, r.module])).toEqual(table.map((i) => [i.name, i.module]));
  table.forEach((i, n) => {
    const cell = rows[n]?.fallback ?? '';
    if (i.fallback === null) expect(cell).toMatch(/^startup error \(no fallback\)/);
    else expect(cell.startsWith(`fallback: ${i.fallback}`)).toBe(true);
    expect(existsSync(join(CORE_DIR, 'src', i.module))).toBe(true);
  });
  // The versions the table claims are the ones CI runs: engines' major, plus node-matrix.sh's defaults.
  const engines = JSON.parse(readFileSync(join(CORE_DIR, 'package.json'), 'utf8')).engines.node as string;
  const matrix = /majors=\(([\d ]+)\)/.exec(readFileSync(join(CORE_DIR, '..', '..', 'scripts', 'node-matrix.sh'), 'utf8'))?.[1] ?? '';
  const tested = [/\d+/.exec(engines)?.[0], ...matrix.split(' ')].join(', ');
  expect(rows.map((r) => r.versions)).toEqual(table.map(() => tested));
});
