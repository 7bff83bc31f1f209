/**
 * A Sentry ingest on 127.0.0.1:0 for tests: takes envelopes (`POST /api/<project>/envelope/`,
 * gzip or not) and keeps their events. `mode` makes it misbehave: `slow` never answers,
 * `garbage` answers a 500 with junk. Close it with `close()` (connections included).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One event as the ingest received it (the JSON payload of an `event` item). */
export type IngestEvent = Record<string, unknown> & {
  event_id?: string;
  message?: string;
  level?: string;
  tags?: Record<string, string>;
  contexts?: Record<string, Record<string, unknown>>;
  request?: { method?: string; url?: string; headers?: Record<string, string>; query_string?: unknown; cookies?: unknown; data?: unknown };
  exception?: { values?: Array<{ type?: string; value?: string }> };
};

export interface FakeIngest {
  /** A DSN pointing here: `http://public@127.0.0.1:<port>/1`. */
  dsn: string;
  events: IngestEvent[];
  /** Raw envelope bodies received (also the ones `slow` never answers). */
  envelopes: string[];
  mode: 'ok' | 'slow' | 'garbage';
  /** Resolves once `n` events have arrived (rejects after `timeoutMs`). */
  waitForEvents(n: number, timeoutMs?: number): Promise<IngestEvent[]>;
  close(): Promise<void>;
}

export async function fakeSentryIngest(): Promise<FakeIngest> {
  const sockets = new Set<Socket>();
  const waiters: Array<() => boolean> = [];
  const ingest: FakeIngest = {
    dsn: '',
    events: [],
    envelopes: [],
    mode: 'ok',
    waitForEvents(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (ingest.events.length < n) return false;
          clearTimeout(timer);
          resolve(ingest.events);
          return true;
        };
        const timer = setTimeout(() => reject(new Error(`the ingest got ${ingest.events.length} of ${n} events`)), timeoutMs);
        if (!check()) waiters.push(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      let body = Buffer.concat(parts);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const text = body.toString('utf8');
      ingest.envelopes.push(text);
      if (ingest.mode === 'slow') return; // never answers
      if (ingest.mode === 'garbage') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('\u0000\u00ffnot an answer');
        return;
      }
      const lines = text.split('\n');
      for (let i = 1; i < lines.length - 1; i++) {
        const header = parseJson(lines[i] as string);
        if (header?.type === 'event') ingest.events.push(parseJson(lines[i + 1] as string) as IngestEvent);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const check of waiters.splice(0)) if (!check()) waiters.push(check);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ingest.dsn = `http://public@127.0.0.1:${(server.address() as AddressInfo).port}/1`;
  return ingest;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
