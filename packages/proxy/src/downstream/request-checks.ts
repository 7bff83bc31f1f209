/**
 * Checks on a parsed request head that llhttp (strict mode) leaves to the server, run by both
 * downstream paths before any hook sees the request, so nothing ambiguous goes upstream:
 * HTTP/1.0 or 1.1 only (llhttp also takes 0.9 and 2.0), exactly one `Host` (RFC 9112 §3.2),
 * `Transfer-Encoding` ending in `chunked` (400 otherwise, as llhttp) and only as plain
 * `chunked` (501 for another coding before it: the proxy re-frames bodies, so it would be
 * lost), never in HTTP/1.0 (RFC 9112 §6.1), `CONNECT` only to an authority-form `host:port`
 * (whether it is served is the `allowConnect` hook's call, 405 by default), `Expect` only as
 * `100-continue` (417 otherwise, as node:http does), and a request target in a form the proxy
 * can forward unambiguously (`checkTargetForm`).
 */
import { equalsLower } from '../equals-lower';
import { checkTargetForm } from './request-target';

/** Why a request head is refused: the status to send and a code for the log line. */
export interface HeadRefusal {
  status: number;
  code: string;
  detail: string;
}

/** What the check learned on the way, for the fast path (one pass over the fields). */
export interface HeadFacts {
  /** A body follows: `Transfer-Encoding: chunked` or a non-zero `Content-Length`. */
  hasBody: boolean;
  /** The client waits for `100 Continue` before sending the body. */
  expectContinue: boolean;
  /** The body's `Content-Length` (no `Transfer-Encoding`), or -1: none, chunked, or too large to count exactly. */
  contentLength: number;
  /**
   * The request asks for a protocol switch: an `Upgrade` field and `upgrade` listed in
   * `Connection` (RFC 9110 §7.8), in HTTP/1.1; or it is a `CONNECT`. Its connection then
   * parses nothing after it until the answer is known.
   */
  upgrade: boolean;
}

/** Returns why the head must be refused, or null; fills `facts` when given. */
export function checkRequestHead(
  method: string,
  target: string,
  versionMajor: number,
  versionMinor: number,
  raw: readonly string[],
  facts: HeadFacts | null,
): HeadRefusal | null {
  if (versionMajor !== 1 || (versionMinor !== 0 && versionMinor !== 1)) {
    return { status: 400, code: 'INVALID_VERSION', detail: `HTTP/${versionMajor}.${versionMinor} is not supported` };
  }
  const connect = method === 'CONNECT';
  if (connect) {
    if (!isAuthorityForm(target)) return { status: 400, code: 'INVALID_REQUEST_TARGET', detail: 'CONNECT needs an authority-form target (host:port)' };
  } else if (target.charCodeAt(0) !== 47 /* / */) {
    const refusal = checkTargetForm(method, target);
    if (refusal !== null) return refusal;
  }
  let hosts = 0;
  let hasBody = false;
  let length = -1;
  let coding: string | null = null;
  let expect: string | null = null;
  let upgradeField: string | null = null;
  let connection: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    switch (name.length) {
      case 4:
        if (equalsLower(name, 'host')) hosts++;
        break;
      case 6:
        if (equalsLower(name, 'expect')) expect = raw[i + 1] as string;
        break;
      case 7:
        if (equalsLower(name, 'upgrade')) upgradeField = upgradeField === null ? (raw[i + 1] as string) : upgradeField + ',' + (raw[i + 1] as string);
        break;
      case 10:
        if (equalsLower(name, 'connection')) connection = connection === null ? (raw[i + 1] as string) : connection + ',' + (raw[i + 1] as string);
        break;
      case 14:
        if (equalsLower(name, 'content-length')) {
          length = lengthValue(raw[i + 1] as string);
          if (!isZero(raw[i + 1] as string)) hasBody = true;
        }
        break;
      case 17:
        if (equalsLower(name, 'transfer-encoding')) {
          coding = raw[i + 1] as string;
          hasBody = true;
        }
        break;
      default:
        break;
    }
  }
  if (hosts > 1) return { status: 400, code: 'DUPLICATE_HOST', detail: 'more than one Host header' };
  if (hosts === 0 && versionMinor === 1) return { status: 400, code: 'MISSING_HOST', detail: 'HTTP/1.1 request without Host' };
  if (coding !== null) {
    if (versionMinor === 0) return { status: 400, code: 'TRANSFER_ENCODING_IN_HTTP10', detail: 'Transfer-Encoding in an HTTP/1.0 request' };
    const codings = coding.trim();
    if (!equalsLower(codings, 'chunked')) {
      const last = codings.slice(codings.lastIndexOf(',') + 1).trim();
      if (!equalsLower(last, 'chunked')) return { status: 400, code: 'INVALID_TRANSFER_ENCODING', detail: `Transfer-Encoding "${coding}" does not end in chunked` };
      return { status: 501, code: 'UNSUPPORTED_TRANSFER_CODING', detail: `transfer coding "${coding}" is not supported (only chunked)` };
    }
  }
  let expectContinue = false;
  if (expect !== null && versionMinor === 1) {
    if (!equalsLower(expect.trim(), '100-continue')) return { status: 417, code: 'EXPECTATION_FAILED', detail: `unsupported expectation "${expect}"` };
    expectContinue = hasBody;
  }
  if (facts !== null) {
    facts.hasBody = hasBody;
    facts.expectContinue = expectContinue;
    facts.contentLength = coding === null ? length : -1;
    facts.upgrade = connect || (upgradeField !== null && versionMinor === 1 && connection !== null && listsUpgrade(connection) && switchableUpgrade(upgradeField) !== null);
  }
  return null;
}

/** `host:port` (RFC 9112 §3.2.3): a reg-name, IPv4 or `[IPv6]`, and a port. */
const AUTHORITY_FORM = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+):[0-9]{1,5}$/;

function isAuthorityForm(target: string): boolean {
  return AUTHORITY_FORM.test(target);
}

/**
 * An `Upgrade` value without `h2c`, or null when nothing is left. HTTP/2 is reached by prior
 * knowledge or ALPN only (RFC 9113 §3.1 retired the h2c upgrade), so `Upgrade: h2c` is served
 * as plain HTTP/1.1: neither tunnelled nor passed on.
 */
export function switchableUpgrade(value: string): string | null {
  if (value.length < 3 || !value.toLowerCase().includes('h2c')) return value;
  const kept = value.split(',').map((t) => t.trim()).filter((t) => t.length > 0 && !equalsLower(t, 'h2c'));
  return kept.length === 0 ? null : kept.join(', ');
}

/**
 * Whether a request asks for a protocol switch a tunnel would carry: an `Upgrade` other than
 * `h2c`, and `upgrade` listed in `Connection`. Only asked when the peer is not HTTP/1.1.
 */
export function asksProtocolSwitch(raw: readonly string[]): boolean {
  let upgrade: string | null = null;
  let connection: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 7 && equalsLower(name, 'upgrade')) upgrade = raw[i + 1] as string;
    else if (name.length === 10 && equalsLower(name, 'connection')) connection = connection === null ? (raw[i + 1] as string) : connection + ',' + (raw[i + 1] as string);
  }
  return upgrade !== null && connection !== null && listsUpgrade(connection) && switchableUpgrade(upgrade) !== null;
}

/** Whether a `Connection` value lists `upgrade` (any case). */
function listsUpgrade(value: string): boolean {
  for (const part of value.split(',')) if (equalsLower(part.trim(), 'upgrade')) return true;
  return false;
}

/**
 * A Content-Length value llhttp accepted (digits, optional surrounding spaces) as a number, or
 * -1 when it has more than 15 digits (then llhttp counts the body, exactly).
 */
function lengthValue(v: string): number {
  let n = 0;
  let digits = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 15) return -1;
      n = n * 10 + (c - 48);
    } else if (c !== 32 && c !== 9) {
      return -1;
    }
  }
  return digits === 0 ? -1 : n;
}

/** A Content-Length value llhttp accepted (digits, optional surrounding spaces) that is 0. */
export function isZero(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 48 && c !== 32 && c !== 9) return false;
  }
  return true;
}
