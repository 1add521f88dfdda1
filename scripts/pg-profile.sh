#!/usr/bin/env bash
# Where PostgreSQL's time goes, in counts that do not depend on the machine's load: for
# each write flow (send-code, verify, sms start and sign-in by code, password login) and
# the read baseline (GET /users/me), the round trips, nested statements, write
# transactions, rows written and WAL bytes per request, and the top statements by calls
# and total time (scripts/pg_profile.py).
#
#   scripts/pg-profile.sh                      # 200 requests per flow
#   PROFILE_REQUESTS=500 scripts/pg-profile.sh
#   PROFILE_MARKDOWN=/tmp/t.md scripts/pg-profile.sh   # also write the tables there
#   PROFILE_SERVER_ENV="SMS_FRAUD_GUARD=off" scripts/pg-profile.sh  # what a feature costs
#   PROFILE_BIN_DIR=/tmp/before scripts/pg-profile.sh  # binaries built before (no build):
#                                              # phonereg-api, fake-twilio, bench-seed
#
# It runs its own PostgreSQL cluster (initdb in a temporary directory, on a free port,
# with pg_stat_statements preloaded), so the shared cluster of scripts/lib.sh keeps its
# settings and the WAL counters are this run's alone. The server is the release build,
# started as scripts/bench.sh starts it (every SMS limit on; only the per-IP caps and the
# budget raised, because every request comes from 127.0.0.1), with the accounts seeded
# by bench-seed. Requests go one after another (scripts/pg_profile.py): a count per
# request, not a rate (scripts/bench.sh measures rates).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

N=${PROFILE_REQUESTS:-200}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || fail "PROFILE_REQUESTS must be a whole number"
BIN=${PROFILE_BIN_DIR:-"${CARGO_TARGET_DIR:-target}/release"}   # read by scripts/bench/*.sh

# The settings scripts/bench/*.sh read (see scripts/bench.sh for why each is set so).
PASSWORD="benchmark password"
PHONE="+14155552671"
AREA_CODES="415 212 646 718 312 617 206 303 404 512"
TWILIO_SID="ACprofile$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TWILIO_TOKEN="profile-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SMS_LIMITS_KEPT="VERIFY_RESEND_COOLDOWN=30 SMS_PER_NUMBER_PER_HOUR=5 SMS_PER_ACCOUNT_PER_DAY=10"
SMS_LIMITS_RAISED="SMS_PER_IP_PER_HOUR=1000000000 SMS_DAILY_BUDGET=1000000000 SMS_STARTS_PER_IP_PER_HOUR=1000000000 CODE_FAILURES_PER_IP=1000000000"
SMS_LIMITS_RAISED="$SMS_LIMITS_RAISED SMS_FRAUD_RANGE_FLOOR=1000000000 SMS_FRAUD_COUNTRY_FLOOR=1000000000"
BENCH_SERVER_ENV=${PROFILE_SERVER_ENV:-}
WORK=$(mktemp -d /tmp/phonereg-pgprofile.XXXXXX)
source scripts/bench/helpers.sh
source scripts/bench/sms.sh

need cargo
need python3
need curl
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/initdb" ] || apt_install postgresql
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PG_BIN/initdb" ] || fail "no initdb under /usr/lib/postgresql/*/bin"
PG_VERSION=$(basename "$(dirname "$PG_BIN")")
ls "/usr/share/postgresql/$PG_VERSION/extension/pg_stat_statements.control" >/dev/null 2>&1 \
  || apt_install "postgresql-contrib"

# The cluster, run by the postgres user (PostgreSQL refuses root) in its own directory.
PG_DIR=$(mktemp -d /tmp/phonereg-pgprofile-cluster.XXXXXX)
as_root chown postgres: "$PG_DIR"
profile_cleanup() {
  local status=$?
  stop_server
  stop_fake
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  as_root rm -rf "$PG_DIR"
  exit "$status"
}
trap profile_cleanup EXIT

if [ -z "${PROFILE_BIN_DIR:-}" ]; then
  step "release build (${BIN})"
  # Two builds, as scripts/bench.sh does: built together, the dependency features unify.
  nice cargo build --release -p phonereg-api --locked
  nice cargo build --release -p fake-twilio --locked
fi
for bin in phonereg-api fake-twilio bench-seed; do
  [ -x "$BIN/$bin" ] || fail "no $BIN/$bin"
done

step "PostgreSQL $PG_VERSION cluster with pg_stat_statements"
PG_PORT=$(free_port)
as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
# The defaults a fresh cluster has (durability included), plus the statistics: every
# statement kept apart (track=all also counts those inside functions), and lock waits
# over 10 ms logged (none are expected: requests go one at a time).
as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -o \
  "-c port=$PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR \
   -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
   -c pg_stat_statements.max=10000 -c log_lock_waits=on -c deadlock_timeout=10ms" \
  start >/dev/null
PSQL="psql -h 127.0.0.1 -p $PG_PORT -U postgres"
$PSQL -X -q -d postgres -c "CREATE EXTENSION pg_stat_statements" \
  -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" \
  -c "CREATE DATABASE phonereg_profile OWNER $PG_USER" >/dev/null
PG_DB=phonereg_profile
URL="postgres://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB?sslmode=disable"
echo "cluster on port $PG_PORT ($PG_DIR)"

step "server and seed"
start_fake postgres
start_server postgres "$URL"
run_id="$(date +%s)$RANDOM"
login_email="login-$run_id@example.com"
reader_token=$(register_user "$login_email")
[ -n "$reader_token" ] || fail "register gave no access_token"
seed_sms postgres "$URL" "$N" "$run_id" "$login_email" "$WORK/send-records.txt" unverified "$WORK/send.txt"
# Sign-in numbers from the other end of the list, so the two groups never share caps.
AREA_CODES="$(tr ' ' '\n' <<<"$AREA_CODES" | grep . | tac | tr '\n' ' ')"
seed_sms postgres "$URL" "$N" "cred$run_id" "$login_email" "$WORK/signin-records.txt" verified
echo "seeded $N accounts with an unverified number and $N with a verified one"

step "profile: $N requests per flow, one at a time"
python3 scripts/pg_profile.py --base "$BASE" --fake "$FAKE_BASE" --psql "$PSQL" --db "$PG_DB" \
  --n "$N" --send "$WORK/send.txt" --records "$WORK/send-records.txt" \
  --signin "$WORK/signin-records.txt" --login-email "$login_email" --password "$PASSWORD" \
  --reader-token "$reader_token" ${PROFILE_MARKDOWN:+--markdown "$PROFILE_MARKDOWN"}

waits=$(grep -c 'still waiting for' "$PG_DIR/postgres.log" || true)
echo "lock waits over 10 ms logged by PostgreSQL: $waits"
echo "server log: $WORK/server-postgres.log"
