import { rootCertificates } from 'node:tls';
import { silentLogger, type Logger } from '@pingora-ts/core';
import {
  GrpcHealthCheck,
  HttpHealthCheck,
  LoadBalancer,
  RoundRobin,
  TcpHealthCheck,
  TlsHealthCheck,
  type Backends,
  type HealthCheck,
  type StatusRange,
} from '@pingora-ts/load-balancing';
import { HASHING_SELECTIONS, type HealthCheckConf, type UpstreamsConf } from './lb-conf';
import type { UpstreamTrust } from './lb-proxy';
import { selectionFor } from './selection-for';
import { upstreamBackends } from './upstream-discovery';

/**
 * A service's `LoadBalancer` from its `upstreams` config: backends, selection, passive health
 * and the active health check with its interval, jitter and concurrency. `logger` is given
 * where flips are logged (the process that runs the checks); `trust` is the extra CAs of
 * `ca_file` / `tls.ca_path`, which TLS checks trust beside Node's defaults as the proxy does.
 * `backends`: where the list comes from (`upstreamBackends`); by default the config's own, as
 * the process that runs discovery sees it.
 */
export function buildLoadBalancer(up: UpstreamsConf, opts: { logger?: Logger; trust?: UpstreamTrust; backends?: Backends } = {}): LoadBalancer {
  const backends = opts.backends ?? upstreamBackends(up, true, opts.logger ?? silentLogger);
  const p = up.passive_health;
  const lb = new LoadBalancer(backends, {
    selection: selectionFor(up.selection),
    // A request without the hash key is not sent to one backend: round robin picks for it.
    ...(HASHING_SELECTIONS.has(up.selection) ? { keylessSelection: new RoundRobin() } : {}),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(p === undefined
      ? {}
      : {
          passiveHealth: {
            consecutive5xx: p.consecutive_5xx,
            consecutiveConnectErrors: p.consecutive_connect_errors,
            baseEjectionMs: p.base_ejection_ms,
            maxEjectionMs: p.max_ejection_ms,
            maxEjectionPercent: p.max_ejection_percent,
          },
        }),
  });
  const hc = up.health_check;
  if (hc !== undefined) {
    lb.setHealthCheck(healthCheckOf(hc, up, opts.trust));
    lb.healthCheckFrequencyMs = hc.interval_ms;
    lb.healthCheckJitterPercent = hc.jitter_percent;
    lb.healthCheckConcurrency = hc.concurrency;
  }
  return lb;
}

/**
 * The check for `health_check`. `http` and `grpc` speak TLS when the service's upstreams do;
 * TLS checks take their SNI and verification from `upstreams.tls` unless `sni` / `verify` say
 * otherwise.
 */
export function healthCheckOf(hc: HealthCheckConf, up: UpstreamsConf, trust?: UpstreamTrust): HealthCheck {
  const common = { consecutiveSuccess: hc.consecutive_success, consecutiveFailure: hc.consecutive_failure };
  const tls = up.tls;
  const sni = hc.sni ?? (tls !== undefined && tls.sni !== '' ? tls.sni : undefined);
  // As the proxy does: verify_hostname false still checks the chain (unless verify_cert is false too).
  const verify = hc.verify ?? (tls === undefined ? true : tls.verify_cert);
  const secure = {
    verify,
    ...(hc.verify === undefined && tls !== undefined && !tls.verify_hostname ? { verifyHostname: false } : {}),
    ...(sni === undefined ? {} : { sni }),
    ...(trust === undefined ? {} : { ca: [...rootCertificates, trust.pem] }),
  };
  switch (hc.type) {
    case 'tcp':
      return new TcpHealthCheck({ ...common, connectTimeoutMs: hc.timeout_ms });
    case 'tls':
      return new TlsHealthCheck({ ...common, timeoutMs: hc.timeout_ms, ...secure });
    case 'http':
      return new HttpHealthCheck({
        ...common,
        timeoutMs: hc.timeout_ms,
        ...(hc.method === undefined ? {} : { method: hc.method }),
        ...(hc.path === undefined ? {} : { path: hc.path }),
        ...(hc.host === undefined ? {} : { host: hc.host }),
        ...(hc.expect_status === undefined ? {} : { expectStatus: expectStatus(hc.expect_status) }),
        ...(hc.expect_body === undefined ? {} : { expectBody: hc.expect_body }),
        ...(tls === undefined ? {} : { tls: true, ...secure }),
      });
    case 'grpc':
      return new GrpcHealthCheck({
        ...common,
        timeoutMs: hc.timeout_ms,
        service: hc.grpc_service ?? '',
        ...(tls === undefined ? {} : { tls: true, ...secure }),
      });
  }
}

/** `"200-399"`, `"204"` or a list (the schema checked the form). */
function expectStatus(v: string | number[]): StatusRange | number[] {
  if (Array.isArray(v)) return v;
  const [lo, hi] = v.split('-');
  return { min: Number(lo), max: Number(hi ?? lo) };
}
