/**
 * A small node:http2 client for the HTTP/2 tests: one request on a session, its status, head,
 * body and trailers collected.
 */
import * as http2 from 'node:http2';
import type { Resources } from './resources';

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers: http2.IncomingHttpHeaders | null;
  /** The stream was reset (its code), or 0. */
  rstCode: number;
}

/** An h2c (prior knowledge) or h2 (TLS, `ca`) session, destroyed in `closeAll()`. */
export function h2connect(res: Resources, url: string, options: http2.SecureClientSessionOptions = {}): http2.ClientHttp2Session {
  const session = http2.connect(url, options);
  session.on('error', () => {});
  res.defer(() => session.destroy());
  return session;
}

/** One request: `body` sent (then `trailers`, if given), everything collected until the stream closes. */
export function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
  trailers?: http2.OutgoingHttpHeaders,
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const endStream = body === undefined && trailers === undefined;
    const req = session.request(headers, { endStream, waitForTrailers: trailers !== undefined });
    const out: H2Response = { status: 0, headers: {}, body: '', trailers: null, rstCode: 0 };
    req.on('response', (h) => {
      out.headers = h;
      out.status = Number(h[':status']);
    });
    req.on('trailers', (t) => (out.trailers = t));
    req.setEncoding('utf8');
    req.on('data', (d: string) => (out.body += d));
    req.on('wantTrailers', () => req.sendTrailers(trailers ?? {}));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_HTTP2_STREAM_ERROR') reject(err);
    });
    req.on('close', () => {
      out.rstCode = req.rstCode ?? 0;
      resolve(out);
    });
    if (!endStream) req.end(body);
  });
}
