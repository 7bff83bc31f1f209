import { ProxyError } from '@pingora-ts/core';
import { Dispatcher, Pool, errors } from 'undici';
import type { Backend } from '../backend';
import type { LoadBalancer } from '../load-balancer';
import type { SelectionKey } from '../selection/selection-algorithm';
import { BalancedRequest, type RequestHost } from './balanced-request';
import { toLegacyHandler } from './legacy-handler';

export interface BalancedDispatcherOptions {
  /** Picks the backend of each request, and is told how each attempt went. */
  loadBalancer: LoadBalancer;
  /**
   * The selection key of a request (what `fnv`, `ketama` and `maglev` hash), from its
   * dispatch options (`path`, `headers`, …). Default: `''` (fine for round robin, random and
   * the load-aware algorithms, which ignore it).
   */
  key?: (opts: Dispatcher.DispatchOptions) => SelectionKey;
  /** Candidates `select` / `selectWith` look at per pick. Default 256. */
  maxIterations?: number;
  /** How many other backends a failed request may be retried on (see the README's retry rules). Default 2. */
  retries?: number;
  /** Options of each backend's undici `Pool` (connections, timeouts, keep-alive, TLS, …). */
  clientOptions?: Pool.Options;
  /** The pools' `connect` option (TLS options, connect timeout, or a connector); overrides `clientOptions.connect`. */
  connect?: Pool.Options['connect'];
}

/** Defaults of `BalancedDispatcher`. */
export const DEFAULT_MAX_ITERATIONS = 256;
export const DEFAULT_RETRIES = 2;

type Callback = (err: Error | null, data: null) => void;

/**
 * An undici `Dispatcher` that sends each request to the backend a `LoadBalancer` selects,
 * whatever host the request's URL names (its path, query and headers are kept; `https:`
 * origins are sent over TLS). Pass it as `dispatcher` to undici's `request`, `fetch`,
 * `stream` and `pipeline`, or make it the global dispatcher.
 *
 * It keeps one undici `Pool` per backend (and scheme), made on first use and closed when the
 * backend leaves the load balancer. Each attempt is reported to the load balancer
 * (`requestStarted`, then one `requestEnded` with its outcome and the latency to the
 * response head), which is what `least_conn`, `p2c_ewma` and passive health read. A request
 * that fails before any response byte arrived is retried on another backend when that is
 * safe (see `retries` and the README).
 */
export class BalancedDispatcher extends Dispatcher implements RequestHost {
  readonly loadBalancer: LoadBalancer;
  readonly maxIterations: number;
  readonly retries: number;
  private readonly keyOf: ((opts: Dispatcher.DispatchOptions) => SelectionKey) | null;
  private readonly poolOptions: Pool.Options;
  /** Pools by backend key, plain and TLS. */
  private readonly httpPools = new Map<string, Pool>();
  private readonly httpsPools = new Map<string, Pool>();
  /** Pools of removed backends, closing while their last requests finish. */
  private readonly retiring = new Set<Pool>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private isClosed = false;
  private isDestroyed = false;
  private closing: Promise<void> | null = null;
  private destroying: Promise<void> | null = null;
  private readonly onBackendsChange = (list: readonly Backend[]): void => this.retireRemoved(list);

  /** @throws ProxyError (`ConfigError`) naming the option when one is invalid. */
  constructor(opts: BalancedDispatcherOptions) {
    super();
    const lb = opts?.loadBalancer;
    if (!lb || typeof lb.select !== 'function' || typeof lb.requestStarted !== 'function') {
      throw configError('loadBalancer must be a LoadBalancer');
    }
    if (opts.key !== undefined && typeof opts.key !== 'function') throw configError(`key must be a function, got ${typeof opts.key}`);
    this.loadBalancer = lb;
    this.keyOf = opts.key ?? null;
    this.maxIterations = integer('maxIterations', opts.maxIterations ?? DEFAULT_MAX_ITERATIONS, 1);
    this.retries = integer('retries', opts.retries ?? DEFAULT_RETRIES, 0);
    this.poolOptions = { ...opts.clientOptions };
    if (opts.connect !== undefined) this.poolOptions.connect = opts.connect;
    lb.on('change', this.onBackendsChange);
  }

  /** `close()` or `destroy()` was called: new requests are refused. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** `destroy()` was called, or `close()` finished. */
  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /**
   * Sends one request (undici's `Dispatcher.dispatch`): takes undici 7 handlers of both
   * shapes (`onRequestStart`… and the older `onConnect`…). Errors reach the handler, never
   * the caller; returns `false` when the chosen pool is busy (or the request failed at once).
   */
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const user = toLegacyHandler(handler);
    try {
      if (opts === null || typeof opts !== 'object') throw new errors.InvalidArgumentError('opts must be an object.');
      if (this.isDestroyed) throw new errors.ClientDestroyedError();
      if (this.isClosed) throw new errors.ClientClosedError();
      const key = this.keyOf === null ? '' : this.keyOf(opts);
      this.active++;
      return new BalancedRequest(this, opts, user, key).start();
    } catch (err) {
      user.onError(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  poolFor(backend: Backend, https: boolean): Dispatcher {
    const pools = https ? this.httpsPools : this.httpPools;
    let pool = pools.get(backend.key);
    if (pool === undefined) {
      pool = this.newPool(`${https ? 'https' : 'http'}://${backend.addr}`);
      pools.set(backend.key, pool);
    }
    return pool;
  }

  requestDone(): void {
    this.active--;
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private newPool(origin: string): Pool {
    const pool = new Pool(origin, this.poolOptions);
    // Forwarded as undici's Agent does, with this dispatcher first in `targets`.
    pool.on('connect', (o, targets) => this.emit('connect', o, [this, ...targets]));
    pool.on('disconnect', (o, targets, err) => this.emit('disconnect', o, [this, ...targets], err));
    pool.on('connectionError', (o, targets, err) => this.emit('connectionError', o, [this, ...targets], err));
    pool.on('drain', (o) => this.emit('drain', o));
    return pool;
  }

  /** Closes the pools of backends no longer in the load balancer; their requests in flight finish first. */
  private retireRemoved(list: readonly Backend[]): void {
    const keep = new Set<string>();
    for (const b of list) keep.add(b.key);
    for (const pools of [this.httpPools, this.httpsPools]) {
      for (const [key, pool] of pools) {
        if (keep.has(key)) continue;
        pools.delete(key);
        this.retiring.add(pool);
        pool.close().then(
          () => this.retiring.delete(pool),
          () => this.retiring.delete(pool),
        );
      }
    }
  }

  private allPools(): Pool[] {
    return [...this.httpPools.values(), ...this.httpsPools.values(), ...this.retiring];
  }

  /**
   * Refuses new requests, waits for those in flight (retries included), then closes every
   * pool. Resolves (or calls back) when done; called again, it waits for the same close.
   */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: Callback): Promise<void> | void {
    this.closing ??= this.closeNow();
    if (callback === undefined) return this.closing;
    this.closing.then(
      () => callback(null, null),
      (err: Error) => callback(err, null),
    );
  }

  private async closeNow(): Promise<void> {
    if (this.isDestroyed) throw new errors.ClientDestroyedError();
    this.isClosed = true;
    this.loadBalancer.off('change', this.onBackendsChange);
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.isDestroyed) return this.destroying ?? undefined;
    await Promise.all(this.allPools().map((p) => p.close()));
    this.isDestroyed = true;
  }

  /**
   * Destroys every pool at once: requests in flight fail with `err` (undici's
   * `ClientDestroyedError` by default) and are not retried.
   */
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null): Promise<void>;
  override destroy(): Promise<void>;
  override destroy(errOrCallback?: Error | null | Callback, callback?: Callback): Promise<void> | void {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null);
    this.destroying ??= this.destroyNow(err);
    if (cb === undefined) return this.destroying;
    this.destroying.then(
      () => cb(null, null),
      (e: Error) => cb(e, null),
    );
  }

  private async destroyNow(err: Error | null): Promise<void> {
    this.isClosed = true;
    this.isDestroyed = true;
    this.loadBalancer.off('change', this.onBackendsChange);
    const pools = this.allPools();
    this.httpPools.clear();
    this.httpsPools.clear();
    this.retiring.clear();
    await Promise.all(pools.map((p) => p.destroy(err)));
  }
}

function configError(message: string): ProxyError {
  return ProxyError.internal('ConfigError', `BalancedDispatcher: ${message}`);
}

function integer(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw configError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  return value;
}
