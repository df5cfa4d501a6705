#!/usr/bin/env bash
# Copies Preact and htm from npm into vendor/ (the web app has no build step; the binary
# embeds these files). `vendor.sh --check` fails when vendor/ differs from package.json's
# versions, as CI runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/" 2>/dev/null || cp "$here/package.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --silent 2>/dev/null || npm install --ignore-scripts --no-audit --no-fund --silent)
mkdir -p "$work/out"
cp "$work/node_modules/preact/dist/preact.module.js" "$work/out/preact.mjs"
cp "$work/node_modules/preact/hooks/dist/hooks.module.js" "$work/out/hooks.mjs"
cp "$work/node_modules/htm/dist/htm.module.js" "$work/out/htm.mjs"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r "$work/out" "$here/vendor" >/dev/null; then
    echo "web/app/vendor/ is stale: run web/app/vendor.sh and commit the result" >&2
    diff -rq "$work/out" "$here/vendor" >&2 || true
    exit 1
  fi
  echo "web/app/vendor/ matches package.json"
else
  rm -rf "$here/vendor"
  cp -r "$work/out" "$here/vendor"
  [[ -f "$here/package-lock.json" ]] || cp "$work/package-lock.json" "$here/"
fi
