#!/usr/bin/env bash
# Zero-downtime upgrades under load, end to end: a server with `threads: 2` (daemonized, as in
# production) in front of a test upstream; bounded load for 12 s from 127.0.0.1 (half the
# loops reuse keep-alive connections, half open a new connection per request); a 3-second
# request started before the first handoff; then `-u` + SIGQUIT, then SIGHUP. Prints
# `requests ok N / errors M` and exits non-zero on any error (or if the slow request, the pid
# file or the old processes are wrong).
#
#   scripts/upgrade-under-load.sh            (needs `pnpm build`)
#
# The server is the real load balancer (apps/load_balancer/dist/main.js); the test upstream
# answers at once, and `/slow` after 3 s.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LB="$ROOT/apps/load_balancer/dist/main.js"
LOAD_SECONDS=12
SLOW_MS=3000
WORK="$(mktemp -d /tmp/pingora-ts-upgrade.XXXXXX)"
CONF="$WORK/conf.yaml"
PID_FILE="$WORK/server.pid"
UPGRADE_SOCK="$WORK/upgrade.sock"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}" $(cat "$PID_FILE" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$LB" ] || { echo "$LB is missing: run pnpm build" >&2; exit 2; }

# The test upstream: the load balancer's one backend.
node -e '
  const s = require("node:http").createServer((req, res) => {
    if (req.url === "/slow") setTimeout(() => res.end("slow done"), 3000);
    else res.end("upstream");
  });
  s.listen(0, "127.0.0.1", () => console.log(s.address().port));
' > "$WORK/upstream.port" &
PIDS+=($!)
disown $! # killed in cleanup; no job notice
for _ in $(seq 50); do [ -s "$WORK/upstream.port" ] && break; sleep 0.1; done
UPSTREAM_PORT="$(cat "$WORK/upstream.port")"

# A free port, chosen up front: a daemon's stdout goes nowhere, so it cannot tell us later.
PORT="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"

write_conf() {
  cat > "$CONF" <<EOF
pid_file: $PID_FILE
upgrade_sock: $UPGRADE_SOCK
error_log: $WORK/error.log
threads: 2
grace_period_seconds: 5
graceful_shutdown_timeout_seconds: 5
access_log: false
services:
  - name: web
    listeners:
      - addr: 127.0.0.1:$PORT
    upstreams:
      backends: [127.0.0.1:$UPSTREAM_PORT]
      health_check: { type: tcp, interval_ms: 500 }
EOF
}

server_cmd() { node "$LB" -c "$CONF" "$@"; }

wait_pid_change() { # old pid -> prints the new pid from the pid file once it names a live process
  for _ in $(seq 200); do
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$pid" != "$1" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
    sleep 0.05
  done
  echo "the pid file never named a new process (still $(cat "$PID_FILE" 2>/dev/null))" >&2
  return 1
}

write_conf
server_cmd -d > "$WORK/start.out" 2>&1 || { cat "$WORK/start.out" >&2; exit 1; }
PID0="$(cat "$PID_FILE")"
echo "server pid $PID0 on 127.0.0.1:$PORT (upstream 127.0.0.1:$UPSTREAM_PORT)"

# The load: bounded in time, only to 127.0.0.1; prints one JSON line when done.
cat > "$WORK/load.cjs" <<'EOF'
const http = require('node:http');
const [port, seconds, slowAtMs] = process.argv.slice(2).map(Number);
const deadline = Date.now() + seconds * 1000;
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });
let ok = 0;
const errors = [];
function get(path, agent) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}
async function loop(i) {
  while (Date.now() < deadline) {
    const r = await get('/', i % 2 === 0 ? keepAlive : false);
    if (r.status === 200) ok++;
    else errors.push(r.status ? `status ${r.status}` : r.body);
  }
}
let slow;
setTimeout(() => {
  slow = get('/slow', false);
}, slowAtMs);
Promise.all(Array.from({ length: 8 }, (_, i) => loop(i))).then(async () => {
  const s = await slow;
  keepAlive.destroy();
  console.log(JSON.stringify({ ok, errors, slow: s }));
});
EOF
# The 3-second request starts at 1.5 s, before the first handoff at 2 s.
node "$WORK/load.cjs" "$PORT" "$LOAD_SECONDS" 1500 > "$WORK/load.out" &
LOAD=$!
PIDS+=($LOAD)

sleep 2
# -u + SIGQUIT: the new daemon waits on upgrade_sock; the old one hands its sockets over.
server_cmd -u -d > "$WORK/upgrade.out" 2>&1 &
UP=$!
PIDS+=($UP)
for _ in $(seq 100); do [ -S "$UPGRADE_SOCK" ] && break; sleep 0.05; done
kill -QUIT "$PID0"
wait "$UP" || { echo "-u failed: $(cat "$WORK/upgrade.out")" >&2; exit 1; }
PID1="$(wait_pid_change "$PID0")"
echo "-u + SIGQUIT: $PID0 -> $PID1"

sleep 3
kill -HUP "$PID1"
PID2="$(wait_pid_change "$PID1")"
echo "SIGHUP: $PID1 -> $PID2"

wait "$LOAD"
RESULT="$(cat "$WORK/load.out")"
node -e '
  const r = JSON.parse(process.argv[1]);
  console.log(`requests ok ${r.ok} / errors ${r.errors.length}`);
  if (r.errors.length) console.log(`first errors: ${[...new Set(r.errors)].slice(0, 5).join("; ")}`);
  console.log(`slow request: ${r.slow ? `${r.slow.status} ${r.slow.body}` : "never sent"}`);
' "$RESULT"

FAIL=0
node -e 'const r = JSON.parse(process.argv[1]); process.exit(r.errors.length === 0 && r.ok > 0 && r.slow && r.slow.status === 200 ? 0 : 1)' "$RESULT" || FAIL=1
for _ in $(seq 100); do kill -0 "$PID0" 2>/dev/null || kill -0 "$PID1" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID0" 2>/dev/null || kill -0 "$PID1" 2>/dev/null; then echo "an old generation is still running" >&2; FAIL=1; fi
[ "$(cat "$PID_FILE")" = "$PID2" ] || { echo "the pid file does not name the live process $PID2" >&2; FAIL=1; }

kill -TERM "$PID2"
for _ in $(seq 100); do kill -0 "$PID2" 2>/dev/null || break; sleep 0.1; done
exit $FAIL
