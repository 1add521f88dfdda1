#!/usr/bin/env bash
# The release tarball, used as a newcomer would (SPEC §14): `cargo xtask dist` builds it,
# it is unpacked into an empty temporary folder, ONE command starts it there
# (`./phonereg-api`: SQLite under ./data, console SMS, the SPA from ./dist; only BIND is
# set, to a free loopback port), and a signup completes over HTTP: register with a phone
# number -> the code is queued and sent -> the code is read from the development inbox ->
# verify -> /users/me shows the number verified, and `/` serves the SPA. Prints
# `release_smoke_seconds=` (unpack to verified number). Exits non-zero on any miss.
#
# Usage: scripts/release-smoke.sh [--debug] [--reuse-spa] [--tarball FILE]
#   --debug       package a debug build of the API (fast; `cargo xtask dist` defaults to release)
#   --reuse-spa   package the dist/ already built instead of building the SPA again
#   --tarball F   test this tarball instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

dist_args=()
tarball=
while [ $# -gt 0 ]; do
  case "$1" in
    --debug | --reuse-spa) dist_args+=("$1") ;;
    --tarball) shift; tarball="${1:?--tarball needs a file}" ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) fail "unknown option $1" ;;
  esac
  shift
done
for tool in curl jq tar; do
  command -v "$tool" >/dev/null 2>&1 || apt_install "$tool"
done

if [ -z "$tarball" ]; then
  step "cargo xtask dist ${dist_args[*]}"
  tarball=$(cargo xtask dist "${dist_args[@]}" | tail -n 1)
fi
[ -f "$tarball" ] || fail "no tarball at $tarball"
tarball=$(realpath "$tarball")

work=$(mktemp -d)
pid=
cleanup() {
  local status=$?
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 30 "$work/server.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "unpacking $(basename "$tarball") into an empty folder"
started=$(date +%s.%N)
mkdir "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
folder=$(find "$work/unpacked" -mindepth 1 -maxdepth 1 -type d)
[ "$(echo "$folder" | wc -l)" = 1 ] || fail "the tarball must hold exactly one folder"
ls -l "$folder"
"$folder/phonereg-api" --version

step "starting it with one command: ./phonereg-api (BIND=127.0.0.1:0)"
# The one command, run where it was unpacked; nothing else is configured. Port 0 lets the
# kernel pick a free port, which the server names in its "listening" line.
(cd "$folder" && BIND=127.0.0.1:0 exec ./phonereg-api) >"$work/server.log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*listening.* port=\([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "phonereg-api exited at start-up"
  sleep 0.1
done
[ -n "$port" ] || fail "phonereg-api did not start listening within 30 s"
base="http://127.0.0.1:$port"
curl -fsS "$base/readyz" >/dev/null || fail "/readyz did not answer 2xx"
echo "ready on $base"

# call METHOD PATH [JSON] [TOKEN]: prints the body, fails unless the status is 2xx.
call() {
  local auth=()
  [ -n "${4:-}" ] && auth=(-H "Authorization: Bearer $4")
  curl -fsS -X "$1" "$base$2" -H 'Content-Type: application/json' "${auth[@]}" \
    ${3:+--data "$3"} || fail "$1 $2 did not answer 2xx"
}

step "signup: register with a phone number, read the code, verify"
number=+14155550123
registered=$(call POST /api/v1/auth/register \
  "{\"email\":\"release-smoke@example.com\",\"password\":\"correct horse battery\",\"full_name\":\"Release Smoke\",\"phone_number\":\"$number\"}")
token=$(jq -er .access_token <<<"$registered")
phone_id=$(jq -er .user.phone.id <<<"$registered")
echo "registered; phone $phone_id is $(jq -r .user.phone.status <<<"$registered")"
code=
for _ in $(seq 1 100); do
  # The courier sends after the answer; the console provider keeps what it sent.
  code=$(call GET /api/v1/dev/sms | jq -r --arg to "$number" \
    '[.items[] | select(.to == $to)][0].body // "" | capture("#(?<c>[0-9]{6})\\s*$").c // empty')
  [ -n "$code" ] && break
  sleep 0.1
done
[ -n "$code" ] || fail "no code reached $number in the development inbox"
echo "the SMS with the code was sent"
call POST "/api/v1/users/me/phone-numbers/$phone_id/verify" "{\"code\":\"$code\"}" "$token" >/dev/null
status=$(call GET /api/v1/users/me "" "$token" | jq -r .phone.status)
[ "$status" = verified ] || fail "after verify the phone is '$status', not verified"
echo "verified: /users/me shows the phone verified"
finished=$(date +%s.%N)

curl -fsS "$base/" | grep -q '<html' || fail "/ does not serve the SPA from dist/"
echo "the SPA is served at /"

step "release smoke test passed"
awk -v a="$started" -v b="$finished" 'BEGIN { printf "release_smoke_seconds=%.1f\n", b - a }'
