#!/usr/bin/env bash
# Fails when the committed generated code differs from what `npm run gen:proto` produces now.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
buf generate -o "$tmp"
buf build --exclude-source-info -o "$tmp/src/generated/descriptors.binpb"
if ! diff -r "$tmp/src/generated" src/generated; then
  echo "src/generated is out of date with proto/: run 'npm run gen:proto' and commit the result." >&2
  exit 1
fi
echo "generated code is up to date"
