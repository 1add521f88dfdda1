#!/usr/bin/env bash
# SPEC §11 "Bounded storage": a prune of millions of counter rows must leave a write's
# p99 within 2x quiet. Measures send-code (POST …/verification, every SMS limit on) on
# SQLite with wrk twice: quiet, then right after a restart over PRUNE_ROWS counter rows
# whose windows ended days ago (every process prunes at start-up, so the run overlaps
# the prune). Prints both p99s, how long the prune took and PASS or MISS.
#
#   scripts/prune_bench.sh                      # 5 000 000 rows, 10 s per run
#   PRUNE_ROWS=1000000 PRUNE_SECONDS=5 scripts/prune_bench.sh
#   PRUNE_PROFILE=debug scripts/prune_bench.sh  # the debug build (no release build here)
#
# Not a timed test: figures depend on the machine. The last figures are in
# docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need wrk
need sqlite3
need curl

PRUNE_ROWS=${PRUNE_ROWS:-5000000}
PRUNE_SECONDS=${PRUNE_SECONDS:-10}
PRUNE_PROFILE=${PRUNE_PROFILE:-release}
CONNS=16
THREADS=2
ACCOUNTS=${PRUNE_ACCOUNTS:-20000}   # per run: each request is for its own record
TARGET=${CARGO_TARGET_DIR:-target}

WORK=$(mktemp -d /tmp/phonereg-prune.XXXXXX)
SERVER_PID=""
cleanup() {
  local status=$?
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -f "$WORK"/*.db "$WORK"/*.db-wal "$WORK"/*.db-shm
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "building ($PRUNE_PROFILE)"
flag=(); [ "$PRUNE_PROFILE" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p phonereg-api --bin phonereg-api --bin bench-seed
# Copies: a shared target directory may be rebuilt by someone else meanwhile.
cp "$TARGET/$PRUNE_PROFILE/phonereg-api" "$TARGET/$PRUNE_PROFILE/bench-seed" "$WORK/"

DB="$WORK/prune.db"
URL="sqlite://$DB"
JWT_SECRET="prune-bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export JWT_SECRET

start_server() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env DATABASE_URL="$URL" BIND="127.0.0.1:$port" PHONEREG_ENV=development \
    DATA_DIR="$WORK/data" RUST_LOG="warn,phonereg_api::startup=debug" NO_COLOR=1 \
    ACCESS_TOKEN_TTL=86400 REGISTER_PER_IP_PER_HOUR=1000000000 SMS_PROVIDER=console \
    SMS_PER_IP_PER_HOUR=1000000000 SMS_DAILY_BUDGET=1000000000 \
    SMS_FRAUD_RANGE_FLOOR=1000000000 SMS_FRAUD_COUNTRY_FLOOR=1000000000 \
    SMS_FRAUD_GLOBAL_UNVERIFIED=1000000000 \
    "$WORK/phonereg-api" >"$WORK/server-$1.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$1.log" >&2; fail "server exited"; }
    sleep 0.1
  done
  fail "server did not start"
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# run NAME RECORDS: wrk over send-code; prints the p99 in ms.
run() {
  BENCH_LUA_DIR="$PWD/scripts/bench" wrk -t"$THREADS" -c"$CONNS" -d"${PRUNE_SECONDS}s" \
    -s scripts/bench/send_code.lua "$BASE/api/v1/users/me/phone-numbers" -- "$2" "$THREADS" \
    >"$WORK/wrk-$1.txt" 2>&1
  local line
  line=$(grep '^BENCH ' "$WORK/wrk-$1.txt") || { cat "$WORK/wrk-$1.txt" >&2; fail "wrk $1"; }
  echo "$line" >"$WORK/bench-$1.txt"
  awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^p99_us=/) { split($i, a, "="); printf "%.2f", a[2] / 1000 } }' <<<"$line"
}
field() { grep -o "$2=[0-9]*" "$WORK/bench-$1.txt" | cut -d= -f2; }

step "seeding $((2 * ACCOUNTS)) accounts"
start_server setup
curl -fsS -o /dev/null -H 'content-type: application/json' "$BASE/api/v1/auth/register" \
  -d '{"email":"login@example.com","password":"benchmark password","full_name":"Bench"}'
stop_server
AREAS="415 212 646 718 312 617 206 303 404 512"
for group in quiet busy; do
  "$WORK/bench-seed" --database-url "$URL" --count "$ACCOUNTS" --prefix "$group" \
    --login-email login@example.com --area-codes "$AREAS" --records "$WORK/$group.records" \
    --tokens "$WORK/$group.tokens" >/dev/null
  AREAS="510 650 713 714 773 818 858 917 919 925"
done

step "quiet: send-code for ${PRUNE_SECONDS}s"
start_server quiet
QUIET=$(run quiet "$WORK/quiet.tokens")
stop_server

step "seeding $PRUNE_ROWS counter rows of windows that ended days ago"
started=$(date +%s)
"$WORK/bench-seed" --database-url "$URL" --count 0 --prefix none --login-email login@example.com \
  --area-codes 415 --records /dev/null --old-counters "$PRUNE_ROWS" >/dev/null
echo "seeded in $(( $(date +%s) - started ))s"

step "during the prune: send-code for ${PRUNE_SECONDS}s"
start_server busy
prune_started=$(date +%s.%N)
BUSY=$(run busy "$WORK/busy.tokens")
left=$(sqlite3 "$DB" "SELECT count(*) FROM rate_counters WHERE key LIKE 'bench_old:%'")
# The prune's end, from the server's debug line (or still running when wrk ended).
for _ in $(seq 1 600); do
  grep -q 'pruned expired rows' "$WORK/server-busy.log" && break
  sleep 0.5
done
prune_took=$(awk -v s="$prune_started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')
stop_server

ratio=$(awk -v q="$QUIET" -v b="$BUSY" 'BEGIN { printf "%.2f", b / q }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 2.0) ? "PASS" : "MISS" }')
echo
echo "rows pruned: $PRUNE_ROWS (old rows left when the busy run ended: $left; prune done about ${prune_took}s after start-up)"
echo "send-code p99 quiet:        ${QUIET} ms ($(field quiet requests) requests, $(field quiet non2xx) non-2xx)"
echo "send-code p99 during prune: ${BUSY} ms ($(field busy requests) requests, $(field busy non2xx) non-2xx)"
echo "ratio ${ratio} (target <= 2.0): $verdict"
echo "logs: $WORK"
