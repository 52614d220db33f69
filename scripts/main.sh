#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, then runs `pulse demo` (local Orthanc +
# the service + the bundled model, loaded with a few synthetic cine studies). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/pulse.js demo "$@"
