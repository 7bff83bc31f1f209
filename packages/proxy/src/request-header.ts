/**
 * The request head sent upstream (Pingora's `RequestHeader`): `upstreamRequestFilter` may
 * change its method, path and headers. The downstream request itself is never changed.
 */
import { HeaderList } from './header-list';

export class RequestHeader {
  readonly headers: HeaderList;
  /**
   * How long to wait for the response (and between its chunks) when shorter than the peer's
   * `readTimeoutMs`: a request's `grpc-timeout` sets it; null: the peer's.
   */
  readTimeoutMs: number | null = null;
  private _method: string;
  private _path: string;

  constructor(method: string, path: string, rawHeaders: string[] = []) {
    this._method = method;
    this._path = path;
    this.headers = new HeaderList(rawHeaders);
  }

  /** The method, e.g. `GET`. Must be an HTTP token. */
  get method(): string {
    return this._method;
  }
  set method(v: string) {
    if (v.length === 0 || /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(v)) throw new TypeError(`invalid HTTP method "${v}"`);
    this._method = v;
  }

  /** The request target (path and query), e.g. `/a?b=1`. No spaces or control characters. */
  get path(): string {
    return this._path;
  }
  set path(v: string) {
    // eslint-disable-next-line no-control-regex -- rejecting control characters is the point here
    if (v.length === 0 || /[\x00-\x20\x7f]/.test(v)) throw new TypeError(`invalid request target "${v}"`);
    this._path = v;
  }
}
