#!/bin/sh
# Prints fresh random secrets for docker-compose.yml: scripts/compose-secrets.sh > .env
# (docker compose reads .env beside docker-compose.yml; keep it private, never commit it).
set -eu
rand() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
echo "ELASTIC_PASSWORD=$(rand)"
echo "KIBANA_PASSWORD=$(rand)"
echo "KIBANA_ENCRYPTION_KEY=$(rand)"
echo "KONTEXT_FORWARD_SHARED_KEY=$(rand)"
echo "KONTEXT_AUTH_TOKENS=$(rand)"
