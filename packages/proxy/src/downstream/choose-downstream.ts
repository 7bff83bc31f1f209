/**
 * Which downstream HTTP/1.1 implementation a proxy runs: `'llhttp'` (`net` sockets parsed by
 * node's own llhttp) unless the option asks for `'node:http'`, or llhttp's internal binding
 * failed its load-time check (then node:http, with a warning that says why).
 */
import type { Logger } from '@pingora-ts/core';
import { readIntoUnavailable, type Llhttp } from '@pingora-ts/core/internal';

/** The HttpProxy option `downstream`: which parser serves HTTP/1.1, `'llhttp'` (default) or `'node:http'`. */
export type DownstreamKind = 'llhttp' | 'node:http';

export interface DownstreamChoice {
  kind: DownstreamKind;
  /** Set for `'llhttp'`. */
  parser: Llhttp | null;
  /** The line `HttpProxy.listen()` logs. */
  log(logger: Logger, service: string): void;
}

/** `requested` when possible; `'node:http'` when `'llhttp'` was asked but `parser` is null (`why` says why). */
export function chooseDownstream(requested: DownstreamKind, parser: Llhttp | null, why: string | null): DownstreamChoice {
  if (requested === 'llhttp' && parser !== null) {
    return {
      kind: 'llhttp',
      parser,
      log: (logger, service) =>
        logger.info(
          { service, downstream: 'llhttp', parser: parser.version, reads: readIntoUnavailable === null ? 'shared buffer' : `a buffer per read (${readIntoUnavailable})` },
          'downstream HTTP/1.1: net sockets + llhttp',
        ),
    };
  }
  if (requested === 'node:http') {
    return {
      kind: 'node:http',
      parser: null,
      log: (logger, service) => logger.info({ service, downstream: 'node:http' }, 'downstream HTTP/1.1: node:http (asked for)'),
    };
  }
  return {
    kind: 'node:http',
    parser: null,
    log: (logger, service) =>
      logger.warn({ service, downstream: 'node:http', reason: why }, 'downstream HTTP/1.1: node:http (llhttp internal unavailable)'),
  };
}
