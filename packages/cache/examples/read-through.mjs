// A MemoryCache bounded by bytes, and an RTCache in front of a slow lookup: 100 concurrent
// requests for one user make one lookup, and a stale value is served while it refreshes.
import { MemoryCache, RTCache, withTtl } from '@pingora-ts/cache';

const sessions = new MemoryCache({ maxBytes: 1_000_000, sizeOf: (value) => value.length, ttlMs: 60_000 });
sessions.set('alice', 'token-1');
console.log('session of alice:', sessions.get('alice'));
console.log('session of bob:', sessions.get('bob'));

let lookups = 0;
async function loadUser(id) {
  lookups++;
  await new Promise((resolve) => setTimeout(resolve, 50)); // a slow database
  return withTtl({ id, name: `user ${id}`, version: lookups }, 100);
}

const users = new RTCache({ maxEntries: 10_000, staleWhileRevalidateMs: 5_000, lockTimeoutMs: 1_000 });
const answers = await Promise.all(Array.from({ length: 100 }, () => users.get(42, loadUser)));
console.log(`100 concurrent gets: ${lookups} lookup, version ${answers[0].version} for all: ${answers.every((u) => u === answers[0])}`);

await new Promise((resolve) => setTimeout(resolve, 150)); // the value expires after 100 ms
const stale = await users.get(42, loadUser);
console.log(`after its TTL: served version ${stale.version} at once, refreshing in the background`);
await new Promise((resolve) => setTimeout(resolve, 100));
const fresh = await users.get(42, loadUser);
console.log(`then: version ${fresh.version}, ${lookups} lookups in all`);
const { hits, staleHits, lockHits, lookups: n } = users.stats();
console.log(`stats: hits=${hits} staleHits=${staleHits} lockHits=${lockHits} lookups=${n}`);
