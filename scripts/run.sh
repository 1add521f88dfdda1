#!/usr/bin/env bash
# Runs PhoneReg on the embedded default: SQLite under ./data, development mode (a JWT
# secret is generated into ./data), console SMS (codes in the log and at /dev/sms), the
# SPA built into ./dist and served with the API on http://127.0.0.1:8080. Extra arguments are
# passed to the server (see `--help`); every setting is also an environment variable.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need cargo
step "building the SPA into dist/ (installs the wasm target, trunk and wasm-bindgen-cli when missing)"
scripts/build-spa.sh
step "building the API (release)"
cargo build --release -p phonereg-api --locked
step "starting PhoneReg on http://${BIND:-127.0.0.1:8080}/ (Ctrl-C stops it)"
exec target/release/phonereg-api "$@"
