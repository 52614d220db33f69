#!/usr/bin/env bash
# Installs what is missing, and nothing else: Debian packages with apt-get, npm packages with npm ci
# (which also builds the TypeScript through the prepare script). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-numpy/nibabel/scipy: the tests that compare against the training code and nibabel's NIfTI geometry.
# python3-torch/onnx/sklearn: the training smoke tests (test/training-smoke.test.ts: one training step per stage,
# the cross-validation on synthetic phantoms, training/tests) run in CI: about 40 s to install, under a minute to run.
# chromium: the browser tests of the dashboard (driven by playwright-core, never a downloaded browser).
# postgresql-15: the PostgreSQL job store's tests start their own temporary server (test/support/postgres.ts);
# orthanc-postgresql: Orthanc's index and storage on PostgreSQL (the compose `scale` profile, test/orthanc-postgresql.test.ts).
# g++ and make: npm ci compiles better-sqlite3 from source (its prebuilt-binary download is not allowed here).
DEBIAN_PACKAGES=(g++ make orthanc orthanc-dicomweb orthanc-gdcm dicom3tools dcmtk default-jre-headless libpixelmed-java pixelmed-apps python3-numpy python3-nibabel python3-scipy python3-torch python3-onnx python3-sklearn chromium poppler-utils postgresql-15 orthanc-postgresql)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # The orthanc and postgresql packages start system services on install where policy allows; we never use them.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then $SUDO systemctl stop orthanc || true; fi
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet postgresql 2>/dev/null; then $SUDO systemctl stop postgresql || true; fi
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
else
  npm run --silent build
fi

# The OHIF viewer the service serves (`pulse demo`; docs: README "Viewing the results"): the prebuilt
# dist/ of the npm package @ohif/app, pinned, into vendor/ohif/. PULSE_SKIP_OHIF=1 skips it.
if [ "${PULSE_SKIP_OHIF:-0}" != "1" ]; then
  bash scripts/install-ohif.sh
fi
