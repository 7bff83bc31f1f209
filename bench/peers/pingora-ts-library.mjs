// @pingora-ts/proxy without the load balancer around it, on one downstream parser or the
// other: the peers `proxy-llhttp` and `proxy-node-http` differ only in `downstream`, so their
// ratio is what the llhttp path is worth (`--peers proxy-llhttp,proxy-node-http`).
import { fileURLToPath } from 'node:url';

/**
 * @param {'llhttp' | 'node:http'} parser
 * @returns {import('./peer.mjs').Peer}
 */
export function pingoraTsLibrary(parser) {
  const name = parser === 'llhttp' ? 'proxy-llhttp' : 'proxy-node-http';
  return {
    name,
    label: `@pingora-ts/proxy (${parser})`,
    cpus: '1',
    config: `HttpProxy with one HttpPeer and no other hook, downstream: '${parser}', default pool`,
    async start({ group, port, upstream }) {
      const script = fileURLToPath(new URL('./servers/pingora-ts-proxy-server.mjs', import.meta.url));
      const args = [script, String(port), `127.0.0.1:${upstream.port}`, parser];
      return { proc: group.start({ name, cmd: process.execPath, args, cpus: this.cpus }) };
    },
  };
}
