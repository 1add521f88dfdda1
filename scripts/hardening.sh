#!/usr/bin/env bash
# Prints the issue #9 figures against a release server behind TRUSTED_PROXIES=127.0.0.1
# (so X-Forwarded-For names each client), on SQLite and on PostgreSQL.
# Then runs scripts/fuzz.sh per backend and prints its findings.
# Usage: ./scripts/hardening.sh   (HARDENING_BACKENDS="sqlite postgres" by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "build the release API"
cargo build --release --locked -p phonereg-api --bin phonereg-api >/dev/null
BIN=$PWD/target/release/phonereg-api
WORK=$(mktemp -d)
PORT=${HARDENING_PORT:-18089}
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

run_backend() {
  local backend=$1 url
  case $backend in
    sqlite) url="sqlite://$WORK/hardening.db" ;;
    postgres) start_postgres; url=$(fresh_test_database phonereg_hardening) ;;
  esac
  step "$backend"
  DATABASE_URL=$url BIND=127.0.0.1:$PORT TRUSTED_PROXIES=127.0.0.1 DATA_DIR=$WORK/data \
    STATIC_DIR=$WORK/none RUST_LOG=warn OUTBOX_WORKER=true "$BIN" 2>"$WORK/$backend.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  python3 scripts/hardening_figures.py "http://127.0.0.1:$PORT" "$backend"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

for backend in ${HARDENING_BACKENDS:-sqlite postgres}; do run_backend "$backend"; done

# 7. schemathesis against openapi.yaml (scripts/fuzz.sh: not-a-server-error, status-code,
# content-type and response-schema conformance, authenticated).
step "schemathesis"
for backend in ${HARDENING_BACKENDS:-sqlite postgres}; do
  out="$WORK/fuzz-$backend.txt"
  cases=0
  if FUZZ_BACKENDS=$backend scripts/fuzz.sh >"$out" 2>&1; then ok=met; else ok=MISSED; fi
  for n in $(sed -n 's/^ *\([0-9]*\) generated.*/\1/p' "$out"); do cases=$((cases + n)); done
  findings=$(grep -cE '^_{3,} .* _{3,}$' "$out" || true)
  echo "  schemathesis findings on $backend: $findings in $cases generated cases  [$ok]"
  [ "$ok" = met ] || tail -60 "$out"
done
