/**
 * GrpcHealthCheck against a real @grpc/grpc-js server implementing grpc.health.v1.Health,
 * with the messages compiled from health.proto by @grpc/proto-loader (so the hand-made
 * encoding in the check is tested against a real protobuf codec).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { ProxyError } from '@pingora-ts/core';
import { Backend, GrpcHealthCheck, LoadBalancer } from '@pingora-ts/load-balancing';
import { decodeHealthCheckResponse, encodeHealthCheckRequest } from '../src/health/grpc-health-check';
import { Resources } from '../../../test-support/resources';
import { selfSignedCert } from './helpers/cert';

const res = new Resources();
afterEach(() => res.closeAll());

const definition = protoLoader.loadSync(join(__dirname, 'fixtures', 'health.proto'), { enums: String, defaults: true });
const healthProto = grpc.loadPackageDefinition(definition) as unknown as {
  grpc: { health: { v1: { Health: { service: grpc.ServiceDefinition } } } };
};
const HealthService = healthProto.grpc.health.v1.Health.service;

type Status = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';

/** A gRPC server whose per-service status the test flips; an unknown service is NOT_FOUND. */
async function healthServer(creds = grpc.ServerCredentials.createInsecure()) {
  const statuses = new Map<string, Status>([['', 'SERVING']]);
  const asked: string[] = [];
  const server = new grpc.Server();
  server.addService(HealthService, {
    check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<{ status: Status }>) => {
      asked.push(call.request.service);
      const status = statuses.get(call.request.service);
      if (status === undefined) return cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
      cb(null, { status });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  res.defer(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  res.defer(() => server.forceShutdown());
  return { addr: `127.0.0.1:${port}`, statuses, asked, server };
}

async function failure(p: Promise<void>): Promise<ProxyError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(ProxyError.isProxyError(err)).toBe(true);
  return err as ProxyError;
}

describe('GrpcHealthCheck', () => {
  it('encodes HealthCheckRequest and decodes HealthCheckResponse as protobuf does', () => {
    expect(encodeHealthCheckRequest('')).toEqual(Buffer.alloc(0));
    expect(encodeHealthCheckRequest('db')).toEqual(Buffer.from([0x0a, 2, 0x64, 0x62]));
    const long = 'x'.repeat(200);
    expect(encodeHealthCheckRequest(long).subarray(0, 3)).toEqual(Buffer.from([0x0a, 0xc8, 0x01]));
    const framed = (bytes: number[]) => Buffer.from([0, 0, 0, 0, bytes.length, ...bytes]);
    expect(decodeHealthCheckResponse(framed([]))).toBe(0); // proto3: absent is UNKNOWN
    expect(decodeHealthCheckResponse(framed([0x08, 1]))).toBe(1);
    expect(decodeHealthCheckResponse(framed([0x12, 1, 0x41, 0x08, 2, 0x1d, 0, 0, 0, 0]))).toBe(2); // unknown fields skipped
    expect(decodeHealthCheckResponse(framed([0x08]))).toMatch(/malformed/);
    expect(decodeHealthCheckResponse(Buffer.from([1, 0, 0, 0, 0]))).toMatch(/compressed/);
  });

  it('is healthy while the server says SERVING, for the whole server and for a named service', async () => {
    const s = await healthServer();
    s.statuses.set('shop.Cart', 'SERVING');
    await new GrpcHealthCheck().check(new Backend(s.addr));
    await new GrpcHealthCheck({ service: 'shop.Cart' }).check(new Backend(s.addr));
    expect(s.asked).toEqual(['', 'shop.Cart']);
  });

  it('fails NOT_SERVING, an unknown service (grpc-status 5) and a server that is not gRPC', async () => {
    const s = await healthServer();
    s.statuses.set('shop.Cart', 'NOT_SERVING');
    const down = await failure(new GrpcHealthCheck({ service: 'shop.Cart' }).check(new Backend(s.addr)));
    expect([down.kind, down.context]).toEqual(['InvalidHTTPResponse', s.addr]);
    expect(down.message).toBe(`gRPC health check of ${s.addr} (service "shop.Cart"): status NOT_SERVING, expected SERVING`);
    const unknown = await failure(new GrpcHealthCheck({ service: 'nope' }).check(new Backend(s.addr)));
    expect(unknown.message).toBe(`gRPC health check of ${s.addr} (service "nope"): grpc-status 5 (NOT_FOUND): unknown service nope`);

    const http1 = await res.httpServer((_q, r) => r.end('hello'));
    const notGrpc = await failure(new GrpcHealthCheck({ timeoutMs: 500 }).check(new Backend(http1.address)));
    expect(notGrpc.message).toMatch(new RegExp(`^gRPC health check of ${http1.address}`));
  });

  it('fails refused and a server that never answers, each with its own kind', async () => {
    const port = await res.refusedPort();
    const refused = await failure(new GrpcHealthCheck().check(new Backend(`127.0.0.1:${port}`)));
    expect(refused.kind).toBe('ConnectRefused');
    expect(refused.message).toBe(`gRPC health check of 127.0.0.1:${port} failed: connection refused`);

    const http2 = await import('node:http2');
    const silent = res.track(http2.createServer(() => {})); // takes the call, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    const timeout = await failure(new GrpcHealthCheck({ timeoutMs: 150 }).check(new Backend(addr)));
    expect(timeout.kind).toBe('ReadTimedout');
    expect(timeout.message).toBe(`gRPC health check of ${addr}: timed out after 150 ms waiting for the answer`);
  });

  it('speaks TLS: verified with ca, and an untrusted certificate fails', async () => {
    const { key, cert } = selfSignedCert();
    const s = await healthServer(grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(cert), private_key: Buffer.from(key) }]));
    await new GrpcHealthCheck({ tls: true, ca: cert }).check(new Backend(s.addr));
    await new GrpcHealthCheck({ tls: true, ca: cert, sni: 'backend.test' }).check(new Backend(s.addr));
    const untrusted = await failure(new GrpcHealthCheck({ tls: true }).check(new Backend(s.addr)));
    expect(untrusted.kind).toBe('ConnectError');
    expect(untrusted.message).toMatch(/self[- ]signed/i);
    await new GrpcHealthCheck({ tls: true, verify: false }).check(new Backend(s.addr));
  });

  it('takes a backend out when it flips NOT_SERVING and back when it serves again', async () => {
    const s = await healthServer();
    const lb = LoadBalancer.fromBackends([s.addr], { healthCheck: new GrpcHealthCheck({ consecutiveFailure: 1, consecutiveSuccess: 2 }) });
    const events: boolean[] = [];
    lb.on('health', (_b, healthy) => events.push(healthy));
    await lb.runHealthCheck();
    s.statuses.set('', 'NOT_SERVING');
    await lb.runHealthCheck();
    expect(lb.backends().ready(s.addr)).toBe(false);
    s.statuses.set('', 'SERVING');
    await lb.runHealthCheck();
    expect(lb.backends().ready(s.addr)).toBe(false);
    await lb.runHealthCheck();
    expect(lb.backends().ready(s.addr)).toBe(true);
    expect(events).toEqual([false, true]);
  });
});
