#!/usr/bin/env bash
# Installs the OHIF viewer the service serves under /ohif/ (`pulse demo`, `viewer.ohif: true`): the
# prebuilt dist/ of the npm package @ohif/app, pinned by version and integrity, into vendor/ohif/.
#
# Why not an npm dependency: @ohif/app 3.13.2 declares dependencies that are not published
# (@ohif/i18n@3.13.2), so `npm install @ohif/app` fails, and the ones that are would pull React and
# webpack loaders the service never runs; only the prebuilt dist/ is used. `npm pack` fetches the
# package alone from the npm registry; the source maps (38 MB) are left out. Safe to run again:
# nothing is fetched when vendor/ohif/ already holds this version.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.13.2
INTEGRITY='sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA=='
TARGET=vendor/ohif
MARKER="$TARGET/.pulse-ohif"

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "@ohif/app@$VERSION $INTEGRITY" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "setup: fetching the OHIF viewer (@ohif/app@$VERSION, about 50 MB) from the npm registry"
npm pack "@ohif/app@$VERSION" --pack-destination "$work" --silent >/dev/null
tarball=$(ls "$work"/ohif-app-*.tgz)
# Node (always here) computes the digest: no other tool is assumed.
actual=$(node -e 'const { createHash } = require("node:crypto"); process.stdout.write("sha512-" + createHash("sha512").update(require("node:fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")
if [ "$actual" != "$INTEGRITY" ]; then
  echo "setup: @ohif/app@$VERSION does not match its pinned integrity (got $actual)" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" --exclude='*.map' package/dist package/LICENSE
rm -rf "$TARGET"
mkdir -p "$(dirname "$TARGET")"
mv "$work/package/dist" "$TARGET"
cp "$work/package/LICENSE" "$TARGET/LICENSE.ohif"
echo "@ohif/app@$VERSION $INTEGRITY" >"$MARKER"
echo "setup: OHIF viewer in $TARGET ($(du -sh "$TARGET" | cut -f1))"
