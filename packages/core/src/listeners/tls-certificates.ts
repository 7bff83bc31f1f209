/**
 * The certificates of one TLS listener, kept fresh: SNI picks a certificate (exact name, then
 * a one-label wildcard, then the default), and the files are re-read when they change on
 * disk (`fs.watch` on their directories, debounced) or when `reload()` is called. A reload
 * that finds a broken certificate logs an error and keeps serving the old one; connections
 * in progress are never touched, new handshakes use the new certificates.
 *
 * Directories are watched rather than files because certificates are usually replaced by a
 * rename (certbot, Kubernetes secrets swap a symlink): a watch on the old file would go quiet.
 * Only events that name a certificate or key file (or a `..name` entry, the symlinks of a
 * Kubernetes secret volume) count, so a busy log file in the same directory does not keep
 * postponing the reload; a burst of events delays it by at most `CERT_RELOAD_MAX_WAIT_MS`.
 * A re-read swaps only when a file's content really changed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createSecureContext, type SecureContext, type Server as TlsServer, type TlsOptions } from 'node:tls';
import type { Logger } from '../logger';
import type { TlsConfig } from './listener-config';
import { readTlsMaterial, type CertPair, type TlsMaterial } from './tls-material';

/** Quiet time after the last file event before the certificates are re-read... */
export const CERT_RELOAD_DEBOUNCE_MS = 250;
/** ...but never longer than this after the first one. */
export const CERT_RELOAD_MAX_WAIT_MS = 1000;

/** What `reload()` did. */
export type TlsReloadResult = 'reloaded' | 'unchanged' | 'failed';

export interface TlsCertificatesOptions {
  logger: Logger;
  /** Names the listener in log lines. */
  label: string;
  /** 48 bytes shared by every worker (and handed to a new process on upgrade), so session tickets resume anywhere. */
  ticketKeys?: Buffer;
  /** Re-read the files when they change (default true). */
  watch?: boolean;
}

interface Contexts {
  material: TlsMaterial;
  exact: Map<string, SecureContext>;
  /** `*.example.org` is stored under `example.org`. */
  wildcard: Map<string, SecureContext>;
}

export class TlsCertificates {
  readonly cfg: TlsConfig;
  readonly #opts: TlsCertificatesOptions;
  #contexts: Contexts;
  readonly #servers = new Set<TlsServer>();
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** When the first event of the burst being debounced came (0: none pending). */
  #burstSince = 0;

  /** Reads the certificates now; throws an Error naming the bad file when one is unusable. */
  constructor(cfg: TlsConfig, opts: TlsCertificatesOptions) {
    this.cfg = cfg;
    this.#opts = opts;
    const material = readTlsMaterial(cfg);
    if ('detail' in material) throw new Error(`tls.${material.path.join('.')}: ${material.detail}`);
    this.#contexts = this.#build(material);
    if (opts.watch ?? true) this.#watch();
  }

  /** Options for `tls.createServer`: default certificate, SNI, ALPN, minimum version, ticket keys. */
  serverOptions(): TlsOptions {
    const { material } = this.#contexts;
    const options: TlsOptions = {
      cert: material.default.cert,
      key: material.default.key,
      minVersion: this.cfg.min_version,
      ALPNProtocols: this.cfg.alpn,
      SNICallback: (name, cb) => cb(null, this.contextFor(name)),
    };
    if (this.#opts.ticketKeys) options.ticketKeys = this.#opts.ticketKeys;
    return options;
  }

  /** The context SNI picks for `servername`; `undefined` means the server's default one. */
  contextFor(servername: string): SecureContext | undefined {
    const name = servername.toLowerCase();
    const { exact, wildcard } = this.#contexts;
    const hit = exact.get(name);
    if (hit) return hit;
    const dot = name.indexOf('.');
    return dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined;
  }

  /** Registers a server whose default certificate follows reloads. */
  attach(server: TlsServer): void {
    this.#servers.add(server);
  }

  detach(server: TlsServer): void {
    this.#servers.delete(server);
  }

  /** Re-reads every file; swaps the certificates when they changed and are all valid. */
  reload(): TlsReloadResult {
    const material = readTlsMaterial(this.cfg);
    const { logger, label } = this.#opts;
    if ('detail' in material) {
      logger.error({ listener: label, key: `tls.${material.path.join('.')}`, reason: material.detail }, 'new TLS certificate is unusable; still serving the old one');
      return 'failed';
    }
    if (sameMaterial(material, this.#contexts.material)) return 'unchanged';
    let next: Contexts;
    try {
      next = this.#build(material);
    } catch (err) {
      logger.error({ listener: label, err }, 'new TLS certificate is unusable; still serving the old one');
      return 'failed';
    }
    this.#contexts = next;
    const options = this.serverOptions();
    for (const server of this.#servers) server.setSecureContext(options);
    logger.info({ listener: label }, 'TLS certificates reloaded');
    return 'reloaded';
  }

  /** Stops watching the files. */
  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#watchers.splice(0)) w.close();
    this.#servers.clear();
  }

  #build(material: TlsMaterial): Contexts {
    const make = (pair: CertPair): SecureContext => createSecureContext({ cert: pair.cert, key: pair.key, minVersion: this.cfg.min_version });
    // Built (and so checked by OpenSSL) before anything is swapped in.
    make(material.default);
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const entry of material.sni) {
      const context = make(entry);
      for (const name of entry.serverNames) {
        if (name.startsWith('*.')) wildcard.set(name.slice(2), context);
        else exact.set(name, context);
      }
    }
    return { material, exact, wildcard };
  }

  #watch(): void {
    const files = [this.cfg.cert_path, this.cfg.key_path, ...this.cfg.certs.flatMap((c) => [c.cert_path, c.key_path])];
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      const names = new Set(files.filter((f) => dirname(f) === dir).map((f) => basename(f)));
      const onEvent = (_event: string, name: string | Buffer | null): void => {
        const n = name === null ? null : String(name);
        if (n === null || names.has(n) || n.startsWith('..')) this.#schedule();
      };
      try {
        const watcher = watch(dir, { persistent: false }, onEvent);
        watcher.on('error', (err) => this.#opts.logger.warn({ listener: this.#opts.label, dir, err }, 'cannot watch certificate directory; reload on SIGHUP only'));
        this.#watchers.push(watcher);
      } catch (err) {
        this.#opts.logger.warn({ listener: this.#opts.label, dir, err }, 'cannot watch certificate directory; reload on SIGHUP only');
      }
    }
  }

  #schedule(): void {
    const now = Date.now();
    if (this.#burstSince === 0) this.#burstSince = now;
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(CERT_RELOAD_DEBOUNCE_MS, this.#burstSince + CERT_RELOAD_MAX_WAIT_MS - now));
    this.#timer = setTimeout(() => {
      this.#burstSince = 0;
      this.reload();
    }, wait);
    this.#timer.unref();
  }
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  if (a.default.cert !== b.default.cert || a.default.key !== b.default.key || a.sni.length !== b.sni.length) return false;
  return a.sni.every((e, i) => e.cert === b.sni[i]?.cert && e.key === b.sni[i]?.key);
}
