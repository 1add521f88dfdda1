# Sourced by scripts/bench.sh: the SMS scenarios (send-code, verify, sign-in by code).

# ---------------------------------------------------------------- SMS scenarios -------
# Issue 3: send-code and verify with every SMS limit on. The accounts are seeded straight
# into the database, each with its own number; their access tokens are signed here with
# the server's JWT_SECRET; the codes come back from the fake Twilio's message log.

SEND_ROUTE="/api/v1/users/me/phone-numbers/{id}/verification"
VERIFY_ROUTE="/api/v1/users/me/phone-numbers/{id}/verify"

# route_delta BEFORE AFTER METHOD ROUTE [STATUS|!STATUS]: responses on the route during
# the run with that status, or with any other status when it is written !STATUS.
route_delta() {
  awk -v m="$3" -v r="$4" -v st="${5:-}" '
    FNR == NR { seen[$1 " " $2 " " $3] = $4; next }
    $1 == m && $2 == r {
      if (st != "" && substr(st, 1, 1) == "!") { if ($3 == substr(st, 2)) next }
      else if (st != "" && $3 != st) next
      n += $4 - seen[$1 " " $2 " " $3]
    }
    END { print n + 0 }' "$1" "$2"
}

# fake_count FILE: saves the fake Twilio's message log in FILE; prints how many it holds.
fake_count() {
  curl -fsS "$FAKE_BASE/_fake/messages" -o "$1" || fail "GET $FAKE_BASE/_fake/messages failed"
  grep -o '"sid":' "$1" | wc -l
}

# The seeded numbers, in order: +1 <area code> 555 0000…9999 for each area code, leaving
# out $PHONE (the readers' number, whose hourly per-number cap they already use).
# check_numbers COUNT: the first and last number of every area-code block the seed
# uses must be valid, SMS-capable US numbers formatted as the seed formats them.
check_numbers() {
  local blocks ac x e164 body
  blocks=$(( ($1 + 1 + 9999) / 10000 ))
  [ "$blocks" -le "$(wc -w <<<"$AREA_CODES")" ] \
    || fail "$1 numbers need $blocks area codes; AREA_CODES has $(wc -w <<<"$AREA_CODES")"
  for ac in $(tr ' ' '\n' <<<"$AREA_CODES" | head -n "$blocks"); do
    for x in 0000 9999; do
      e164="+1${ac}555$x"
      body=$(api GET "/api/v1/phone-numbers/parse?number=%2B1${ac}555$x" 200)
      grep -qF "\"valid\":true,\"e164\":\"$e164\",\"national\":\"($ac) 555-$x\",\"international\":\"+1 $ac-555-$x\",\"country\":\"US\",\"number_type\":\"fixed_line_or_mobile\",\"sms_capable\":true" <<<"$body" \
        || fail "the API does not parse $e164 as the seed assumes: $body"
    done
  done
}

# seed_sms BACKEND URL COUNT PREFIX LOGIN_EMAIL OUT [verified] [TOKENS]: COUNT accounts
# (email sms-PREFIX-n@example.com, the login account's Argon2id hash) each with a phone
# record (unverified, or verified), in one transaction, through the persistence layer
# ($BIN/bench-seed); writes "phone_id user_id e164" lines to OUT and, given
# TOKENS, "access_token phone_id" lines signed with the server's JWT_SECRET.
seed_sms() {
  local url=$2 count=$3 prefix=$4 login_email=$5 out=$6 status=${7:-unverified} tokens=${8:-}
  local args=(--database-url "$url" --count "$count" --prefix "$prefix"
    --login-email "$login_email" --area-codes "$AREA_CODES" --skip "$PHONE" --records "$out")
  [ "$status" = verified ] && args+=(--verified)
  [ -z "$tokens" ] || args+=(--tokens "$tokens")
  JWT_SECRET="$JWT_SECRET" "$BIN"/bench-seed "${args[@]}" \
    || fail "bench-seed could not seed $count accounts"
  [ "$1" != postgres ] || pg_sql <<<"ANALYZE users; ANALYZE phone_numbers;" >/dev/null
}
# pg_sql [psql args]: runs SQL from stdin on the bench database as the API's role.
pg_sql() {
  PGPASSWORD="$PG_PASSWORD" psql -X -q -tA -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" \
    -U "$PG_USER" -d "$PG_DB" "$@"
}

# harvest FAKE_LOG SKIP RECORDS TOKENS OUT: the codes of the messages after the first SKIP
# in the fake's log, matched to their records by number; "token phone_id code" lines.
# Prints "codes unmatched duplicates".
harvest() {
  python3 - "$@" <<'PY'
import json, re, sys
log, skip, records, tokens, out = sys.argv[1:]
phone_of = {}
with open(records) as f:
    for line in f:
        phone_id, _, e164 = line.split()
        phone_of[e164] = phone_id
token_of = {}
with open(tokens) as f:
    for line in f:
        token, phone_id = line.split()
        token_of[phone_id] = token
messages = json.load(open(log))["messages"][int(skip):]
seen, unmatched, duplicates = set(), 0, 0
with open(out, "w") as o:
    for m in messages:
        code = re.search(r"\b(\d{6})\b", m["body"])
        phone_id = phone_of.get(m["to"])
        if code is None or phone_id is None:
            unmatched += 1
        elif phone_id in seen:
            duplicates += 1
        else:
            seen.add(phone_id)
            o.write(f"{token_of[phone_id]} {phone_id} {code.group(1)}\n")
print(len(seen), unmatched, duplicates)
PY
}

# wait_outbox FAKE_BEFORE EXPECTED: waits until the fake holds EXPECTED messages more than
# FAKE_BEFORE, or its count stops growing (3 s), or SMS_DRAIN_SECONDS pass. Sets RECEIVED
# (new messages at the fake) and DRAIN_WAIT (seconds waited); leaves the log in
# $WORK/fake-after.json.
wait_outbox() {
  local before=$1 want=$2 start=$SECONDS count last=-1 still=0
  while :; do
    count=$(fake_count "$WORK/fake-after.json")
    RECEIVED=$((count - before))
    [ "$RECEIVED" -lt "$want" ] || break
    if [ "$count" -eq "$last" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -lt 3 ] || break
    [ $((SECONDS - start)) -lt "$SMS_DRAIN_SECONDS" ] || break
    last=$count
    sleep 1
  done
  DRAIN_WAIT=$((SECONDS - start))
}

bench_sms() {
  local backend=$1 url=$2 run_id=$3 login_email=$4 count seeded t0 token id e164
  local records="$WORK/sms-$backend-records.txt" send_file="$WORK/sms-$backend-send.txt"
  local verify_file="$WORK/sms-$backend-verify.txt"
  count=$(calc "$TARGET_SEND_RPS * $BENCH_SECONDS * $SMS_SEED_FACTOR" 0)

  t0=$SECONDS
  check_numbers "$count"
  seed_sms "$backend" "$url" "$count" "$run_id" "$login_email" "$records" unverified "$send_file"
  seeded=$(wc -l <"$records")
  [ "$seeded" -eq "$count" ] || fail "seeded $seeded phone records, wanted $count"
  # One seeded record read back through the API with its signed token.
  read -r token id <"$send_file"
  read -r _ _ e164 <"$records"
  api GET "/api/v1/users/me/phone-numbers/$id" 200 -H "Authorization: Bearer $token" \
    | grep -qF "\"e164\":\"$e164\",\"national\"" || fail "seeded record $id does not read back as $e164"
  echo "seeded $count accounts with a number each ($e164 … $(tail -1 "$records" | cut -d' ' -f3)) and signed their tokens in $((SECONDS - t0)) s"
  echo "SMS limits: $SMS_LIMITS_KEPT kept (defaults); $SMS_LIMITS_RAISED raised (all load comes from 127.0.0.1)"

  # send-code: one request per record.
  local out="$WORK/wrk-$backend-send-code-c$SMS_CONNS.txt" fake_before sent other target verdict
  fake_before=$(fake_count "$WORK/fake-before.json")
  settle
  status_snapshot "$WORK/before"
  run_wrk "$out" "$SMS_CONNS" send_code.lua /api/v1/users/me/phone-numbers "$send_file" "$WRK_THREADS"
  parse_wrk "$out"
  # The outbox hands the queued messages to the fake after the run too; wait for it.
  sleep 0.5
  status_snapshot "$WORK/sent"
  sent=$(route_delta "$WORK/before" "$WORK/sent" POST "$SEND_ROUTE" 202)
  wait_outbox "$fake_before" "$sent"
  status_snapshot "$WORK/after"
  sent=$(route_delta "$WORK/before" "$WORK/after" POST "$SEND_ROUTE" 202)
  other=$(route_delta "$WORK/before" "$WORK/after" POST "$SEND_ROUTE" '!202')
  target=">=$TARGET_SEND_RPS/s, p99<=${TARGET_SEND_P99_MS}ms, 0 err"
  verdict=MISS
  is_true "$RPS >= $TARGET_SEND_RPS && $P99 <= $TARGET_SEND_P99_MS && $ERRORS == 0" \
    && [ "$RECEIVED" -eq "$sent" ] && verdict=ok
  local drained="equal"
  if [ "$RECEIVED" -lt "$sent" ]; then
    drained="MISMATCH: outbox not drained, $((sent - RECEIVED)) still unsent after ${DRAIN_WAIT}s"
  elif [ "$RECEIVED" -gt "$sent" ]; then
    drained="MISMATCH: $((RECEIVED - sent)) more messages than 202s"
  fi
  RECORD_NOTE="fake Twilio received $RECEIVED messages for $sent 202s ($drained; waited ${DRAIN_WAIT}s after the run); "
  [ "$EXHAUSTED" -eq 0 ] || RECORD_NOTE+="records ran out in $EXHAUSTED of $WRK_THREADS threads: rate over the ${ACTIVE_S}s they lasted; "
  record "$backend" send-code "$SMS_CONNS" "$out" "$WORK/before" "$WORK/after" "$target" "$verdict" \
    "POST $SEND_ROUTE 202" "GET /healthz 200"
  RECORD_NOTE=""
  SMS_SENT[$backend]="send-code: $sent x 202, $other other statuses; fake Twilio received $RECEIVED ($drained, ${DRAIN_WAIT}s after the run)"
  [ "$RECEIVED" -eq "$sent" ] || MISSED=1

  # verify: each record that got a code, once, with that code.
  local codes unmatched duplicates ok bad
  read -r codes unmatched duplicates < <(harvest "$WORK/fake-after.json" "$fake_before" "$records" "$send_file" "$verify_file")
  [ "$codes" -gt 0 ] || fail "no verification codes found in the fake Twilio's messages"
  out="$WORK/wrk-$backend-verify-c$SMS_CONNS.txt"
  settle
  status_snapshot "$WORK/before"
  run_wrk "$out" "$SMS_CONNS" verify.lua /api/v1/users/me/phone-numbers "$verify_file" "$WRK_THREADS"
  parse_wrk "$out"
  sleep 0.5
  status_snapshot "$WORK/after"
  ok=$(route_delta "$WORK/before" "$WORK/after" POST "$VERIFY_ROUTE" 200)
  bad=$(route_delta "$WORK/before" "$WORK/after" POST "$VERIFY_ROUTE" '!200')
  target=">=$TARGET_VERIFY_RPS/s, p99<=${TARGET_VERIFY_P99_MS}ms, 0 err"
  verdict=MISS
  is_true "$RPS >= $TARGET_VERIFY_RPS && $P99 <= $TARGET_VERIFY_P99_MS && $ERRORS == 0 && $bad == 0" \
    && verdict=ok
  RECORD_NOTE="$codes codes harvested; "
  [ $((unmatched + duplicates)) -eq 0 ] || RECORD_NOTE+="$unmatched messages matched no record, $duplicates repeated one; "
  [ "$EXHAUSTED" -eq 0 ] || RECORD_NOTE+="codes ran out in $EXHAUSTED of $WRK_THREADS threads: rate over the ${ACTIVE_S}s they lasted; "
  record "$backend" verify "$SMS_CONNS" "$out" "$WORK/before" "$WORK/after" "$target" "$verdict" \
    "POST $VERIFY_ROUTE 200" "GET /healthz 200"
  RECORD_NOTE=""
  SMS_VERIFIED[$backend]="verify: $ok x 200, $bad non-200 of $codes codes harvested"
}

# Sign-in by code (issue 11): accounts seeded with a verified number each; one
# POST /auth/sms/start per number (a real code, SMS through the outbox to the fake), then
# one POST /auth/sms/sign-in per code harvested from the fake. No Argon2id on this path,
# so it is read beside login's figure. The seed starts at the last area codes, away from
# the send-code scenario's numbers, so the two groups never share a number's caps.
SIGNIN_RPS_GUESS=3000
bench_signin() {
  local backend=$1 url=$2 run_id=$3 login_email=$4 count seeded records="$WORK/signin-$backend-records.txt"
  local starts="$WORK/signin-$backend-starts.txt" codes_file="$WORK/signin-$backend-codes.txt"
  count=$(calc "$SIGNIN_RPS_GUESS * $BENCH_SECONDS * $SMS_SEED_FACTOR" 0)
  # Dynamic scope: check_numbers and seed_sms see the reversed list.
  local AREA_CODES
  AREA_CODES="$(tr ' ' '\n' <<<"$SMS_AREA_CODES" | grep . | tac | tr '\n' ' ')"
  check_numbers "$count"
  seed_sms "$backend" "$url" "$count" "cred$run_id" "$login_email" "$records" verified
  seeded=$(wc -l <"$records")
  [ "$seeded" -eq "$count" ] || fail "seeded $seeded verified numbers, wanted $count"
  awk '{ print $3 }' "$records" >"$starts"
  echo "seeded $count accounts with a verified number each for sign-in by code"

  # Every start is held to a 50 ms floor (enumeration safety), so it takes many
  # connections to load the server.
  local start_conns=256
  local out="$WORK/wrk-$backend-sms-start-c$start_conns.txt" fake_before started
  fake_before=$(fake_count "$WORK/fake-before.json")
  settle
  status_snapshot "$WORK/before"
  run_wrk "$out" "$start_conns" sms_start.lua /api/v1/auth/sms/start "$starts" "$WRK_THREADS"
  parse_wrk "$out"
  sleep 0.5
  status_snapshot "$WORK/sent"
  started=$(route_delta "$WORK/before" "$WORK/sent" POST /api/v1/auth/sms/start 202)
  wait_outbox "$fake_before" "$started"
  status_snapshot "$WORK/after"
  RECORD_NOTE="fake Twilio received $RECEIVED messages for $started 202s; "
  record "$backend" sms-start "$start_conns" "$out" "$WORK/before" "$WORK/after" \
    "(info: 50 ms floor per start)" info "POST /api/v1/auth/sms/start 202" "GET /healthz 200"
  RECORD_NOTE=""

  local codes
  codes=$(python3 - "$WORK/fake-after.json" "$fake_before" "$codes_file" <<'PY'
import json, re, sys
log, skip, out = sys.argv[1:]
seen = {}
for m in json.load(open(log))["messages"][int(skip):]:
    code = re.search(r"\b(\d{6})\b", m["body"])
    if code and m["to"] not in seen:
        seen[m["to"]] = code.group(1)
with open(out, "w") as o:
    for to, code in seen.items():
        o.write(f"{to} {code}\n")
print(len(seen))
PY
)
  [ "$codes" -gt 0 ] || fail "no sign-in codes found in the fake Twilio's messages"
  out="$WORK/wrk-$backend-sms-sign-in-c$SMS_CONNS.txt"
  settle
  status_snapshot "$WORK/before"
  run_wrk "$out" "$SMS_CONNS" sms_sign_in.lua /api/v1/auth/sms/sign-in "$codes_file" "$WRK_THREADS"
  parse_wrk "$out"
  sleep 0.5
  status_snapshot "$WORK/after"
  RECORD_NOTE="$codes codes harvested; "
  [ "$EXHAUSTED" -eq 0 ] || RECORD_NOTE+="codes ran out in $EXHAUSTED of $WRK_THREADS threads: rate over the ${ACTIVE_S}s they lasted; "
  record "$backend" sms-sign-in "$SMS_CONNS" "$out" "$WORK/before" "$WORK/after" \
    "(info: vs login, no Argon2id)" info "POST /api/v1/auth/sms/sign-in 200" "GET /healthz 200"
  RECORD_NOTE=""
}

# The lookup (GET /phone-numbers/parse) over every number of the oracle table: every
# region and type, valid and not, each with its region hint. No target: the figure is the
# parser's cost per request (issue 13), read beside the same run on another build. The
# lookup's per-IP limit is raised (start_server), but its counter is still written.
