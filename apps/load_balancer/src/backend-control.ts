import type { JsonValue, StateChannel } from '@pingora-ts/core';
import type { LoadBalancer } from '@pingora-ts/load-balancing';

/** What `set` did. */
export type ControlResult = 'changed' | 'unchanged' | 'unknown-service' | 'unknown-backend';

/**
 * Backends drained by hand through the admin endpoint (`POST /backends/{service}/{addr}/disable`,
 * `…/enable`). The primary (or the one process) applies the change and publishes each
 * service's disabled addresses on the state channel (`admin:disabled:<service>`); every worker
 * applies the latest list, also to backends that discovery brings later, and a worker that
 * starts later gets it first. A disabled backend takes no new request; those in flight finish.
 */
export class BackendControl {
  readonly #balancers = new Map<string, LoadBalancer>();

  constructor(
    private readonly channel: StateChannel,
    /** This process decides (primary or single); workers only apply. */
    private readonly decides: boolean,
  ) {}

  wire(service: string, lb: LoadBalancer): void {
    this.#balancers.set(service, lb);
    if (this.decides) return;
    let disabled = new Set<string>();
    const apply = (): void => {
      const backends = lb.backends();
      for (const b of backends.items()) backends.setEnabled(b, !disabled.has(b.addr));
    };
    this.channel.subscribe(topic(service), (list) => {
      if (!Array.isArray(list)) return;
      disabled = new Set(list.filter((a): a is string => typeof a === 'string'));
      apply();
    });
    lb.on('change', () => {
      if (disabled.size > 0) apply();
    });
  }

  /** Enables or disables `addr` in `service` here and in every worker. */
  set(service: string, addr: string, enabled: boolean): ControlResult {
    const lb = this.#balancers.get(service);
    if (lb === undefined) return 'unknown-service';
    const backends = lb.backends();
    if (backends.get(addr) === undefined) return 'unknown-backend';
    const changed = enabled ? lb.enable(addr) : lb.disable(addr);
    const list: JsonValue = backends
      .items()
      .filter((b) => !backends.isEnabled(b))
      .map((b) => b.addr);
    this.channel.publish(topic(service), list);
    return changed ? 'changed' : 'unchanged';
  }
}

function topic(service: string): string {
  return `admin:disabled:${service}`;
}
