import type { JsonValue, StateChannel } from '@pingora-ts/core';
import type { LoadBalancer } from '@pingora-ts/load-balancing';
import type { ConnectionPool } from '@pingora-ts/pool';

/** The `StateChannel.ask` topic of `/status`: what only the workers know (in flight, their pools). */
const STATUS_TOPIC = 'admin:status';

/** What `/status` needs of the `Server`. */
export interface StatusHost {
  readonly role: 'single' | 'primary' | 'worker';
  readonly channel: StateChannel;
  readonly phase: string | undefined;
  workerPids(): number[];
  listenerAddresses(): Array<{ kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }>;
}

/** One process's share: requests in flight per service and backend, its pool's counters. */
interface Local {
  inflight: Record<string, Record<string, number>>;
  pool: { idle: number; active: number; opened: number; reused: number };
}

/**
 * `GET /status`: a JSON view for operators: the process, its workers, and per service its
 * backends with health, weight, ejection, whether enabled, and requests in flight (summed over
 * the workers, which answer the primary's question), plus the pools' counters.
 */
export class LbStatus {
  readonly #host: StatusHost;
  readonly #version: string;
  readonly #started = Date.now();
  readonly #balancers = new Map<string, LoadBalancer>();
  #pool: ConnectionPool | null = null;

  constructor(host: StatusHost, version: string) {
    this.#host = host;
    this.#version = version;
    if (host.role === 'worker') host.channel.answer(STATUS_TOPIC, () => this.#local() as unknown as JsonValue);
  }

  wire(service: string, lb: LoadBalancer): void {
    this.#balancers.set(service, lb);
  }

  trackPool(pool: ConnectionPool): void {
    this.#pool = pool;
  }

  async status(): Promise<JsonValue> {
    const host = this.#host;
    const shares: Local[] = host.role === 'primary' ? (await host.channel.ask(STATUS_TOPIC)).map((a) => a.payload as unknown as Local) : [this.#local()];
    const pool = { idle: 0, active: 0, opened: 0, reused: 0 };
    for (const s of shares) for (const k of Object.keys(pool) as Array<keyof typeof pool>) pool[k] += s.pool?.[k] ?? 0;
    const services = [...this.#balancers].map(([name, lb]) => {
      const backends = lb.backends();
      return {
        name,
        backends: backends.items().map((b) => ({
          addr: b.addr,
          weight: b.weight,
          healthy: backends.isHealthy(b),
          ejected: backends.isEjected(b),
          enabled: backends.isEnabled(b),
          inflight: shares.reduce((n, s) => n + (s.inflight?.[name]?.[b.addr] ?? 0), 0),
        })),
      };
    });
    return {
      version: this.#version,
      pid: process.pid,
      role: host.role,
      phase: host.phase ?? null,
      uptime_seconds: Math.round((Date.now() - this.#started) / 1000),
      workers: host.role === 'primary' ? host.workerPids() : [],
      listeners: host.listenerAddresses().map((a) => (a.kind === 'tcp' ? `${a.host}:${a.port}` : `unix:${a.path}`)),
      services,
      pool,
    };
  }

  #local(): Local {
    const inflight: Local['inflight'] = {};
    for (const [name, lb] of this.#balancers) {
      const per: Record<string, number> = {};
      for (const b of lb.backends().items()) per[b.addr] = lb.load.inflight(b);
      inflight[name] = per;
    }
    const s = this.#pool?.stats();
    const pool = s === undefined ? { idle: 0, active: 0, opened: 0, reused: 0 } : { idle: s.idleConnections, active: s.activeConnections, opened: s.newConnections, reused: s.reusedConnections };
    return { inflight, pool };
  }
}
