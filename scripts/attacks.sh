#!/usr/bin/env bash
# Replays the six attacks of issue 17 (SPEC §10 "Credential safety") against a release
# build on defaults: console SMS provider, SQLite, behind a trusted proxy
# (TRUSTED_PROXIES=127.0.0.1, so X-Forwarded-For names each client and strangers come
# from many addresses). Each attack gets a fresh server (own port, data dir, database),
# started in the background and killed afterwards; only the settings an attack needs
# differ from the defaults (printed in the header). scripts/attacks.py drives it and
# prints one line per attack, ending in `held` (the attack failed) or `MISS` (it worked).
#
#   scripts/attacks.sh                 # all six
#   ATTACKS="1 4" scripts/attacks.sh   # some of them
#   ATTACK3_GAP=31 scripts/attacks.sh  # seconds between attack 3's two pairs of starts
#
# Exit status: 0 when every line was printed, MISS or not; 1 when the script or its
# client broke (build, start-up, or a setup step no version of the API should refuse).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need cargo
need python3
need curl

ATTACKS=${ATTACKS:-1 2 3 4 5 6}
ATTACK3_GAP=${ATTACK3_GAP:-31}
WORK=$(mktemp -d /tmp/phonereg-attacks.XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

step "building the release API"
nice -n 10 cargo build --release --locked -p phonereg-api --bin phonereg-api >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; fail "cargo build failed"; }
BIN=$PWD/target/release/phonereg-api

# What each attack's server gets on top of the common settings.
extra_env() {
  case $1 in
    2) echo "SMS_DAILY_BUDGET=40" ;;
    5) echo "SMS_TEST_NUMBERS=+15005550100=123456,+15005550101=123456" ;;
    *) echo "" ;;
  esac
}

commit=$(git rev-parse --short=12 HEAD)
api=$(git log -1 --format=%h --abbrev=12 -- crates)
git diff --quiet HEAD -- crates || api="$api + uncommitted changes"
echo
echo "PhoneReg issue 17 attacks: commit $commit (API code as of $api), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "server: target/release/phonereg-api, SQLite, SMS_PROVIDER=console, TRUSTED_PROXIES=127.0.0.1,"
echo "        every other setting at its default, a fresh server per attack; attack 2 adds"
echo "        $(extra_env 2), attack 5 adds $(extra_env 5);"
echo "        attack 3 spaces its two pairs of starts ${ATTACK3_GAP} s apart (default cool-down 30 s)"
echo "clients: strangers from 203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32 (a new address per"
echo "        request), owners from 192.0.2.0/24; dev inbox read without X-Forwarded-For"
echo

broken=0
for n in $ATTACKS; do
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/attack$n"
  # shellcheck disable=SC2046 # extra_env is one word or none
  env DATABASE_URL="sqlite://$WORK/attack$n/phonereg.db" DATA_DIR="$WORK/attack$n/data" \
    BIND="127.0.0.1:$PORT" PUBLIC_URL="http://127.0.0.1:$PORT" STATIC_DIR="$WORK/no-spa" \
    SMS_PROVIDER=console TRUSTED_PROXIES=127.0.0.1 RUST_LOG=warn NO_COLOR=1 \
    $(extra_env "$n") \
    "$BIN" >"$WORK/attack$n/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
    sleep 0.2
  done
  if ! curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null; then
    tail -20 "$WORK/attack$n/server.log"
    echo "$n. BROKEN: the server did not start"
    broken=1
  else
    python3 scripts/attacks.py "http://127.0.0.1:$PORT" "$n" "$ATTACK3_GAP" || broken=1
  fi
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
done
echo
echo "server logs in $WORK"
exit "$broken"
