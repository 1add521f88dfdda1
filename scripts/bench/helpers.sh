# Sourced by scripts/bench.sh: cleanup, server and wrk helpers. Reads the settings bench.sh
# sets before sourcing it.

# ---------------------------------------------------------------- cleanup -------------
# Whatever happens (failure, Ctrl-C), no server or wrk is left running and no database
# is left behind; logs stay in $WORK for a look afterwards.
SERVER_PID=""
FAKE_PID=""
RECEIVER_PID=""
WRK_PIDS=()
PG_DB=""
cleanup() {
  local status=$?
  for pid in "${WRK_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_server
  stop_fake
  if [ -n "$RECEIVER_PID" ]; then kill "$RECEIVER_PID" 2>/dev/null || true; fi
  rm -f "$WORK"/*.db "$WORK"/*.db-wal "$WORK"/*.db-shm
  if [ -n "$PG_DB" ]; then as_postgres dropdb -p "$PG_PORT" --if-exists --force "$PG_DB" >/dev/null 2>&1 || true; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  # The server drains for up to 10 s on SIGTERM; nothing is in flight here, so this is quick.
  for _ in $(seq 1 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

stop_fake() {
  [ -n "$FAKE_PID" ] || return 0
  kill -TERM "$FAKE_PID" 2>/dev/null || true
  wait "$FAKE_PID" 2>/dev/null || true
  FAKE_PID=""
}

# ---------------------------------------------------------------- helpers -------------
# awk does the floating-point arithmetic bash lacks.
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
is_true() { awk "BEGIN { exit !($1) }"; }

# start_fake BACKEND: starts a fresh fake Twilio on a free port; sets FAKE_PID and FAKE_BASE.
start_fake() {
  local log="$WORK/fake-twilio-$1.log"
  TWILIO_ACCOUNT_SID="$TWILIO_SID" TWILIO_AUTH_TOKEN="$TWILIO_TOKEN" \
    "$BIN"/fake-twilio 0 >"$log" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 1 100); do
    kill -0 "$FAKE_PID" 2>/dev/null || { cat "$log" >&2; FAKE_PID=""; fail "the fake Twilio exited during start-up"; }
    FAKE_BASE=$(head -1 "$log" 2>/dev/null || true)
    if [[ "$FAKE_BASE" == http://* ]] && curl -fsS -o /dev/null "$FAKE_BASE/_fake/messages" 2>/dev/null; then
      echo "fake Twilio pid $FAKE_PID on $FAKE_BASE"
      return 0
    fi
    sleep 0.1
  done
  fail "the fake Twilio was not ready within 10 s"
}

# A free loopback port: PUBLIC_URL must name the server's port before it starts.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server BACKEND DATABASE_URL: starts the release server, sets SERVER_PID, BASE and
# JWT_SECRET (the bench signs the seeded accounts' tokens with it).
start_server() {
  local log="$WORK/server-$1.log" port
  JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  for _ in 1 2 3; do
    port=$(free_port)
    # Rate limits raised so the benchmark measures the work, not the refusals (login,
    # registration, lookup; for SMS only the per-IP cap and the budget, see the top); a
    # long access-token TTL so long BENCH_SECONDS runs don't turn into 401s; NO_COLOR
    # keeps the log greppable. SMS go to the fake Twilio.
    # shellcheck disable=SC2086 # the SMS_LIMITS_* lists are NAME=value words
    env DATABASE_URL="$2" BIND="127.0.0.1:$port" PHONEREG_ENV=development \
      JWT_SECRET="$JWT_SECRET" \
      DATA_DIR="$WORK/data" RUST_LOG=warn NO_COLOR=1 ACCESS_TOKEN_TTL=86400 \
      LOGIN_PER_IP=1000000000 REGISTER_PER_IP_PER_HOUR=1000000000 \
      LOGIN_FAILURES_PER_EMAIL=1000000000 LOOKUP_PER_IP_PER_MINUTE=1000000000 \
      SMS_PROVIDER=twilio TWILIO_API_BASE="$FAKE_BASE" TWILIO_ACCOUNT_SID="$TWILIO_SID" \
      TWILIO_AUTH_TOKEN="$TWILIO_TOKEN" TWILIO_FROM=+15005550006 \
      PUBLIC_URL="http://127.0.0.1:$port" $SMS_LIMITS_KEPT $SMS_LIMITS_RAISED \
      ${BENCH_WEBHOOK:+ADMIN_TOKEN=$BENCH_ADMIN_TOKEN WEBHOOK_ALLOW_PRIVATE=true} ${BENCH_SERVER_ENV:-} \
      "$BIN"/phonereg-api >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 150); do
      if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
        # Someone took the port between free_port and the bind: try another.
        grep -qi 'address already in use' "$log" && continue 2
        cat "$log" >&2
        fail "the $1 server exited during start-up"
      fi
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
        BASE="http://127.0.0.1:$port"
        echo "server pid $SERVER_PID on $BASE ($1)"
        [ -z "${BENCH_WEBHOOK:-}" ] || subscribe_webhook
        return 0
      fi
      sleep 0.2
    done
    cat "$log" >&2
    fail "the $1 server was not ready within 30 s"
  done
  cat "$log" >&2
  fail "the $1 server found no free port in 3 tries"
}

# BENCH_WEBHOOK=1: one endpoint subscribed to every event type (SPEC §12), so each
# request that changes something also queues its event (issue 20's figure). The
# receiver on loopback (`webhook-sink`, crates/fake-server) answers 204 to everything
# and keeps connections alive; what is measured is the request path. It shares the
# API's cores, so it is written to cost little: the Python receiver it replaced spent
# more CPU per event than the API's worker did.
BENCH_ADMIN_TOKEN="bench-admin-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
subscribe_webhook() {
  if [ -z "$RECEIVER_PID" ]; then
    "$BIN"/webhook-sink 0 >"$WORK/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    RECEIVER_URL=""
    for _ in $(seq 1 100); do
      kill -0 "$RECEIVER_PID" 2>/dev/null || { cat "$WORK/receiver.log" >&2; RECEIVER_PID=""; fail "the webhook sink exited during start-up"; }
      RECEIVER_URL=$(head -1 "$WORK/receiver.log" 2>/dev/null || true)
      if [[ "$RECEIVER_URL" == http://* ]] && curl -fsS -o /dev/null -X POST "$RECEIVER_URL/hook" 2>/dev/null; then
        break
      fi
      RECEIVER_URL=""
      sleep 0.1
    done
    [ -n "$RECEIVER_URL" ] || fail "the webhook sink was not ready within 10 s"
    RECEIVER_URL="$RECEIVER_URL/hook"
  fi
  api POST /api/v1/admin/webhooks 201 -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" \
    -d "{\"url\":\"$RECEIVER_URL\",\"event_types\":[\"auth.*\",\"phone.*\",\"two_factor.*\",\"recovery_codes.*\",\"sms.*\",\"fraud.*\"]}" >/dev/null
  echo "webhook endpoint subscribed to every event: $RECEIVER_URL"
}

# api METHOD PATH EXPECTED_STATUS [curl args...]: one request; prints the body, fails
# loudly on any other status (the seed data must exist for the runs to mean anything).
api() {
  local method=$1 path=$2 expected=$3 status
  shift 3
  status=$(curl -sS -o "$WORK/response.json" -w '%{http_code}' -X "$method" "$BASE$path" \
    -H 'Content-Type: application/json' "$@")
  [ "$status" = "$expected" ] || fail "$method $path answered $status, expected $expected: $(cat "$WORK/response.json")"
  cat "$WORK/response.json"
}
access_token() { sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'; }

register_user() {
  api POST /api/v1/auth/register 201 \
    -d "{\"email\":\"$1\",\"password\":\"$PASSWORD\",\"full_name\":\"Bench\"}" | access_token
}

# Request counts by method, route and status from the server's /metrics, before and
# after a run: the difference names the statuses wrk only counts as "non-2xx/3xx".
status_snapshot() {
  curl -fsS "$BASE/metrics" | sed -n \
    's/^phonereg_http_requests_total{method="\([^"]*\)",route="\([^"]*\)",status="\([^"]*\)"} \([0-9]*\)$/\1 \2 \3 \4/p' >"$1"
}
# unexpected_statuses BEFORE AFTER "METHOD ROUTE STATUS"...: "STATUS METHOD ROUTE xCOUNT"
# for every response during the run that was not one of the expected kinds.
unexpected_statuses() {
  local before=$1 after=$2
  shift 2
  awk -v expected="$(printf '%s\n' "$@")" '
    BEGIN { n = split(expected, e, "\n"); for (i = 1; i <= n; i++) ok[e[i]] = 1 }
    FNR == NR { seen[$1 " " $2 " " $3] = $4; next }
    {
      key = $1 " " $2 " " $3; delta = $4 - seen[key]
      if (delta > 0 && !(key in ok) && $2 != "/metrics" && $2 != "/readyz")
        printf "%s %s %s x%d; ", $3, $1, $2, delta
    }' "$before" "$after"
}

# start_wrk OUT CONNS SCRIPT PATH [SCRIPT ARGS...]: starts one wrk run in the background
# (WRK_THREADS=2 threads, as the targets assume) for BENCH_SECONDS (WRK_SECONDS overrides) and
# remembers its pid for wait_wrk and the trap.
# --timeout 10s: at 64 connections an Argon2id queue can exceed wrk's default 2 s, and
# wrk leaves timed-out requests out of its latency figures; a slow answer should show
# up as a slow p99, not vanish.
start_wrk() {
  local out=$1 conns=$2 script=$3 path=$4
  shift 4
  wrk -t"$WRK_THREADS" -c"$conns" -d"${WRK_SECONDS:-$BENCH_SECONDS}s" --timeout 10s --latency \
    -s "$BENCH_LUA_DIR/$script" "$BASE$path" -- "$@" >"$out" 2>&1 &
  WRK_PIDS+=($!)
}
# wait_wrk OUT...: waits for every started wrk; shows their output if one failed.
wait_wrk() {
  local failed=0 pid
  for pid in "${WRK_PIDS[@]}"; do wait "$pid" || failed=1; done
  WRK_PIDS=()
  if [ "$failed" = 1 ]; then cat "$@" >&2; fail "wrk failed (above)"; fi
}
# run_wrk OUT ...: start_wrk and wait_wrk, with the server's CPU time taken before and
# after (cpu_snapshot), so parse_wrk can say what one request cost in CPU: a figure that
# moves far less with the machine's load than req/s does.
run_wrk() {
  local before
  before=$(cpu_snapshot)
  start_wrk "$@"
  wait_wrk "$1"
  printf 'CPU %s %s\n' "$before" "$(cpu_snapshot)" >>"$1"
}

# parse_wrk OUT: sets RPS P50 P99 (ms) ERRORS SOCKET, EXHAUSTED (threads that ran out of
# records) and ACTIVE_S (seconds some thread still had records: the whole run unless
# all ran out) from the BENCH line common.lua prints. RPS is over ACTIVE_S.
parse_wrk() {
  grep -q '^BENCH ' "$1" || { cat "$1" >&2; fail "wrk printed no result line (above)"; }
  local requests duration_us p50_us p99_us non2xx
  read -r requests duration_us p50_us p99_us non2xx SOCKET EXHAUSTED < <(awk '/^BENCH / {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print v["requests"], (v["active_us"] > 0 ? v["active_us"] : v["duration_us"]),
            v["p50_us"], v["p99_us"], v["non2xx"],
            v["connect"] + v["read"] + v["write"] + v["timeout"], v["exhausted"] + 0 }' "$1")
  ACTIVE_S=$(calc "$duration_us / 1000000" 1)
  # CPU µs per request: the whole server, and the SQLite writer thread alone (the serial
  # part that bounds SQLite's write throughput; 0 on PostgreSQL).
  local cpu0 writer0 cpu1 writer1 tick_us
  read -r cpu0 writer0 cpu1 writer1 < <(awk '/^CPU / { print $2, $3, $4, $5 }' "$1") || true
  tick_us=$((1000000 / $(getconf CLK_TCK)))
  CPU_US=$(calc "(${cpu1:-0} - ${cpu0:-0}) * $tick_us / ($requests + 0.000001)" 0)
  WRITER_US=$(calc "(${writer1:-0} - ${writer0:-0}) * $tick_us / ($requests + 0.000001)" 0)
  RPS=$(calc "$requests * 1000000 / $duration_us" 1)
  P50=$(calc "$p50_us / 1000" 2)
  P99=$(calc "$p99_us / 1000" 2)
  ERRORS=$((non2xx + SOCKET))
}

# record BACKEND SCENARIO CONNS OUT BEFORE AFTER TARGET VERDICT [EXPECTED...]
# Appends one row to the results. Socket errors and unexpected statuses go in a note.
MISSED=0
record() {
  local backend=$1 scenario=$2 conns=$3 out=$4 before=$5 after=$6 target=$7 verdict=$8 note=""
  shift 8
  note=$(unexpected_statuses "$before" "$after" "$@")
  note+=${RECORD_NOTE:-}
  if [ "$SOCKET" -gt 0 ]; then
    note+="socket errors $(grep -m1 'Socket errors' "$out" | sed 's/^ *Socket errors: //'); "
  fi
  [[ "$verdict" != MISS* ]] || MISSED=1
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$scenario" "$conns" \
    "$RPS" "$P50" "$P99" "$ERRORS" "$CPU_US" "$WRITER_US" "$target" "$verdict" "$note" >>"$RESULTS"
  # The running peak RSS shows which scenario makes the server grow.
  printf '  %-8s %-12s c%-3s %9s req/s  p50 %8s ms  p99 %8s ms  errors %s  cpu %s/%s us/req  peak RSS %s MiB  %s %s\n' \
    "$backend" "$scenario" "$conns" "$RPS" "$P50" "$P99" "$ERRORS" "$CPU_US" "$WRITER_US" \
    "$(peak_rss_mib)" "$verdict" "$note"
}

# settle: waits until the server is idle (under 5 % of a core over half a second).
# When wrk stops, up to 64 requests are still queued for Argon2id (~0.5 s of both cores
# on this machine); without this they would run during, and be counted in, the next run.
cpu_ticks() { sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }'; }
# cpu_snapshot: "PROCESS_TICKS WRITER_TICKS" (user + system), the writer being the thread
# named sqlite-writer (none on PostgreSQL: 0).
cpu_snapshot() {
  local task writer=0
  for task in /proc/"$SERVER_PID"/task/*; do
    if [ "$(cat "$task/comm" 2>/dev/null)" = sqlite-writer ]; then
      writer=$(sed 's/.*) //' "$task/stat" | awk '{ print $12 + $13 }')
    fi
  done
  echo "$(cpu_ticks) $writer"
}
settle() {
  local before after
  for _ in $(seq 1 60); do
    before=$(cpu_ticks); sleep 0.5; after=$(cpu_ticks)
    [ $((after - before)) -gt $(($(getconf CLK_TCK) / 40)) ] || return 0
  done
  echo "warning: the server was still busy after 30 s without load" >&2
}

# The server's peak resident memory so far (VmHWM), in MiB.
peak_rss_mib() { calc "$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status") / 1024" 1; }

