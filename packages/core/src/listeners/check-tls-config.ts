/**
 * The checks `-t` (and a SIGHUP's conf check) run on listeners before anything starts, so a
 * typo in a certificate path is one clear line instead of a failed start:
 *
 * ```
 * conf.yaml: services[0].listeners[1].tls.cert_path: cannot read /etc/ssl/a.pem (ENOENT: no such file or directory)
 * conf.yaml: services[0].listeners[1].tls.key_path: /etc/ssl/a.key does not match the certificate /etc/ssl/a.pem
 * ```
 */
import { ConfError } from '../conf-error';
import { listenerConfigSchema, parseListenAddr, tlsConfigSchema, type ListenerConfigInput, type TlsConfigInput } from './listener-config';
import { readCaCertificates, readTlsMaterial } from './tls-material';

/** Where a checked section sits: the conf file and the key path of the section. */
export interface ConfLocation {
  /** The conf file, as shown in messages (default `<conf>`). */
  file?: string;
  /** Key path of the section, e.g. `['services', 0, 'listeners', 1, 'tls']`. */
  path?: ReadonlyArray<string | number>;
}

/**
 * Reads every certificate and key of a `tls` section and checks that each key matches its
 * certificate. Throws `ConfError` (one line, with the key path) on the first problem.
 */
export function checkTlsConfig(cfg: TlsConfigInput, at: ConfLocation = {}): void {
  const file = at.file ?? '<conf>';
  const base = at.path ?? ['tls'];
  const parsed = tlsConfigSchema.safeParse(cfg);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const sub = (issue?.path ?? []).filter((k): k is string | number => typeof k !== 'symbol');
    throw ConfError.single(file, [...base, ...sub], issue?.message ?? 'invalid TLS settings');
  }
  const material = readTlsMaterial(parsed.data);
  if ('detail' in material) throw ConfError.single(file, [...base, ...material.path], material.detail);
}

/**
 * Reads a PEM file of CA certificates (for example an upstream TLS `ca_path`) and returns its
 * text; throws the same one-line `ConfError` as `checkTlsConfig` when it cannot be read or
 * holds no certificate. `at.path` is the key path of the file's own key.
 */
export function readCaFile(path: string, at: ConfLocation = {}): string {
  const pem = readCaCertificates(path, [...(at.path ?? ['ca_path'])]);
  if (typeof pem !== 'string') throw ConfError.single(at.file ?? '<conf>', pem.path, pem.detail);
  return pem;
}

/** Checks a listener's `addr`, and its `tls` section when there is one (see `checkTlsConfig`). */
export function checkListenerConfig(cfg: ListenerConfigInput, at: ConfLocation = {}): void {
  const file = at.file ?? '<conf>';
  const base = at.path ?? [];
  const parsed = listenerConfigSchema.safeParse(cfg);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const sub = (issue?.path ?? []).filter((k): k is string | number => typeof k !== 'symbol');
    throw ConfError.single(file, [...base, ...sub], issue?.message ?? 'invalid listener');
  }
  try {
    parseListenAddr(parsed.data.addr);
  } catch (err) {
    throw ConfError.single(file, [...base, 'addr'], (err as Error).message, undefined, err);
  }
  if (parsed.data.tls) checkTlsConfig(parsed.data.tls, { file, path: [...base, 'tls'] });
}
