#!/usr/bin/env bash
# SPEC §8 from outside: a release build with the console SMS provider, on SQLite and on
# PostgreSQL, driven by scripts/credential_client.py, which knows only SPEC.md (codes come
# from the development inbox). It signs in by code, resets a password, turns the second
# factor on, logs in with it and turns it off, and checks that a number with an account
# answers exactly like one without.
#
#   scripts/credential.sh                  # both backends
#   CREDENTIAL_BACKENDS=sqlite scripts/credential.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need cargo
need python3
need curl

BACKENDS=${CREDENTIAL_BACKENDS:-sqlite postgres}
WORK=$(mktemp -d /tmp/phonereg-credential.XXXXXX)
PID=""
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

step "building the release API"
cargo build --release --locked -p phonereg-api --bin phonereg-api

for backend in $BACKENDS; do
  step "$backend"
  if [ "$backend" = postgres ]; then
    start_postgres
    DB=$(fresh_test_database phonereg_credential)
  else
    DB="sqlite://$WORK/credential.db"
  fi
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Defaults everywhere, but every request comes from 127.0.0.1: the per-IP SMS caps
  # (claims, and SPEC §10's starts) are raised so the client's dozen accounts and its
  # timing starts fit in one hour.
  env DATABASE_URL="$DB" BIND="127.0.0.1:$PORT" PUBLIC_URL="http://127.0.0.1:$PORT" \
    DATA_DIR="$WORK/data-$backend" RUST_LOG=warn NO_COLOR=1 SMS_PROVIDER=console \
    SMS_PER_IP_PER_HOUR=1000 SMS_STARTS_PER_IP_PER_HOUR=1000 \
    target/release/phonereg-api >"$WORK/server-$backend.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" \
    || { cat "$WORK/server-$backend.log"; fail "the API did not start"; }
  python3 scripts/credential_client.py "http://127.0.0.1:$PORT" | sed "s/^/$backend: /"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done
echo "logs in $WORK"
