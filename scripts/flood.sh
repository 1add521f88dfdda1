#!/usr/bin/env bash
# SPEC §11 bounded work: 3 000 refused requests from one client, 64 at once, against a
# release build on its defaults (SQLite, console SMS) behind a trusted proxy, while
# another client's password logins are timed (scripts/flood.py). Prints quiet and
# under-flood medians and p99s and PASS/MISS against "within 3x quiet".
#
#   scripts/flood.sh                                   # builds target/release (or $CARGO_TARGET_DIR)
#   FLOOD_BINARY=/path/to/phonereg-api scripts/flood.sh   # a binary already built
#   FLOOD_REQUESTS=3000 FLOOD_CONCURRENCY=64 FLOOD_DATABASE_URL=postgres://… scripts/flood.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need python3
need curl

BIN=${FLOOD_BINARY:-}
if [[ -z "$BIN" ]]; then
  need cargo
  step "building the release API"
  cargo build --release --locked -p phonereg-api --bin phonereg-api
  BIN="${CARGO_TARGET_DIR:-target}/release/phonereg-api"
fi
[[ -x "$BIN" ]] || fail "no API binary at $BIN"

WORK=$(mktemp -d /tmp/phonereg-flood.XXXXXX)
PID=
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DB=${FLOOD_DATABASE_URL:-sqlite://$WORK/flood.db}
env DATABASE_URL="$DB" BIND="127.0.0.1:$PORT" PUBLIC_URL="http://127.0.0.1:$PORT" \
  DATA_DIR="$WORK/data" RUST_LOG=warn NO_COLOR=1 TRUSTED_PROXIES=127.0.0.1 \
  SMS_PROVIDER=console "$BIN" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" || { cat "$WORK/server.log"; fail "the API did not start"; }

step "flood ($("$BIN" --version 2>/dev/null || echo phonereg-api), commit $(git rev-parse --short HEAD))"
python3 scripts/flood.py "http://127.0.0.1:$PORT" "${FLOOD_REQUESTS:-3000}" "${FLOOD_CONCURRENCY:-64}"
echo "server log: $WORK/server.log"
