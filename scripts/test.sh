#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, checks the layering, then runs every
# test with node:test on the machine's Node (20), then again on Node 22 (scripts/test-node22.sh: Node 22
# and a better-sqlite3 built for it, both from the npm registry). PULSE_TEST_NODE22=0 skips the second run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A wrong import (a layer importing one above it, or a cycle) fails here, before the tests
# (.dependency-cruiser.cjs holds the rules; docs/architecture.md explains them).
npm run --silent check:deps
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
echo "test: $(node --version), ${#files[@]} test files"
node --test --test-concurrency=2 "${files[@]}"
# The reduced reliability suite (docs/testing.md): the real service through kills, Orthanc stops, an
# outage, a read-only and a full data folder (as root), a lossy network, the bad-input corpus and a
# fuzz run; it exits non-zero when anything is lost, duplicated, crashed, invalid or uncaught.
# PULSE_TEST_RELIABILITY=0 skips it.
if [ "${PULSE_TEST_RELIABILITY:-1}" != "0" ]; then
  node dist/test/reliability/suite.js --size ci
fi
if [ "${PULSE_TEST_NODE22:-1}" != "0" ]; then
  bash scripts/test-node22.sh "${files[@]}"
fi
