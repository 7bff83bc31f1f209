/**
 * Which downstream HTTP/1.1 path a proxy runs: the fast one (`net` + llhttp) unless the option
 * asks for node:http, or llhttp's internal binding failed its load-time check.
 */
import type { Logger } from '@pingora-ts/core';
import { readIntoUnavailable, type Llhttp } from '@pingora-ts/core/internal';

/** The HttpProxy option: `'fast'` (default) or `'node'`. */
export type DownstreamKind = 'fast' | 'node';

export interface DownstreamChoice {
  kind: DownstreamKind;
  /** Set for `'fast'`. */
  parser: Llhttp | null;
  /** The line `HttpProxy.listen()` logs. */
  log(logger: Logger, service: string): void;
}

/** `requested` when possible; `'node'` when `'fast'` was asked but `parser` is null (`why` says why). */
export function chooseDownstream(requested: DownstreamKind, parser: Llhttp | null, why: string | null): DownstreamChoice {
  if (requested === 'fast' && parser !== null) {
    return {
      kind: 'fast',
      parser,
      log: (logger, service) =>
        logger.info(
          { service, downstream: 'fast', parser: parser.version, reads: readIntoUnavailable === null ? 'shared buffer' : `a buffer per read (${readIntoUnavailable})` },
          'downstream HTTP/1.1: net sockets + llhttp',
        ),
    };
  }
  if (requested === 'node') {
    return {
      kind: 'node',
      parser: null,
      log: (logger, service) => logger.info({ service, downstream: 'node' }, 'downstream HTTP/1.1: node:http (asked for)'),
    };
  }
  return {
    kind: 'node',
    parser: null,
    log: (logger, service) =>
      logger.warn({ service, downstream: 'node', reason: why }, 'downstream HTTP/1.1: node:http (llhttp internal unavailable)'),
  };
}
