/** Listener addresses: parsing `"host:port"` / `"[v6]:port"` / a Unix socket path, and the bound form. */
import type { AddressInfo } from 'node:net';
import type { BoundAddress } from '@pingora-ts/core';

/** `"host:port"`, `"[v6]:port"` or a Unix socket path (starting with `/`). */
export function parseListenAddr(addr: string): { host: string; port: number } | { path: string } {
  if (addr.startsWith('/')) return { path: addr };
  let host: string;
  let port: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    host = addr.slice(1, close);
    port = addr.slice(close + 2);
  } else {
    const colon = addr.lastIndexOf(':');
    host = addr.slice(0, colon);
    port = addr.slice(colon + 1);
  }
  const n = Number(port);
  if (host === '' || port === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new TypeError(`invalid listener address "${addr}": expected "host:port", "[ipv6]:port" or a Unix socket path`);
  }
  return { host, port: n };
}

/** What a server's `address()` says, as a `BoundAddress`. */
export function boundAddress(a: AddressInfo | string | null): BoundAddress | null {
  if (a === null) return null;
  if (typeof a === 'string') return { kind: 'unix', path: a };
  return { kind: 'tcp', host: a.address, port: a.port };
}

/** Binds `server` to `addr`; rejects with the listen error. */
export function listenOn(server: import('node:net').Server, addr: string): Promise<void> {
  const target = parseListenAddr(addr);
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

/** The client's IP from a socket's remote address (IPv4-mapped IPv6 shown as plain IPv4). */
export function clientIpOf(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
}
