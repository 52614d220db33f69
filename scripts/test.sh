#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, then runs every test with node:test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=2 "${files[@]}"
