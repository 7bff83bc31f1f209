import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackgroundService, JsonValue, Logger } from '@pingora-ts/core';
import type { ControlResult } from './backend-control';
import type { AdminConf } from './lb-conf';

/** What the admin endpoint serves. */
export interface AdminSource {
  /** `GET /metrics`: the Prometheus text of a scrape. */
  metricsText(): Promise<string>;
  /** `GET /readyz`. */
  readiness(): { ready: boolean; reasons: string[] };
  /** `GET /status`: JSON. */
  status(): Promise<JsonValue>;
  /** `POST /backends/{service}/{addr}/enable|disable`. */
  setEnabled(service: string, addr: string, enabled: boolean): ControlResult;
}

/** While another process (the old generation of an upgrade) holds the address, bind again this often. */
const REBIND_MS = 1000;

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The admin endpoint (`admin: { addr, token }`): `GET /metrics`, `/healthz`, `/readyz`, `/status`, and
 * `POST /backends/{service}/{addr}/disable|enable` (only with a token). A background service,
 * so it runs once, in the primary (or the one process). With a token, every request needs
 * `Authorization: Bearer <token>` (401 otherwise, nothing done). During an upgrade the old
 * process keeps the address until it stops; the new one binds it then.
 */
export class AdminService implements BackgroundService {
  readonly kind = 'background';
  readonly name = 'admin';
  readonly #conf: AdminConf;
  readonly #source: AdminSource;
  readonly #logger: Logger;
  readonly #token: Buffer | null;

  constructor(conf: AdminConf, source: AdminSource, logger: Logger) {
    this.#conf = conf;
    this.#source = source;
    this.#logger = logger;
    this.#token = conf.token === undefined ? null : digest(conf.token);
  }

  async run(signal: AbortSignal): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.keepAliveTimeout = 5000;
    const { host, port } = hostPort(this.#conf.addr);
    let warned = false;
    while (!signal.aborted) {
      const err = await listen(server, host, port);
      if (err === null) break;
      if (err.code !== 'EADDRINUSE') {
        this.#logger.error({ err, addr: this.#conf.addr }, 'admin endpoint cannot listen; it stays off');
        return;
      }
      if (!warned) this.#logger.warn({ addr: this.#conf.addr }, 'admin address in use (an upgrade in progress?); binding again every second');
      warned = true;
      await wait(REBIND_MS, signal);
    }
    if (signal.aborted) {
      server.close();
      return;
    }
    const a = server.address() as AddressInfo;
    this.#logger.info({ addr: this.#conf.addr, port: a.port, auth: this.#token !== null }, 'admin listening');
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (this.#token !== null && !this.#authorized(req.headers.authorization)) {
      reply(res, 401, 'unauthorized\n', { 'www-authenticate': 'Bearer realm="pingora-ts admin"' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/backends/')) {
      this.#control(req, res, path);
      return;
    }
    const route = path === '/metrics' || path === '/healthz' || path === '/readyz' || path === '/status';
    if (!route) {
      reply(res, 404, 'not found: try /metrics, /healthz, /readyz, /status or POST /backends/{service}/{addr}/disable|enable\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz') {
      reply(res, 200, 'ok\n');
    } else if (path === '/readyz') {
      const r = this.#source.readiness();
      reply(res, r.ready ? 200 : 503, r.ready ? 'ready\n' : `not ready:\n${r.reasons.join('\n')}\n`);
    } else if (path === '/status') {
      this.#source.status().then(
        (status) => reply(res, 200, `${JSON.stringify(status, null, 2)}\n`, { 'content-type': 'application/json' }),
        (err: unknown) => {
          this.#logger.error({ err }, 'admin: status failed');
          reply(res, 500, 'status failed\n');
        },
      );
    } else {
      this.#source.metricsText().then(
        (text) => reply(res, 200, text, { 'content-type': PROMETHEUS_TEXT }),
        (err: unknown) => {
          this.#logger.error({ err }, 'admin: metrics scrape failed');
          reply(res, 500, 'metrics scrape failed\n');
        },
      );
    }
  }

  /** `POST /backends/{service}/{addr}/disable|enable`: drains a backend by hand in every worker. */
  #control(req: IncomingMessage, res: ServerResponse, path: string): void {
    const parts = path.split('/');
    const action = parts[4];
    if (parts.length !== 5 || (action !== 'disable' && action !== 'enable')) {
      reply(res, 404, 'not found: POST /backends/{service}/{addr}/disable or /enable\n');
      return;
    }
    if (req.method !== 'POST') {
      reply(res, 405, 'method not allowed\n', { allow: 'POST' });
      return;
    }
    if (this.#token === null) {
      reply(res, 403, 'backend control needs admin.token in the config\n');
      return;
    }
    let service: string;
    let addr: string;
    try {
      service = decodeURIComponent(parts[2] as string);
      addr = decodeURIComponent(parts[3] as string);
    } catch {
      reply(res, 400, 'bad percent-encoding in the path\n');
      return;
    }
    const enabled = action === 'enable';
    const result = this.#source.setEnabled(service, addr, enabled);
    if (result === 'unknown-service') {
      reply(res, 404, `no service ${JSON.stringify(service)}\n`);
      return;
    }
    if (result === 'unknown-backend') {
      reply(res, 404, `service ${service} has no backend ${JSON.stringify(addr)}\n`);
      return;
    }
    this.#logger.info({ service, backend: addr, enabled, client: req.socket.remoteAddress }, `admin: backend ${addr} ${enabled ? 'enabled' : 'disabled'}`);
    reply(res, 200, `${action}d ${service} ${addr}${result === 'unchanged' ? ' (it already was)' : ''}\n`);
  }

  #authorized(header: string | undefined): boolean {
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice(7).trim()), this.#token as Buffer);
  }
}

/** Same-length digests, so the comparison takes the same time whatever the guess. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(addr.slice(i + 1)) };
}

function listen(server: Server, host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => resolve(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(null);
    });
  });
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
