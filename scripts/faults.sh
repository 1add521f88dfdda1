#!/usr/bin/env bash
# Delivery under faults (issue #10), against release builds and the fake Twilio:
# kill -9 with sends in flight, Twilio down during sign-ups, a callback before its Sid,
# PostgreSQL restarted under load, three processes with one killed, SQLite on a full
# disk; with the fake signed HTTP gateway as second provider (issue #21): Twilio down during
# 50 sign-ups, Twilio refusing one country (21408), kill -9 with sends in flight at both.
# Prints the figures of README "Delivery you can trust" (scripts/faults.py).
#
#   scripts/faults.sh                      # everything; Twilio down for 100 s
#   FAULTS_OUTAGE=20 scripts/faults.sh     # a shorter outage for a quick run
#   FAULTS_ONLY=kill,early scripts/faults.sh
#
# PostgreSQL scenarios run on a private cluster (initdb in a temporary directory, its
# own port), so stopping it disturbs no other user of the machine's PostgreSQL. They
# need the PostgreSQL server binaries and root (the cluster runs as `postgres`); the
# full-disk scenario needs root to mount an 8 MB tmpfs. Without root both are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need cargo
need python3

WORK=$(mktemp -d /tmp/phonereg-faults.XXXXXX)
chmod 755 "$WORK"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
PG_DATA="$WORK/pg"
PG_PRIVATE_PORT=${FAULTS_PG_PORT:-55432}
PG_ARGS=()
cleanup() {
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  umount -l "$WORK/small-disk" 2>/dev/null || true
}
trap cleanup EXIT

step "building the release API, the fake Twilio and the fake HTTP gateway"
cargo build --release --locked -p phonereg-api -p fake-twilio -p fake-sms-http --bins

if [ "$(id -u)" = 0 ] && [ -x "$PG_BIN/initdb" ] && id postgres >/dev/null 2>&1; then
  step "a private PostgreSQL cluster on port $PG_PRIVATE_PORT"
  install -d -o postgres -m 700 "$PG_DATA"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust >/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$PG_DATA/server.log" \
    -o "-p $PG_PRIVATE_PORT -k $PG_DATA -c listen_addresses=127.0.0.1" start >/dev/null
  PG_ARGS=(--pg-bin "$PG_BIN" --pg-data "$PG_DATA" --pg-port "$PG_PRIVATE_PORT")
else
  echo "  (no root or no PostgreSQL server binaries: PostgreSQL scenarios skipped)"
fi

step "faults"
TARGET=${CARGO_TARGET_DIR:-target}
python3 scripts/faults.py --api "$TARGET/release/phonereg-api" --fake "$TARGET/release/fake-twilio" \
  --gateway "$TARGET/release/fake-sms-http" --work "$WORK" --outage "${FAULTS_OUTAGE:-100}" \
  --only "${FAULTS_ONLY:-kill,outage,early,pgrestart,three,diskfull,failover,region,killboth}" \
  "${PG_ARGS[@]}"
echo "logs in $WORK"
