/**
 * Runs an async task so that two runs never overlap. A call made while a run is in flight
 * waits for it and then starts one more run, shared by every caller that arrived during the
 * same flight (so a caller always sees a run that started after its call). Internal.
 */
export class SerialRunner<A> {
  private current: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly task: (arg: A) => Promise<void>) {}

  run(arg: A): Promise<void> {
    const current = this.current;
    if (current === null) return this.start(arg);
    if (this.queued === null) {
      const settled = current.then(noop, noop);
      this.queued = settled.then(() => {
        this.queued = null;
        return this.start(arg);
      });
    }
    return this.queued;
  }

  private start(arg: A): Promise<void> {
    const p: Promise<void> = Promise.resolve()
      .then(() => this.task(arg))
      .finally(() => {
        if (this.current === p) this.current = null;
      });
    this.current = p;
    return p;
  }
}

function noop(): void {}
