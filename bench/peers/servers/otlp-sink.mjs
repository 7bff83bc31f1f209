// An OTLP/HTTP collector that accepts and discards every export: the endpoint of the tracing
// peers. One per bench run, in the bench process (unref'd: it never keeps the run alive).
import { createServer } from 'node:http';

/** @type {Promise<string> | null} */
let endpoint = null;

/** The sink's base URL (`http://127.0.0.1:PORT`), started on first use. */
export function otlpSink() {
  endpoint ??= new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      const a = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve(`http://127.0.0.1:${a.port}`);
    });
  });
  return endpoint;
}
