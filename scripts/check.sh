#!/usr/bin/env bash
# Compile only the given entry files (and what they import) into a private outDir, then run the
# *.test.ts among them with node's test runner. Lets one layer be checked while others are mid-edit.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .check && out=$(mktemp -d "$PWD/.check/run.XXXXXX")  # inside the repo so node_modules resolves
trap 'rm -rf "$out"' EXIT
npx tsc --strict --noImplicitOverride --noUnusedLocals --noFallthroughCasesInSwitch --target ES2022 \
  --module NodeNext --moduleResolution NodeNext --rootDir . --outDir "$out" --skipLibCheck \
  --types node --resolveJsonModule --esModuleInterop --sourceMap "$@"
tests=()
for f in "$@"; do case $f in *.test.ts) tests+=("$out/${f%.ts}.js") ;; esac; done
if [ ${#tests[@]} -gt 0 ]; then node --enable-source-maps --test "${tests[@]}"; fi
