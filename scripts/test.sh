#!/usr/bin/env bash
# Runs every test PhoneReg has, on a bare machine: installs what is missing, starts
# PostgreSQL, then lint, the wasm/dependency checks of crates/types, the whole API suite
# on SQLite and PostgreSQL, schemathesis against openapi.yaml on both, the TypeScript client
# against a live API, the browser suite (SPA + release API + fake Twilio in Debian's
# Chromium), then the release tarball unpacked in an empty folder, started with one
# command and taken through a signup. Fails loudly when a required part cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
# One build per run: incremental state would only take disk (a CI run once filled it).
export CARGO_INCREMENTAL=0

step "toolchain"
need cargo
rustup show active-toolchain >/dev/null   # installs the pinned toolchain and targets
rustup target add wasm32-unknown-unknown >/dev/null

step "tools (wasm target, trunk, wasm-bindgen-cli, the API reference viewer)"
scripts/tools.sh
# Every build below embeds Swagger UI at /api/docs; a build without it fails.
export PHONEREG_REQUIRE_API_DOCS=1

step "PostgreSQL"
start_postgres
export PHONEREG_TEST_POSTGRES_URL
PHONEREG_TEST_POSTGRES_URL="$(fresh_test_database phonereg_test)"

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "crates/types: builds for wasm32 and pulls in no server crate"
cargo build -p phonereg-types --target wasm32-unknown-unknown --locked
if cargo tree -p phonereg-types --target all -e normal,build --prefix none | grep -E '^(diesel|actix|tokio|phonenumber|rlibphonenumber)[ -]'; then
  fail "crates/types depends on a server crate (above)"
fi

step "tests (SQLite and PostgreSQL)"
cargo test --workspace --locked

step "schemathesis against openapi.yaml (SQLite and PostgreSQL)"
scripts/fuzz.sh

step "TypeScript client (clients/typescript): fresh types, then signup to history against a live API"
scripts/clients.sh

step "SPA: lint for wasm32"
cargo clippy -p phonereg-frontend --target wasm32-unknown-unknown --locked -- -D warnings

step "browser tests (SPA, release API, fake Twilio, Debian chromium)"
scripts/e2e.sh

step "release tarball: unpacked in an empty folder, one command, a signup"
# After the browser tests, which built dist/ and the release API: packing reuses both.
scripts/release-smoke.sh --reuse-spa

step "all tests passed"
