/**
 * The docs stay true: docs/errors.md lists exactly the error kinds there are (with their
 * retry and status), and the README embeds examples/echo-server.mjs verbatim.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectReadmeEmbedsExamples } from '../../../test-support/examples';
import { ERROR_KINDS, type ErrorKind } from '@pingora-ts/core';
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
