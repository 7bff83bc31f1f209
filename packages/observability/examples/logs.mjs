// An error log and an access log, as the load balancer writes them.
//   node logs.mjs [dir]      (writes dir/error.log and dir/access.log; default: a temp dir)
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLogger, createErrorLogger } from '@pingora-ts/observability';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'pingora-ts-logs-'));
const errors = createErrorLogger({ path: join(dir, 'error.log'), base: { service: 'web' } });
const access = new AccessLogger({ path: join(dir, 'access.log') });

errors.info({ addr: '127.0.0.1:6188' }, 'listening');
errors.warn({ backend: '127.0.0.1:8002' }, 'backend unhealthy');
access.log({ method: 'GET', path: '/', status: 200, bytes: 43, durationMs: 1.2, upstream: '127.0.0.1:8001', reused: true });
access.log({ method: 'GET', path: '/x', status: 502, bytes: 21, durationMs: 0.4, upstream: null, reused: null, error: 'NoHealthyUpstream' });
await access.flush(); // the access log is buffered; the error log is written line by line

process.stdout.write(readFileSync(join(dir, 'error.log'), 'utf8'));
process.stdout.write(readFileSync(join(dir, 'access.log'), 'utf8'));
