#!/usr/bin/env bash
# Creates the API tokens docker-compose.yml reads as Docker secrets (./secrets/, git-ignored):
# one admin token and one viewer token, random, readable by you only; for the `scale` profile the
# PostgreSQL password and the job store URL that holds it. Existing files are kept.
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
if [ ! -s secrets/postgres-password ]; then
  node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('hex') + '\n')" > secrets/postgres-password
  echo "wrote secrets/postgres-password"
fi
if [ ! -s secrets/pulse-queue-url ]; then
  printf 'postgres://pulse:%s@postgres:5432/pulse\n' "$(head -n 1 secrets/postgres-password)" > secrets/pulse-queue-url
  echo "wrote secrets/pulse-queue-url"
fi
