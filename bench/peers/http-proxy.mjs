// node-http-proxy on node:http, with a keep-alive agent to the upstream.
import { fileURLToPath } from 'node:url';

/** @type {import('./peer.mjs').Peer} */
export const httpProxy = {
  name: 'http-proxy',
  label: 'http-proxy',
  cpus: '1',
  config: 'http-proxy 1.18 on node:http, `new http.Agent({ keepAlive: true, maxFreeSockets: 64 })`',
  async start({ group, port, upstream }) {
    const script = fileURLToPath(new URL('./servers/http-proxy-server.mjs', import.meta.url));
    const args = [script, String(port), `127.0.0.1:${upstream.port}`];
    return { proc: group.start({ name: 'http-proxy', cmd: process.execPath, args, cpus: this.cpus }) };
  },
};
