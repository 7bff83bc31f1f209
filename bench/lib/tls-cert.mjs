// The one certificate every TLS peer serves: self-signed ECDSA P-256, made with openssl in its
// own subdirectory of the temp dir. Its own directory, because pingora-ts watches the
// directories of its certificate files: a busy log next to the certificate would keep its
// reload timer busy during the measurement.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @typedef {object} TlsCert
 * @property {string} certPath  PEM certificate (CN=localhost, SAN localhost and 127.0.0.1)
 * @property {string} keyPath   PEM private key
 * @property {string} describe  one line for the report
 */

export const CERT_DESCRIPTION = 'self-signed ECDSA P-256 (prime256v1) certificate, SHA-256 signature, CN=localhost, SAN localhost + 127.0.0.1; the same file for every peer';

/**
 * Makes the certificate in `<dir>/tls/`. Throws with openssl's message when it cannot.
 * @param {string} dir
 * @returns {TlsCert}
 */
export function makeCert(dir) {
  const root = join(dir, 'tls');
  mkdirSync(root, { recursive: true });
  const certPath = join(root, 'cert.pem');
  const keyPath = join(root, 'key.pem');
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-sha256', '-nodes',
    '-days', '7', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyPath, '-out', certPath,
  ];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl could not make the TLS certificate: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  return { certPath, keyPath, describe: CERT_DESCRIPTION };
}
