// pingora-ts as a library: `node pingora-ts-proxy-server.mjs PORT UPSTREAM_HOST:PORT PARSER`,
// an HttpProxy with one peer and no other hook, on the downstream parser PARSER
// (`llhttp` or `node:http`). Used to compare the two HTTP/1.1 implementations alone.
import { HttpPeer, HttpProxy } from '@pingora-ts/proxy';

const [port, upstream, arg] = process.argv.slice(2);
const parser = /** @type {'llhttp' | 'node:http'} */ (arg);
const peer = new HttpPeer(upstream);
const proxy = new HttpProxy('bench', { newCtx: () => null, upstreamPeer: () => peer }, { listeners: [{ addr: `127.0.0.1:${port}` }], downstream: parser });
await proxy.listen();
process.on('SIGTERM', () => void proxy.shutdown({ graceful: false, timeoutMs: 0 }).then(() => process.exit(0)));
