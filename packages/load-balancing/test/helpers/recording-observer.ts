import type { Backend, RequestObserver, RequestOutcome } from '@pingora-ts/load-balancing';

/** Records every report a load balancer passes to its observers. */
export class RecordingObserver implements RequestObserver {
  readonly started: string[] = [];
  readonly ended: Array<{ addr: string; outcome: RequestOutcome; latencyMs: number }> = [];

  requestStarted(backend: Backend): void {
    this.started.push(backend.addr);
  }

  requestEnded(backend: Backend, outcome: RequestOutcome, latencyMs: number): void {
    this.ended.push({ addr: backend.addr, outcome, latencyMs });
  }

  /** `addr outcome` of every ended attempt, in order. */
  endings(): string[] {
    return this.ended.map((e) => `${e.addr} ${e.outcome}`);
  }

  /** Ended attempts per outcome. */
  outcomes(): Partial<Record<RequestOutcome, number>> {
    const out: Partial<Record<RequestOutcome, number>> = {};
    for (const e of this.ended) out[e.outcome] = (out[e.outcome] ?? 0) + 1;
    return out;
  }
}
