#!/usr/bin/env bash
# Builds the SPA (frontend/) into dist/ with the size profile `wasm-release`, installing
# the tools it needs first (scripts/tools.sh), then prints the gzip size of every file the
# browser loads before the first screen. Nothing is downloaded outside the package
# registries: trunk runs --offline, so it uses the wasm-bindgen on PATH (the version in
# Cargo.lock) and no wasm-opt (index.html says data-wasm-opt="0").
# Usage: scripts/build-spa.sh [--sizes-only]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# Gzip size of each file in dist/ and their total: everything index.html pulls in
# before the first screen (the wasm, its JS glue, the CSS) plus index.html itself.
print_sizes() {
  [ -f dist/index.html ] || fail "dist/index.html is missing: build the SPA first"
  step "SPA size (dist/, gzip -9)"
  local total=0 raw_total=0 file raw gz
  while IFS= read -r file; do
    raw=$(wc -c <"$file")
    gz=$(gzip -9 -c "$file" | wc -c)
    total=$((total + gz))
    raw_total=$((raw_total + raw))
    printf '  %-48s %8d B raw %8d B gzip\n' "${file#dist/}" "$raw" "$gz"
  done < <(find dist -type f \( -name '*.html' -o -name '*.js' -o -name '*.wasm' -o -name '*.css' \) | sort)
  printf '  %-48s %8d B raw %8d B gzip (%d KB)\n' "total before first screen" "$raw_total" "$total" "$((total / 1024))"
  echo "spa_gzip_bytes=$total"
  # leptos_router, gloo-net and serde_json cost ~85 KB gzip; the budget becomes bytes on
  # the wire (brotli) once the API serves the files compressed.
  if [ "$total" -gt $((280 * 1024)) ]; then
    fail "the SPA is over its 280 KB gzip budget"
  fi
}

if [ "${1:-}" = "--sizes-only" ]; then
  print_sizes
  exit 0
fi

scripts/tools.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step "fetching crates (so the build can run offline)"
cargo fetch --locked

step "building the SPA (trunk build --release → dist/)"
# `erase_components` makes Leptos type-erase component and closure types: the same app in
# ~25 KB gzip less wasm (and a faster build). Set here rather than in a cargo config so the
# API's builds are untouched; `trunk serve` works without it.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:---cfg erase_components}"
trunk build --release --offline --locked

print_sizes
