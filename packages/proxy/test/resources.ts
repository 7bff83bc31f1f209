/**
 * The proxy tests' resources: the shared `Resources` (servers and sockets closed in
 * `closeAll()`), plus a proxy, clients and a recording logger made through them.
 */
import * as net from 'node:net';
import type { Logger } from '@pingora-ts/core';
import { HttpProxy, type DownstreamKind, type HttpProxyOptions, type ProxyHttp } from '@pingora-ts/proxy';
import { Client } from 'undici';
import type { Resources } from '../../../test-support/resources';

export { Resources, sleep, until } from '../../../test-support/resources';

/** Both downstream paths: every integration test runs against each (`describe.each(DOWNSTREAMS)`). */
export const DOWNSTREAMS: readonly DownstreamKind[] = ['llhttp', 'node:http'];

let downstream: DownstreamKind = 'llhttp';

/** Makes `startProxy` use `kind` unless its options say otherwise (call it in a `beforeEach`). */
export function useDownstream(kind: DownstreamKind): void {
  downstream = kind;
}

/** Starts an HttpProxy on 127.0.0.1:0 (on the `useDownstream` path); it is shut down (not gracefully) in `closeAll()`. */
export async function startProxy<Ctx>(
  res: Resources,
  app: ProxyHttp<Ctx>,
  opts: Partial<HttpProxyOptions> = {},
): Promise<{ proxy: HttpProxy<Ctx>; port: number; url: string }> {
  const proxy = new HttpProxy('test-proxy', app, { listeners: [{ addr: '127.0.0.1:0' }], downstream, ...opts });
  await proxy.listen();
  expect(proxy.downstream).toBe(opts.downstream ?? downstream);
  res.defer(() => proxy.shutdown({ graceful: false, timeoutMs: 0 }));
  const a = proxy.addresses()[0];
  if (a === undefined || a.kind !== 'tcp') throw new Error('no tcp address');
  return { proxy, port: a.port, url: `http://127.0.0.1:${a.port}` };
}

/** An undici client closed in `closeAll()`. */
export function client(res: Resources, url: string, opts: ConstructorParameters<typeof Client>[1] = {}): Client {
  const c = new Client(url, opts);
  res.defer(() => c.destroy());
  return c;
}

/** A logger that records every line. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; obj: Record<string, unknown>; msg: string | undefined }> = [];
  error(obj: object, msg?: string): void {
    this.lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg });
  }
  warn(obj: object, msg?: string): void {
    this.lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg });
  }
  info(obj: object, msg?: string): void {
    this.lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg });
  }
  debug(obj: object, msg?: string): void {
    this.lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg });
  }
}

/** Sends raw bytes on a fresh TCP connection and collects everything until the server closes. */
export function rawExchange(res: Resources, port: number, data: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = res.socket(net.connect(port, '127.0.0.1'));
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got: ${JSON.stringify(out)}`));
    }, timeoutMs);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(data);
  });
}
