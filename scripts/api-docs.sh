#!/usr/bin/env bash
# Installs the API reference viewer that phonereg-api compiles in (/api/docs): Swagger UI
# at the version in crates/api-docs/package-lock.json, from npm, with its install scripts
# off (its one dependency only reports installs). Copies the two files the page needs into
# crates/api-docs/vendor/ with brotli and gzip copies (`cargo xtask precompress`); the next
# cargo build embeds them (crates/api-docs/build.rs). Nothing fetched is committed: both
# folders are in .gitignore. Does nothing when vendor/ already holds what the lock names.
# Usage: scripts/api-docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

dir=crates/api-docs
if cmp -s "$dir/package-lock.json" "$dir/vendor/package-lock.json"; then
  exit 0
fi
need npm
step "installing the API reference viewer (Swagger UI, $dir/package-lock.json)"
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
rm -rf "$dir/vendor"
mkdir -p "$dir/vendor"
for file in swagger-ui-bundle.js swagger-ui.css; do
  # The source-map comment would send browsers with devtools open after a file that is
  # not served.
  sed '/^\/\*# sourceMappingURL=.*\*\/$/d; /^\/\/# sourceMappingURL=/d' \
    "$dir/node_modules/swagger-ui-dist/$file" >"$dir/vendor/$file"
done
cp "$dir/node_modules/swagger-ui-dist/LICENSE" "$dir/node_modules/swagger-ui-dist/NOTICE" "$dir/vendor/"
cargo xtask precompress "$dir/vendor"
# Last, so an interrupted run is redone next time.
cp "$dir/package-lock.json" "$dir/vendor/package-lock.json"
