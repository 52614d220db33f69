#!/usr/bin/env bash
# Creates the API tokens docker-compose.yml reads as Docker secrets (./secrets/, git-ignored):
# one admin token and one viewer token, random, readable by you only. Existing files are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
mkdir -p secrets
for name in admin-tokens viewer-tokens; do
  if [ ! -s "secrets/$name" ]; then
    node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url') + '\n')" > "secrets/$name"
    echo "wrote secrets/$name"
  fi
done
