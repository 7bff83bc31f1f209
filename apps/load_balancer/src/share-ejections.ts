import type { JsonValue, StateChannel } from '@pingora-ts/core';
import { EJECTION_CAUSES, type Backend, type EjectionCause, type LoadBalancer } from '@pingora-ts/load-balancing';

/**
 * Passive health sees the traffic of one process only, so each process shares the ejections
 * it decides: one topic per backend (`<prefix>:<addr>`, the latest value is an ejection's end
 * `until`, epoch ms, 0 once it is back early, and its `cause`), to which every process
 * subscribes. The primary also lets a backend back when its active check passes, and that
 * reaches the workers the same way. An ejection's end is not published: every process reaches
 * it by itself (the clocks are the machine's). Applying a shared value never publishes it
 * again, and applying one already in force changes nothing, so a process that gets its own
 * message back stays quiet.
 */
export function shareEjections(lb: LoadBalancer, prefix: string, channel: StateChannel): void {
  const backends = lb.backends();
  const subscribed = new Map<string, () => void>();
  let applying = false;

  const apply = (addr: string, value: JsonValue): void => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    const { until, cause } = value;
    if (typeof until !== 'number' || typeof cause !== 'string' || !(EJECTION_CAUSES as readonly string[]).includes(cause)) return;
    applying = true;
    try {
      if (until > Date.now()) backends.setEjected(addr, until, cause as EjectionCause);
      else if (backends.isEjected(addr)) backends.setEjected(addr, 0, cause as EjectionCause);
    } finally {
      applying = false;
    }
  };
  const subscribe = (list: readonly Backend[]): void => {
    for (const b of list) {
      if (subscribed.has(b.addr)) continue;
      subscribed.set(b.addr, channel.subscribe(`${prefix}:${b.addr}`, (v) => apply(b.addr, v)));
    }
  };
  subscribe(backends.items());
  lb.on('change', (list, diff) => {
    // A backend that left stops listening (DNS churn must not pile up listeners); one that
    // comes back subscribes again and gets the topic's latest value.
    for (const b of diff.removed) {
      subscribed.get(b.addr)?.();
      subscribed.delete(b.addr);
    }
    subscribe(list);
  });
  lb.on('ejection', (b, _ejected, cause, untilMs) => {
    if (applying || cause === 'expired') return;
    channel.publish(`${prefix}:${b.addr}`, { until: untilMs, cause });
  });
}
