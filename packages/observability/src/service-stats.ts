/**
 * What `ProxyMetrics` counts for one service, in plain numbers updated on the hot path (no
 * allocation per request); turned into metric samples only at scrape time.
 */

/** Request duration buckets in seconds, fit for a proxy: 0.5 ms … 10 s. */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * How an upstream attempt ended (`pingora_ts_upstream_requests_total{outcome}`): the load
 * balancer's outcomes, plus `retried`, counted besides an attempt's outcome when the request
 * was then tried again.
 */
export const UPSTREAM_OUTCOMES = ['ok', 'http_5xx', 'connect_error', 'timeout', 'reset', 'retried'] as const;
export type UpstreamOutcome = (typeof UPSTREAM_OUTCOMES)[number];

const OUTCOME_INDEX: Record<string, number> = Object.fromEntries(UPSTREAM_OUTCOMES.map((o, i) => [o, i]));

/** Statuses 0 (no response) to 599 are counted by index; anything else as 0. */
const STATUS_SLOTS = 600;

export class BackendStats {
  /** Attempts by `UPSTREAM_OUTCOMES` index. */
  readonly outcomes = new Float64Array(UPSTREAM_OUTCOMES.length);
  newConnections = 0;
  reusedConnections = 0;

  count(outcome: string): void {
    const i = OUTCOME_INDEX[outcome];
    if (i !== undefined) this.outcomes[i]! += 1;
  }
}

export class ServiceStats {
  inflight = 0;
  /** Finished requests by status sent (0: none). */
  readonly statuses = new Float64Array(STATUS_SLOTS);
  /** Durations per bucket (not cumulative); beyond the last bucket only in `count`. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  durationSum = 0;
  count = 0;
  /** Per backend address, as the load balancer's list names it. */
  readonly backends = new Map<string, BackendStats>();
  /** Connections to an address no backend list named (kept out of the labels). */
  readonly other = new BackendStats();

  constructor(readonly name: string) {}

  finished(status: number, seconds: number): void {
    this.statuses[status >= 0 && status < STATUS_SLOTS ? status : 0]! += 1;
    this.count++;
    this.durationSum += seconds;
    const b = DURATION_BUCKETS;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]!) {
        this.buckets[i]! += 1;
        return;
      }
    }
  }

  /** The stats of backend `addr`, made on first sight. */
  backend(addr: string): BackendStats {
    let s = this.backends.get(addr);
    if (s === undefined) {
      s = new BackendStats();
      this.backends.set(addr, s);
    }
    return s;
  }
}
