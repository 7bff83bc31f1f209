import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { ProxyError, type Logger } from '@pingora-ts/core';
import { Backend } from '../backend';
import type { ServiceDiscovery } from './discovery';

export interface DnsDiscoveryOptions {
  /** The name to look up: a host name for A/AAAA, or `_service._proto.name` with `srv: true`. */
  name: string;
  /** The backends' port for A/AAAA answers (1–65535); not used with `srv` (each record has its own). */
  port?: number;
  /** Look up SRV records (`true`) instead of A/AAAA (default `false`). */
  srv?: boolean;
  /** Address families: `4` (A only), `6` (AAAA only) or `0` (both, default). Also used for SRV targets. */
  family?: 0 | 4 | 6;
  /** Weight of each A/AAAA backend (default 1); SRV backends take their record's weight. */
  weight?: number;
  /** The answer is refreshed after its TTL, but never sooner than this (the floor). Default 1000 ms. */
  refreshMinMs?: number;
  /** ... and never later than this (the ceiling), whatever the TTL. Default 300000 ms (5 min). */
  refreshMaxMs?: number;
  /** DNS servers to ask (`"ip"` or `"ip:port"`); default the system's (`/etc/resolv.conf`). */
  servers?: string[];
  /** Per-try timeout of a query in ms (default 2000) and tries per server (default 2). */
  timeoutMs?: number;
  tries?: number;
  /** Where skipped SRV targets are logged (`warn`); nothing by default. */
  logger?: Logger;
}

/** One resolved answer: the backends, sorted by address, and the smallest TTL in seconds (Infinity: none). */
interface Answer {
  backends: Backend[];
  ttl: number;
}

/**
 * Backends from DNS: the A/AAAA records of `name` (each address with `port`), or its SRV
 * records (each target's addresses with the record's port and weight).
 *
 * The answer is kept for its TTL, clamped to `[refreshMinMs, refreshMaxMs]`, then looked up
 * again: `discover()` answers from the kept answer while it is fresh, and `watch` (run by the
 * load balancer's background service) asks for an update when it expires. A failed lookup
 * (timeout, SERVFAIL, NXDOMAIN, no records) rejects with a `ProxyError` saying what failed, so
 * the load balancer keeps the last answer (its background service logs it); the next try
 * comes after `refreshMinMs`, doubling up to `refreshMaxMs` while it keeps failing.
 *
 * SRV: only the records of the lowest priority are used (the others are backups, RFC 2782);
 * a record's weight becomes its backends' weight (0 counts as 1); a target with several
 * addresses gives one backend per address, each with the record's weight and its host name
 * in `ext.get('hostname')` (e.g. for TLS SNI). Node's resolver does not give SRV records'
 * own TTL, so an SRV answer lives as long as the smallest TTL of its targets' addresses.
 * Backends are sorted by address, so a server that rotates its records changes nothing.
 */
export class DnsDiscovery implements ServiceDiscovery {
  readonly name: string;
  readonly port: number | undefined;
  readonly srv: boolean;
  readonly family: 0 | 4 | 6;
  readonly weight: number;
  readonly refreshMinMs: number;
  readonly refreshMaxMs: number;
  /** The resolver used (its servers can be read and set). */
  readonly resolver: dns.Resolver;
  private readonly logger: Logger | undefined;
  private last: Backend[] | null = null;
  /** When the kept answer expires (performance.now() ms); 0: nothing kept. */
  private expiresAt = 0;
  private failures = 0;
  private nextMs = 0;
  private due: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<Backend[]> | null = null;

  constructor(opts: DnsDiscoveryOptions) {
    const name = opts.name;
    if (typeof name !== 'string' || name.length === 0 || name.length > 253 || /[\s/:]/.test(name)) {
      throw config(`DnsDiscovery: name must be a DNS name, got ${JSON.stringify(name)}`);
    }
    this.name = name;
    this.srv = opts.srv ?? false;
    if (this.srv) {
      if (opts.port !== undefined) throw config(`DnsDiscovery: port is not used with srv (SRV records carry their ports)`);
    } else if (opts.port === undefined || !Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
      throw config(`DnsDiscovery: port must be an integer from 1 to 65535 for A/AAAA lookups of ${name}, got ${String(opts.port)}`);
    }
    this.port = opts.port;
    this.family = opts.family ?? 0;
    if (this.family !== 0 && this.family !== 4 && this.family !== 6) throw config(`DnsDiscovery: family must be 0, 4 or 6, got ${String(this.family)}`);
    this.weight = opts.weight ?? 1;
    new Backend('127.0.0.1:1', this.weight); // validates the weight
    this.refreshMinMs = ms('refreshMinMs', opts.refreshMinMs ?? 1000);
    this.refreshMaxMs = ms('refreshMaxMs', opts.refreshMaxMs ?? 300_000);
    if (this.refreshMaxMs < this.refreshMinMs) {
      throw config(`DnsDiscovery: refreshMaxMs (${this.refreshMaxMs}) must not be below refreshMinMs (${this.refreshMinMs})`);
    }
    this.resolver = new dns.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
    if (opts.servers !== undefined) this.resolver.setServers(opts.servers);
    this.logger = opts.logger;
  }

  /** How long after the last lookup the next one comes (the clamped TTL, or the failure backoff); 0 before any. */
  get nextRefreshMs(): number {
    return this.nextMs;
  }

  /**
   * The kept answer while its TTL lasts, else a new lookup (concurrent calls share one).
   * Rejects when the lookup fails.
   */
  discover(): Promise<Backend[]> {
    if (this.last !== null && performance.now() < this.expiresAt) return Promise.resolve(this.last.slice());
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = null;
    });
    return this.inflight.then((list) => list.slice());
  }

  watch(changed: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.due = () => {
      if (!signal.aborted) changed();
    };
    // A lookup already done (before the service started) still needs its refresh timed.
    if (this.nextMs > 0) this.schedule(Math.max(0, this.expiresAt - performance.now()));
    signal.addEventListener(
      'abort',
      () => {
        this.due = null;
        clearTimeout(this.timer);
      },
      { once: true },
    );
  }

  private async refresh(): Promise<Backend[]> {
    let answer: Answer;
    try {
      answer = this.srv ? await this.lookupSrv() : await this.lookupHost(this.name, this.port!, this.weight);
      if (answer.backends.length === 0) throw new Error('no records');
    } catch (err) {
      this.failures++;
      this.nextMs = Math.min(this.refreshMaxMs, this.refreshMinMs * 2 ** Math.min(this.failures - 1, 30));
      this.expiresAt = 0;
      this.schedule(this.nextMs);
      const what = this.srv ? 'SRV' : this.family === 4 ? 'A' : this.family === 6 ? 'AAAA' : 'A/AAAA';
      const kept = this.last === null ? 'no backends yet' : `keeping the last answer (${this.last.length} backends)`;
      throw ProxyError.internal('InternalError', `DNS lookup of ${what} ${this.name} failed: ${(err as Error).message}; ${kept}`, err);
    }
    this.failures = 0;
    this.nextMs = Math.min(this.refreshMaxMs, Math.max(this.refreshMinMs, answer.ttl * 1000));
    this.expiresAt = performance.now() + this.nextMs;
    this.last = answer.backends;
    this.schedule(this.nextMs);
    return answer.backends;
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    if (this.due === null) return;
    this.timer = setTimeout(this.expire, delay);
    this.timer.unref();
  }

  /** The refresh timer: the answer is stale now (timers may fire a little before `performance.now()` says). */
  private readonly expire = (): void => {
    this.expiresAt = 0;
    this.due?.();
  };

  /** The A/AAAA records of `host` as backends on `port`; fails only when every family failed. */
  private async lookupHost(host: string, port: number, weight: number, hostname?: string): Promise<Answer> {
    const families: Array<4 | 6> = this.family === 0 ? [4, 6] : [this.family];
    const results = await Promise.allSettled(
      families.map((f) => (f === 4 ? this.resolver.resolve4(host, { ttl: true }) : this.resolver.resolve6(host, { ttl: true }))),
    );
    const backends: Backend[] = [];
    let ttl = Infinity;
    let error: Error | undefined;
    let answered = false;
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        const e = r.reason as NodeJS.ErrnoException;
        // No records of this family is an answer, not a failure (a v4-only name has no AAAA).
        if (e.code === 'ENODATA') answered = true;
        else error ??= e;
        return;
      }
      answered = true;
      for (const rec of r.value) {
        ttl = Math.min(ttl, rec.ttl);
        const b = new Backend(families[i] === 6 ? `[${rec.address}]:${port}` : `${rec.address}:${port}`, weight);
        if (hostname !== undefined) b.ext.set('hostname', hostname);
        backends.push(b);
      }
    });
    if (backends.length === 0 && (!answered || error)) throw error ?? new Error('no records');
    backends.sort(byAddr);
    return { backends, ttl };
  }

  private async lookupSrv(): Promise<Answer> {
    const records = await this.resolver.resolveSrv(this.name);
    if (records.length === 0) return { backends: [], ttl: Infinity };
    const top = Math.min(...records.map((r) => r.priority));
    const chosen = records.filter((r) => r.priority === top);
    const answers = await Promise.all(
      chosen.map(async (r): Promise<Answer> => {
        const weight = Math.max(1, r.weight);
        const ipFamily = isIP(r.name);
        if (ipFamily !== 0) {
          return { backends: [new Backend(ipFamily === 6 ? `[${r.name}]:${r.port}` : `${r.name}:${r.port}`, weight)], ttl: Infinity };
        }
        try {
          return await this.lookupHost(r.name, r.port, weight, r.name);
        } catch (err) {
          this.logger?.warn({ err, srv: this.name, target: r.name }, `DNS: SRV target ${r.name} of ${this.name} did not resolve; skipped`);
          return { backends: [], ttl: Infinity };
        }
      }),
    );
    const backends = answers.flatMap((a) => a.backends).sort(byAddr);
    // Infinity (only IP-literal targets): no TTL to go by, so the ceiling.
    return { backends, ttl: Math.min(...answers.map((a) => a.ttl)) };
  }
}

function byAddr(a: Backend, b: Backend): number {
  return a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0;
}

function config(message: string): ProxyError {
  return ProxyError.internal('ConfigError', message);
}

function ms(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw config(`DnsDiscovery: ${name} must be a positive number of ms, got ${String(value)}`);
  }
  return value;
}
