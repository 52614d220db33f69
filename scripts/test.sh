#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, checks the layering, then runs every
# test with node:test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A wrong import (a layer importing one above it, or a cycle) fails here, before the tests
# (.dependency-cruiser.cjs holds the rules; docs/architecture.md explains them).
npm run --silent check:deps
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=2 "${files[@]}"
