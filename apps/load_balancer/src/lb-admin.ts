import type { LoadBalancer } from '@pingora-ts/load-balancing';
import type { ConnectionPool } from '@pingora-ts/pool';
import { BackendControl } from './backend-control';
import { LbMetrics, type MetricsHost } from './lb-metrics';
import type { LbProxy } from './lb-proxy';
import { LbStatus, type StatusHost } from './lb-status';

/** What the admin endpoint needs wired into every service (when `admin` is configured): metrics, status and backend control. */
export class LbAdmin {
  readonly metrics: LbMetrics;
  readonly status: LbStatus;
  readonly control: BackendControl;

  /** `decides`: this process runs the health checks and the admin endpoint (primary or single). */
  constructor(host: MetricsHost & StatusHost, decides: boolean, version: string) {
    this.metrics = new LbMetrics(host, decides);
    this.status = new LbStatus(host, version);
    this.control = new BackendControl(host.channel, decides);
  }

  wire(service: string, lb: LoadBalancer, proxy: LbProxy): void {
    this.metrics.wire(service, lb, proxy);
    this.status.wire(service, lb);
    this.control.wire(service, lb);
  }

  trackPool(pool: ConnectionPool): void {
    this.metrics.trackPool(pool);
    this.status.trackPool(pool);
  }

  stop(): void {
    this.metrics.stop();
  }
}
