#!/usr/bin/env bash
# Builds the SPA (frontend/) into dist/ with the size profile `wasm-release`, installing
# the tools it needs first (scripts/tools.sh), writes a brotli and a gzip copy of each
# file (`cargo xtask precompress`, which the API serves by Accept-Encoding), then prints
# the sizes of every file the browser loads before the first screen and fails when the
# brotli total, the bytes on the wire, is over 266 KB. Nothing is downloaded outside the
# package registries: trunk runs --offline, so it uses the wasm-bindgen on PATH (the
# version in Cargo.lock) and no wasm-opt (index.html says data-wasm-opt="0"; binaryen 132
# measured −2 KB brotli, not worth a node tool in this build).
# Usage: scripts/build-spa.sh [--sizes-only]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# What the browser downloads before the first screen (index.html, the wasm, its JS glue,
# the CSS), file by file: as built, and as the API sends it to a browser that accepts
# brotli (the `.br` copy `cargo xtask precompress` made; the file itself where none).
# The budget is on the brotli total: the bytes on the wire.
print_sizes() {
  [ -f dist/index.html ] || fail "dist/index.html is missing: build the SPA first"
  step "SPA size (dist/): as built, gzip and brotli copies"
  local raw_total=0 gz_total=0 br_total=0 file raw gz br
  while IFS= read -r file; do
    raw=$(wc -c <"$file")
    gz=$raw; [ -f "$file.gz" ] && gz=$(wc -c <"$file.gz")
    br=$raw; [ -f "$file.br" ] && br=$(wc -c <"$file.br")
    raw_total=$((raw_total + raw)); gz_total=$((gz_total + gz)); br_total=$((br_total + br))
    printf '  %-44s %8d B raw %8d B gzip %8d B brotli\n' "${file#dist/}" "$raw" "$gz" "$br"
  done < <(find dist -type f \( -name '*.html' -o -name '*.js' -o -name '*.wasm' -o -name '*.css' \) | sort)
  printf '  %-44s %8d B raw %8d B gzip %8d B brotli (%d KB)\n' "first load" \
    "$raw_total" "$gz_total" "$br_total" "$((br_total / 1024))"
  echo "spa_raw_bytes=$raw_total spa_gzip_bytes=$gz_total spa_brotli_bytes=$br_total"
  if [ "$br_total" -gt $((266 * 1024)) ]; then
    fail "the SPA's first load is over its 266 KB budget on the wire (brotli)"
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

step "precompressing dist/ (brotli and gzip copies the API sends by Accept-Encoding)"
cargo xtask precompress dist

print_sizes
