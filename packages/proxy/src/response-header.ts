/**
 * A response head (Pingora's `ResponseHeader`): `upstreamResponseFilter` and `responseFilter`
 * may change its status, reason and headers before it is sent downstream.
 */
import { HeaderList } from './header-list';

export class ResponseHeader {
  readonly headers: HeaderList;
  private _status: number;
  private _reason: string;

  constructor(status: number, reason = '', rawHeaders: string[] = []) {
    this._status = status;
    this._reason = reason;
    this.headers = new HeaderList(rawHeaders);
  }

  /** The status code, 100..999. */
  get status(): number {
    return this._status;
  }
  set status(v: number) {
    if (!Number.isInteger(v) || v < 100 || v > 999) throw new TypeError(`invalid HTTP status ${String(v)}`);
    this._status = v;
  }

  /** The reason phrase; `''` lets the server use the standard one. */
  get reason(): string {
    return this._reason;
  }
  set reason(v: string) {
    if (/[\r\n\0]/.test(v)) throw new TypeError('invalid reason phrase');
    this._reason = v;
  }
}
