// No proxy: the load generator talks to the upstream itself. The ceiling of this machine.

/** @type {import('./peer.mjs').Peer} */
export const direct = {
  name: 'direct',
  label: 'direct (no proxy)',
  cpus: '0',
  isProxy: false,
  config: 'the load generator straight to the upstream nginx (CPU 0); no proxy process, so no CPU or RSS column',
  async start({ upstream }) {
    return { port: upstream.port };
  },
};
