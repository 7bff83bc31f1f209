// fastify + @fastify/http-proxy (reply-from over an undici pool).
import { fileURLToPath } from 'node:url';

/** @type {import('./peer.mjs').Peer} */
export const fastifyHttpProxy = {
  name: 'fastify',
  label: '@fastify/http-proxy',
  cpus: '1',
  config: 'fastify 5 + @fastify/http-proxy 11 (reply-from over undici: 128 connections, pipelining 1), logger off',
  async start({ group, port, upstream }) {
    const script = fileURLToPath(new URL('./servers/fastify-proxy-server.mjs', import.meta.url));
    const args = [script, String(port), `127.0.0.1:${upstream.port}`];
    return { proc: group.start({ name: 'fastify', cmd: process.execPath, args, cpus: this.cpus }) };
  },
};
