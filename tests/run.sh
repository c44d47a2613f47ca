#!/usr/bin/env bash
# Runs the whole Tenantdesk test suite against real PostgreSQL, Redis and Chromium, installing
# the Debian/Ubuntu packages that are missing (an SMTP server, aiosmtpd, too). The harness starts its own PostgreSQL cluster and
# redis-server unless TEST_DATABASE_URL / REDIS_URL are set. Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
ensure_packages initdb:postgresql redis-server:redis-server chromium:chromium \
  chromedriver:chromium-driver aiosmtpd:python3-aiosmtpd cc:gcc \
  /usr/sbin/slapd:slapd ldapadd:ldap-utils openssl:openssl node:nodejs npm:npm
# The OpenID Connect tests run oidc-provider, pinned by tests/oidc/package-lock.json.
(cd tests/oidc && npm ci --no-audit --no-fund)
# The CLI and embedded-default tests run the real binary.
cargo build --locked -p tenantdesk
cargo test --locked --workspace "$@"
