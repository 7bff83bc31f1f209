import { CacheKeyTemplate, invalidatedPrimaryKeys } from '../../src/http';
import { req } from './fixtures';

describe('invalidation by unsafe methods (RFC 9111 §4.4)', () => {
  const t = new CacheKeyTemplate();
  const ok = (headers: string[] = [], status = 200) => ({ status, headers });

  it('invalidates the target URI after a non-error response to an unsafe method', () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) expect(invalidatedPrimaryKeys(req([], m), ok(), t)).toEqual(['https://example.com/a?b=1']);
    expect(invalidatedPrimaryKeys(req([], 'POST'), ok([], 303), t)).toHaveLength(1);
  });

  it('does nothing for safe methods or error responses', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) expect(invalidatedPrimaryKeys(req([], m), ok(), t)).toEqual([]);
    expect(invalidatedPrimaryKeys(req([], 'POST'), ok([], 404), t)).toEqual([]);
    expect(invalidatedPrimaryKeys(req([], 'POST'), ok([], 500), t)).toEqual([]);
  });

  it('also invalidates Location and Content-Location of the same origin only', () => {
    const keys = invalidatedPrimaryKeys(req([], 'POST', '/items'), ok(['Location', '/items/7', 'Content-Location', 'https://EXAMPLE.com:443/items?page=1'], 201), t);
    expect(keys).toEqual(['https://example.com/items', 'https://example.com/items/7', 'https://example.com/items?page=1']);
    const other = invalidatedPrimaryKeys(req([], 'POST', '/items'), ok(['Location', 'https://evil.example/x', 'Content-Location', 'http://example.com/items/7']), t);
    expect(other).toEqual(['https://example.com/items']);
    expect(invalidatedPrimaryKeys(req([], 'PUT', '/x'), ok(['Location', 'http://[bad']), t)).toEqual(['https://example.com/x']);
  });
});
