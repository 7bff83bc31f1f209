import type { LoadBalancer } from '@pingora-ts/load-balancing';
import type { ConnectionPool } from '@pingora-ts/pool';
import { BackendControl } from './backend-control';
import { LbMetrics, type MetricsHost } from './lb-metrics';
import type { LbProxy } from './lb-proxy';

/** What the admin endpoint needs wired into every service (when `admin` is configured): metrics and backend control. */
export class LbAdmin {
  readonly metrics: LbMetrics;
  readonly control: BackendControl;

  /** `decides`: this process runs the health checks and the admin endpoint (primary or single). */
  constructor(host: MetricsHost, decides: boolean) {
    this.metrics = new LbMetrics(host, decides);
    this.control = new BackendControl(host.channel, decides);
  }

  wire(service: string, lb: LoadBalancer, proxy: LbProxy): void {
    this.metrics.wire(service, lb, proxy);
    this.control.wire(service, lb);
  }

  trackPool(pool: ConnectionPool): void {
    this.metrics.trackPool(pool);
  }

  stop(): void {
    this.metrics.stop();
  }
}
