/**
 * The two ends of a body on its way through the proxy, whichever direction and protocol: a
 * `BodySink` receives a body (a downstream session hands the request body to one, an upstream
 * session the response body), a `BodySource` is what a sink may pause, and a `BodyTarget` is
 * what it writes to. `BodyFlow` joins the three.
 */

/** Receives one body, piece by piece. */
export interface BodySink {
  /** One piece of the body, **not the whole body**. The sink may keep it. */
  onBodyChunk(chunk: Buffer): void;
  /** The body is complete; `trailers` is `[name, value, …]`, or null when there are none. */
  onBodyEnd(trailers: readonly string[] | null): void;
}

/** The side a body comes from: paused while the other side is full or a filter is busy. */
export interface BodySource {
  pauseBody(): void;
  resumeBody(): void;
}

/** The side a body goes to. */
export interface BodyTarget {
  /** Writes one piece; `false` means wait until the target drained (the flow's `onTargetDrain`). */
  write(chunk: Buffer): boolean;
  /** Ends the body, with trailers when there are any. */
  end(trailers: readonly string[] | null): void;
}
