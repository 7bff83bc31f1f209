/**
 * Lets at most `limit` tasks hold a slot at once; the others wait, first come first served.
 * The limit may change at any time (waiters are let in as room appears). Internal.
 */
export class Semaphore {
  private held = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private max: number) {}

  get limit(): number {
    return this.max;
  }
  set limit(n: number) {
    this.max = n;
    this.wake();
  }

  /** Slots in use now. */
  get active(): number {
    return this.held;
  }

  /** Resolves once a slot is held; call `release()` exactly once after. */
  acquire(): Promise<void> {
    if (this.held < this.max && this.waiters.length === 0) {
      this.held++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.held--;
    this.wake();
  }

  private wake(): void {
    while (this.held < this.max && this.waiters.length > 0) {
      this.held++;
      this.waiters.shift()!();
    }
  }
}
