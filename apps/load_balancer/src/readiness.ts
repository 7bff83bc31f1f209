import type { LoadBalancer } from '@pingora-ts/load-balancing';

/** What `/readyz` looks at in the `Server`. */
export interface ReadinessHost {
  readonly role: 'single' | 'primary' | 'worker';
  /** `'running'` once every listener is up (and, with workers, every worker was ready). */
  readonly phase: string | undefined;
  workerPids(): number[];
}

/**
 * Whether the load balancer should get traffic: it serves (every listener up, at least one
 * worker accepting) and every service has a backend that takes traffic. `reasons` says what
 * is missing, one line each.
 */
export function readiness(host: ReadinessHost, balancers: ReadonlyMap<string, LoadBalancer>): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (host.phase !== 'running') reasons.push(`not serving: ${host.phase ?? 'starting'}`);
  else if (host.role === 'primary' && host.workerPids().length === 0) reasons.push('no worker is running');
  for (const [service, lb] of balancers) {
    const backends = lb.backends();
    const items = backends.items();
    if (items.some((b) => backends.ready(b))) continue;
    reasons.push(items.length === 0 ? `service ${service}: no backends` : `service ${service}: none of its ${items.length} backends takes traffic (unhealthy, ejected or disabled)`);
  }
  return { ready: reasons.length === 0, reasons };
}
