import { ProxyError } from '@pingora-ts/core';
import { outcomeOf, statusOutcome } from '../src/request-outcome';

test('a response head gives ok or http_5xx by its status', () => {
  expect([200, 302, 404, 499, 500, 503, 599, 600, -1].map(statusOutcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'http_5xx', 'http_5xx', 'http_5xx', 'ok', 'ok']);
});

test.each([
  ['ConnectRefused', 'connect_error'],
  ['ConnectError', 'connect_error'],
  ['ConnectTimedout', 'timeout'],
  ['ReadTimedout', 'timeout'],
  ['ConnectionClosed', 'reset'],
  ['WriteError', 'reset'],
  ['ReadError', 'reset'],
  ['InvalidHTTPResponse', 'reset'],
] as const)('an upstream %s is %s', (kind, outcome) => {
  expect(outcomeOf(ProxyError.upstream(kind, 'x'), -1)).toBe(outcome);
  // After a 200 head, a broken body is still the backend's failure.
  expect(outcomeOf(ProxyError.upstream(kind, 'x'), 200)).toBe(outcome);
});

test('the client leaving or a hook throwing is not held against the backend', () => {
  expect(outcomeOf(ProxyError.downstream('ClientGone', 'gone'), -1)).toBe('ok');
  expect(outcomeOf(ProxyError.downstream('ClientGone', 'gone'), 503)).toBe('http_5xx');
  expect(outcomeOf(ProxyError.internal('InternalError', 'hook threw'), 200)).toBe('ok');
  // Our own max_connections cap: a burst over it must not eject a healthy backend.
  expect(outcomeOf(ProxyError.upstream('ConnectionLimitReached', 'cap'), -1)).toBe('ok');
});

test('a pooled connection the backend had closed before answering is the keep-alive race, not a failure', () => {
  expect(outcomeOf(ProxyError.upstream('ConnectionClosed', 'x'), -1, true)).toBe('ok');
  expect(outcomeOf(ProxyError.upstream('WriteError', 'x'), -1, true)).toBe('ok');
  expect(outcomeOf(ProxyError.upstream('ConnectionClosed', 'x'), 200, true)).toBe('reset');
  expect(outcomeOf(ProxyError.upstream('ReadTimedout', 'x'), -1, true)).toBe('timeout');
});
