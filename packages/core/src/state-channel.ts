/**
 * How background services (run once, in the primary) share their state with listening
 * services (run in every worker): a topic-keyed channel of JSON values.
 *
 * ```
 * primary:  health check --publish('backends', {...})--> StateChannel --IPC--> worker 1..N
 * worker:   StateChannel.subscribe('backends', fn)  <-- fn(latest value), then every update
 * ```
 *
 * The channel remembers the latest value of each topic, so a worker that starts later (or
 * replaces a crashed one) gets the current state first, before any new publish. With
 * `threads: 1` the same calls work inside the one process, with no IPC at all.
 *
 * The other way, the primary can ask every worker a question and gather the answers
 * (metrics, status): `answer(topic, fn)` in the workers, `ask(topic)` in the primary.
 *
 * ```
 * primary:  ask('metrics') --IPC--> worker 1..N: answer('metrics', fn) --> fn() --IPC--> [answers]
 * ```
 *
 * And across an upgrade (SIGHUP, or `-u` + SIGQUIT), the old process hands what it registered with `carry` to
 * the new one, which reads it with `inherited` (counters that must not start from zero).
 */

/** What can cross a process boundary as JSON. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Gets every value published under a topic. */
export type StateListener = (payload: JsonValue) => void;

/** Answers the primary's `ask(topic)` in a worker. */
export type StateAnswerer = () => JsonValue | Promise<JsonValue>;

/** One worker's answer to `ask`. */
export interface WorkerAnswer {
  /** The worker's slot, 1..threads (a replacement keeps its slot). */
  workerId: number;
  pid: number;
  payload: JsonValue;
}

/** How long `ask` waits for the workers by default. */
export const DEFAULT_ASK_TIMEOUT_MS = 2000;

export class StateChannel {
  readonly #latest = new Map<string, JsonValue>();
  readonly #subscribers = new Map<string, Set<StateListener>>();
  /** Primary: sends a published value to every worker. */
  #broadcast: ((topic: string, payload: JsonValue) => void) | undefined;
  /** Worker: publishing goes to the primary, which sends it back to every worker. */
  #upstream: ((topic: string, payload: JsonValue) => void) | undefined;
  readonly #answerers = new Map<string, StateAnswerer>();
  readonly #carriers = new Map<string, StateAnswerer>();
  #inherited: Record<string, JsonValue> = {};
  /** Primary: sends a question to every worker and gathers the answers. */
  #asker: ((topic: string, timeoutMs: number) => Promise<WorkerAnswer[]>) | undefined;

  /**
   * Publishes `payload` under `topic`: every subscriber in every worker gets it, and later
   * subscribers get it first. Values are copied as JSON between processes, so publish a
   * fresh object rather than mutating one already published.
   */
  publish(topic: string, payload: JsonValue): void {
    if (this.#upstream) this.#upstream(topic, payload);
    else {
      this.deliver(topic, payload);
      this.#broadcast?.(topic, payload);
    }
  }

  /**
   * Calls `listener` with the latest value of `topic` (if there is one) and then with every
   * new one. Returns the function that unsubscribes.
   */
  subscribe(topic: string, listener: StateListener): () => void {
    let set = this.#subscribers.get(topic);
    if (!set) {
      set = new Set();
      this.#subscribers.set(topic, set);
    }
    set.add(listener);
    if (this.#latest.has(topic)) listener(this.#latest.get(topic) as JsonValue);
    return () => {
      set.delete(listener);
    };
  }

  /** The latest value published under `topic`, if any. */
  latest(topic: string): JsonValue | undefined {
    return this.#latest.get(topic);
  }

  /** Every topic's latest value (what a new worker starts from). */
  snapshot(): Record<string, JsonValue> {
    return Object.fromEntries(this.#latest);
  }

  /**
   * Answers the primary's `ask(topic)` with `fn`'s value (a JSON value, or a promise of
   * one). Only workers are asked; registering it in any process is harmless. One answerer
   * per topic: a second replaces the first. Returns the function that removes it.
   */
  answer(topic: string, fn: StateAnswerer): () => void {
    this.#answerers.set(topic, fn);
    return () => {
      if (this.#answerers.get(topic) === fn) this.#answerers.delete(topic);
    };
  }

  /**
   * Primary: asks every running worker `topic` and resolves their answers (a worker that has
   * no answerer, fails or does not answer within `timeoutMs` is left out). Resolves `[]`
   * where there are no workers (`threads: 1`, or in a worker).
   */
  ask(topic: string, timeoutMs = DEFAULT_ASK_TIMEOUT_MS): Promise<WorkerAnswer[]> {
    return this.#asker === undefined ? Promise.resolve([]) : this.#asker(topic, timeoutMs);
  }

  /**
   * At an upgrade (in the process that hands its sockets over: the one process, or the
   * primary), `fn`'s value is taken just before the handoff and handed to the next process
   * (the SIGHUP generation, or the one started with `-u` on SIGQUIT), where `inherited(topic)`
   * returns it. A failing `fn` hands nothing for its topic. Returns the function that removes it.
   */
  carry(topic: string, fn: StateAnswerer): () => void {
    this.#carriers.set(topic, fn);
    return () => {
      if (this.#carriers.get(topic) === fn) this.#carriers.delete(topic);
    };
  }

  /** What the previous generation handed over under `topic` (see `carry`), if anything. */
  inherited(topic: string): JsonValue | undefined {
    return this.#inherited[topic];
  }

  /** @internal The old generation's side: every `carry` value, taken now. */
  async carried(): Promise<Record<string, JsonValue>> {
    const out: Record<string, JsonValue> = {};
    for (const [topic, fn] of this.#carriers) {
      try {
        out[topic] = await fn();
      } catch {
        // Nothing for this topic: the upgrade itself must not fail over it.
      }
    }
    return out;
  }

  /** @internal The new generation's side: what the old one carried. */
  setInherited(values: Record<string, JsonValue>): void {
    this.#inherited = values;
  }

  /** @internal Worker side: this process's answer to `topic`, or `undefined` when it has no answerer. */
  async answerLocally(topic: string): Promise<JsonValue | undefined> {
    const fn = this.#answerers.get(topic);
    return fn === undefined ? undefined : await fn();
  }

  /** @internal Primary side: how `ask` reaches the workers. */
  setAsker(fn: ((topic: string, timeoutMs: number) => Promise<WorkerAnswer[]>) | undefined): void {
    this.#asker = fn;
  }

  /** @internal Records a value and calls this process's subscribers. */
  deliver(topic: string, payload: JsonValue): void {
    this.#latest.set(topic, payload);
    const set = this.#subscribers.get(topic);
    if (set) for (const listener of [...set]) listener(payload);
  }

  /** @internal Primary side: where published values go besides local subscribers. */
  setBroadcast(fn: ((topic: string, payload: JsonValue) => void) | undefined): void {
    this.#broadcast = fn;
  }

  /** @internal Worker side: publish sends to the primary instead of delivering locally. */
  setUpstream(fn: ((topic: string, payload: JsonValue) => void) | undefined): void {
    this.#upstream = fn;
  }
}
