#!/usr/bin/env bash
# `npm test`: the whole suite, from a fresh Debian 12 machine as root, with zero skips.
#   1. system packages (scripts/system-deps.sh: idempotent apt-get),
#   2. the sstpc VM image (shared/sstpc-vm/run --prepare; a no-op once cached),
#   3. the TypeScript build, then every test file under dist/test with node's test runner.
# shared/ is looked for beside the checkout, or at $SSTPD_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
shared=${SSTPD_SHARED:-$(dirname "$PWD")/shared}
if [ -f "$shared/sstpc-vm/run" ]; then
    # Called through bash: a copy of shared/ may have lost its exec bits.
    bash "$shared/sstpc-vm/run" --prepare
else
    echo "test: $shared/sstpc-vm/run not found; set SSTPD_SHARED to the shared/ folder" >&2
    exit 1
fi
[ -f native/build/Release/sstpd_tun.node ] || npm run build:native
npm run build:ts
exec node --enable-source-maps --test --test-concurrency=4 $(find dist/test -name '*.test.js' | sort)
