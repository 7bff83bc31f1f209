import { ProxyError } from '@pingora-ts/core';

test('retry reused-only depends on reuse', () => {
  const e = ProxyError.upstream('ConnectionClosed', 'closed');
  expect(e.canRetry(true)).toBe(true);
  expect(e.canRetry(false)).toBe(false);
  expect(e).toBeInstanceOf(ProxyError);
  expect(e.status).toBe(502);
});
