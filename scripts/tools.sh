#!/usr/bin/env bash
# Installs what building and browser-testing the SPA needs, each only when missing:
#   - the wasm32-unknown-unknown target,
#   - trunk 0.21.14 (0.22 needs a newer rustc),
#   - wasm-bindgen-cli at exactly the version Cargo.lock pins (trunk refuses any other
#     and would otherwise try to download one),
#   - Swagger UI for the API reference page compiled into the API (scripts/api-docs.sh),
#   - with --browser: Debian's chromium and the npm packages of tests/e2e (playwright-core,
#     which never downloads a browser of its own; not Lighthouse, see e2e.sh --lighthouse).
# Everything comes from crates.io, Debian and npm; nothing else is downloaded.
# Usage: scripts/tools.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TRUNK_VERSION=0.21.14
want_browser=false
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=true ;;
    *) fail "unknown argument $arg (usage: scripts/tools.sh [--browser])" ;;
  esac
done

need cargo
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -qF "trunk $TRUNK_VERSION"; then
  step "installing trunk $TRUNK_VERSION (takes several minutes)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

wasm_bindgen_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p' | head -1)
[ -n "$wasm_bindgen_version" ] || fail "Cargo.lock pins no wasm-bindgen (is frontend/ a workspace member?)"
if ! wasm-bindgen --version 2>/dev/null | grep -qF "wasm-bindgen $wasm_bindgen_version"; then
  step "installing wasm-bindgen-cli $wasm_bindgen_version (the version in Cargo.lock)"
  # Not --locked: the CLI's own lock file does not build with this toolchain.
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi

# The API reference viewer phonereg-api compiles in (/api/docs).
scripts/api-docs.sh

if $want_browser; then
  if [ ! -x /usr/bin/chromium ]; then
    step "installing Debian chromium"
    apt_install chromium
  fi
  need npm
  if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    step "installing the browser-test packages (tests/e2e)"
    # Lighthouse (~200 packages) is an optional dependency: only e2e.sh --lighthouse
    # installs it.
    (cd tests/e2e && npm ci --omit=optional --no-audit --no-fund)
  fi
fi
