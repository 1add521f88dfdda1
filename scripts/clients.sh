#!/usr/bin/env bash
# The TypeScript client (clients/typescript) against a live server: installs its npm
# packages (package-lock.json), generates src/schema.ts from today's openapi.yaml (never
# committed, so it cannot go stale), type-checks and builds the package and its test against
# it, starts a debug phonereg-api (SQLite in a temp dir, the console
# SMS provider, whose development inbox the test reads codes from) on a free loopback port,
# and runs the package's own test: sign up -> verify -> change the number -> history.
# Usage: scripts/clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need npm
pkg=clients/typescript
if ! cmp -s "$pkg/package-lock.json" "$pkg/node_modules/.installed-lock.json"; then
  step "installing the TypeScript client's packages ($pkg/package-lock.json)"
  (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$pkg/package-lock.json" "$pkg/node_modules/.installed-lock.json"
fi

step "TypeScript client: types generated from openapi.yaml, then tsc"
(cd "$pkg" && rm -rf dist && npm run --silent build)

step "building the API (debug)"
cargo build --locked -p phonereg-api --bin phonereg-api
bin="${CARGO_TARGET_DIR:-target}/debug/phonereg-api"

work=$(mktemp -d)
pid=
cleanup() {
  local status=$?
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  if [ "$status" -ne 0 ] && [ -f "$work/api.log" ]; then
    echo "--- last lines of the API log ---" >&2
    tail -n 30 "$work/api.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base_url="http://127.0.0.1:$port"
PHONEREG_ENV=development BIND="127.0.0.1:$port" PUBLIC_URL="$base_url" \
  DATABASE_URL="sqlite://$work/client.db" DATA_DIR="$work/data" STATIC_DIR="$work/none" \
  SMS_PROVIDER=console RUST_LOG="${RUST_LOG:-warn}" \
  "$bin" >"$work/api.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$base_url/healthz" && break
  kill -0 "$pid" 2>/dev/null || fail "the API exited while starting"
  sleep 0.1
done

step "TypeScript client test against $base_url"
(cd "$pkg" && PHONEREG_BASE_URL="$base_url" node --test --test-reporter=spec dist/test/flow.test.js)
