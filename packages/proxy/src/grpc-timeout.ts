/**
 * `grpc-timeout` (gRPC over HTTP/2: `TimeoutValue TimeoutUnit`, up to 8 digits and one of
 * `H M S m u n`) as milliseconds: the attempt sends it as the upstream read deadline, so the
 * wait for the response is min(the peer's read timeout, the client's deadline).
 */
import { equalsLower } from './equals-lower';

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** The request's `grpc-timeout` in ms (at least 1), or null when it has none (or a malformed one). */
export function grpcTimeoutMs(raw: readonly string[]): number | null {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 12 && equalsLower(name, 'grpc-timeout')) return parseGrpcTimeout(raw[i + 1] as string);
  }
  return null;
}

/** `"100m"` → 100; null for a malformed value. */
export function parseGrpcTimeout(v: string): number | null {
  const n = v.length;
  if (n < 2 || n > 9) return null;
  const unit = UNIT_MS[v.charAt(n - 1)];
  if (unit === undefined) return null;
  let value = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    value = value * 10 + c;
  }
  return Math.max(1, Math.ceil(value * unit));
}
