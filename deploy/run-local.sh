#!/usr/bin/env bash
# Runs Tenantdesk on the embedded default: a private PostgreSQL cluster in ./.tenantdesk, the
# demo tenants acme and globex, served at http://acme.localhost:8080 and
# http://globex.localhost:8080. Extra arguments go to `tenantdesk serve` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
ensure_packages initdb:postgresql cc:gcc
exec cargo run --locked -p tenantdesk -- serve "$@"
