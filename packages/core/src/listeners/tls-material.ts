/**
 * Reads and checks the certificate files of a TLS listener, once for `-t`
 * (`checkTlsConfig`), at start and on every reload (`TlsCertificates`), so the three agree
 * on what a usable certificate is: readable files, a PEM certificate, a PEM key, and a key
 * that belongs to the certificate. CA files for upstream TLS (`readCaFile`) go through the
 * same reading and certificate check.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../internal/error-message';
import type { TlsConfig } from './listener-config';

/** A certificate and its key, read and checked. */
export interface CertPair {
  cert: string;
  key: string;
}

export interface TlsMaterial {
  default: CertPair;
  /** Same order as `cfg.certs`. */
  sni: Array<CertPair & { serverNames: string[] }>;
}

/** What is wrong, and where in the `tls` section (`['certs', 0, 'key_path']`). */
export interface TlsProblem {
  path: Array<string | number>;
  detail: string;
}

export function readTlsMaterial(cfg: TlsConfig): TlsMaterial | TlsProblem {
  const first = readPair(cfg.cert_path, cfg.key_path, []);
  if ('detail' in first) return first;
  const sni: TlsMaterial['sni'] = [];
  for (const [i, entry] of cfg.certs.entries()) {
    const pair = readPair(entry.cert_path, entry.key_path, ['certs', i]);
    if ('detail' in pair) return pair;
    sni.push({ ...pair, serverNames: entry.server_names.map((n) => n.toLowerCase()) });
  }
  return { default: first, sni };
}

function readPair(certPath: string, keyPath: string, at: Array<string | number>): CertPair | TlsProblem {
  const cert = readPem(certPath, [...at, 'cert_path']);
  if (typeof cert !== 'string') return cert;
  const key = readPem(keyPath, [...at, 'key_path']);
  if (typeof key !== 'string') return key;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return { path: [...at, 'cert_path'], detail: `${certPath} is not a PEM certificate (${errorMessage(err)})` };
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return { path: [...at, 'key_path'], detail: `${keyPath} is not a PEM private key (${errorMessage(err)})` };
  }
  if (!x509.checkPrivateKey(privateKey)) {
    return { path: [...at, 'key_path'], detail: `${keyPath} does not match the certificate ${certPath}` };
  }
  return { cert, key };
}

/** The PEM text of a CA file (`at`: its key path), checked to hold a certificate. */
export function readCaCertificates(path: string, at: Array<string | number>): string | TlsProblem {
  const pem = readPem(path, at);
  if (typeof pem !== 'string') return pem;
  try {
    new X509Certificate(pem);
  } catch (err) {
    return { path: at, detail: `${path} is not a PEM certificate (${errorMessage(err)})` };
  }
  return pem;
}

function readPem(path: string, at: Array<string | number>): string | TlsProblem {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const message = errorMessage(err);
    return { path: at, detail: `cannot read ${path} (${message.split(', ')[0] ?? message})` };
  }
}
