#!/usr/bin/env bash
# "Call me instead" end to end (SPEC §13 "Voice and WhatsApp", issue 22): the API with
# the Twilio provider pointed at the fake Twilio (a real HTTP server), voice and WhatsApp
# on, driven over HTTP by scripts/channels.py. With the fake dropping every SMS to one
# number, its user asks for a call after CHANNEL_FALLBACK_AFTER (a real 30 s wait: the
# API runs on the wall clock) and verifies with the code the call said; a landline
# verifies by voice; a number without WhatsApp gets the 63003 guidance; one SMS and one
# call spend SMS_DAILY_BUDGET=6 and count 6 sends with the fraud guard. Prints the
# figures README's "Voice and WhatsApp" quotes.
#
#   scripts/channels.sh                          # debug build, SQLite and PostgreSQL
#   CHANNELS_PROFILE=release scripts/channels.sh
#   CHANNELS_BACKENDS=sqlite scripts/channels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need cargo
need python3

PROFILE=${CHANNELS_PROFILE:-debug}
TARGET=${CARGO_TARGET_DIR:-target}
BACKENDS=${CHANNELS_BACKENDS:-sqlite postgres}
step "building the API and the fake Twilio ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release --locked -p phonereg-api --bin phonereg-api -p fake-twilio --bin fake-twilio
else
  cargo build --locked -p phonereg-api --bin phonereg-api -p fake-twilio --bin fake-twilio
fi

WORK=$(mktemp -d /tmp/phonereg-channels.XXXXXX)
DATABASES=()
for backend in $BACKENDS; do
  if [ "$backend" = postgres ]; then
    step "PostgreSQL"
    start_postgres
    DATABASES+=(--database "postgres|$(fresh_test_database phonereg_channels)|$(fresh_test_database phonereg_channels_costs)")
  else
    DATABASES+=(--database "sqlite|sqlite://$WORK/journeys.db|sqlite://$WORK/costs.db")
  fi
done

step "channels (logs in $WORK)"
python3 scripts/channels.py --api "$TARGET/$PROFILE/phonereg-api" \
  --fake "$TARGET/$PROFILE/fake-twilio" --work "$WORK" "${DATABASES[@]}"
