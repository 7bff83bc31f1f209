// node peer: `node fastify-proxy-server.mjs PORT UPSTREAM_HOST:PORT`
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const [port, upstream] = process.argv.slice(2);
const app = Fastify({ logger: false, keepAliveTimeout: 75_000, bodyLimit: 64 * 1024 * 1024 });
await app.register(proxy, { upstream: `http://${upstream}`, undici: { connections: 128, pipelining: 1 } });
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.on('SIGTERM', () => process.exit(0));
