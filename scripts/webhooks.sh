#!/usr/bin/env bash
# Outbound webhooks end to end (SPEC §12, issue 20), against a release build: a receiver
# on loopback verifies every delivery with the `standardwebhooks` Python package; N
# sign-ups, verifications and number changes give exactly the audit log's events, in
# order per endpoint; kill -9 mid-delivery with the receiver down for 60 s loses
# nothing; end-to-end lag p50/p99 on SQLite and PostgreSQL; the three support cases
# through the API alone. Prints the figures of docs/WEBHOOKS.md.
#
#   scripts/webhooks.sh                     # N=50, receiver down 60 s
#   WEBHOOKS_N=10 WEBHOOKS_PROFILE=debug scripts/webhooks.sh
#   WEBHOOKS_POSTGRES=off scripts/webhooks.sh   # SQLite only
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need cargo
need python3

VENV=.tools/venv-webhooks
if ! "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  step "install the standardwebhooks verifier into $VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q standardwebhooks || fail "pip install standardwebhooks failed"
fi

PROFILE=${WEBHOOKS_PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-target}
step "building the API ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release --locked -p phonereg-api --bin phonereg-api
else
  cargo build --locked -p phonereg-api --bin phonereg-api
fi

PG_URL=""
if [ "${WEBHOOKS_POSTGRES:-on}" != off ]; then
  step "PostgreSQL"
  start_postgres
  PG_URL=$(fresh_test_database phonereg_webhooks_demo)
fi

WORK=$(mktemp -d /tmp/phonereg-webhooks.XXXXXX)
step "webhooks ($PROFILE build, logs in $WORK)"
"$VENV/bin/python" scripts/webhooks.py --api "$TARGET/$PROFILE/phonereg-api" --work "$WORK" \
  --n "${WEBHOOKS_N:-50}" --outage "${WEBHOOKS_OUTAGE:-60}" ${PG_URL:+--postgres "$PG_URL"}
