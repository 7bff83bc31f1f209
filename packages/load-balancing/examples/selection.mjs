// Selection algorithms without any server: Ketama sends a key to the same backend every time
// and, when a backend leaves, moves only its keys; LeastConn sends a request to the backend
// with the fewest in flight, as reported with requestStarted / requestEnded.
// Run: node examples/selection.mjs (after `pnpm build`)
import { Backend, Ketama, LeastConn, LoadBalancer } from '@pingora-ts/load-balancing';

const backends = ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'].map((addr) => new Backend(addr));

// Consistent hashing: the key (a user, a URI, a cookie) picks the backend.
const hashed = LoadBalancer.fromBackends(backends, { selection: new Ketama() });
for (const user of ['ann', 'bob', 'cyd', 'dan']) console.log(`${user} -> ${hashed.select(user, 1).addr}`);

const keys = Array.from({ length: 10000 }, (_, i) => `/item/${i}`);
const before = keys.map((k) => hashed.select(k, 1));
hashed.backends().setEnabled(backends[1], false); // 10.0.0.2 leaves (disabled, or unhealthy)
const after = keys.map((k) => hashed.select(k, 1));
let moved = 0;
let itsOwn = 0;
for (let i = 0; i < keys.length; i++) {
  if (after[i] === before[i]) continue;
  moved++;
  if (before[i] === backends[1]) itsOwn++;
}
console.log(`10.0.0.2 left: ${moved} of ${keys.length} keys moved, ${itsOwn} of them its own`);

// Least connections: report each request's start and end, and the idle backend gets the next one.
const leastConn = LoadBalancer.fromBackends(backends, { selection: new LeastConn() });
const slow = leastConn.select('', 1);
leastConn.requestStarted(slow); // a slow request holds this backend
for (let i = 0; i < 4; i++) {
  const b = leastConn.select('', 1);
  leastConn.requestStarted(b);
  console.log(`request ${i + 1} -> ${b.addr}`);
  leastConn.requestEnded(b, 'ok', 12); // its response came after 12 ms
}
console.log(`in flight on ${slow.addr}: ${leastConn.load.inflight(slow)}`);
leastConn.requestEnded(slow, 'ok', 900);
console.log(`in flight on ${slow.addr} after it ended: ${leastConn.load.inflight(slow)}`);
