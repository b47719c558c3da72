#!/usr/bin/env bash
# PostgreSQL for oi-sessions' PostgreSQL tests and benchmark, idempotently:
# installs Debian's postgresql when it is missing, starts the cluster when it
# is down, creates (or resets the password of) role `oi` and database
# `oi_sessions_test`, then prints the connection URL on stdout. Everything else
# goes to stderr, so `URL=$(scripts/postgres.sh)` works.
#
#   export OI_SESSIONS_TEST_DATABASE_URL="$(bash scripts/postgres.sh)"
#
# Overrides: OI_PG_USER, OI_PG_PASSWORD, OI_PG_DB. Needs root (apt-get,
# pg_ctlcluster) or sudo.
set -euo pipefail

PG_USER="${OI_PG_USER:-oi}"
PG_PASSWORD="${OI_PG_PASSWORD:-oi-sessions-test}"
PG_DB="${OI_PG_DB:-oi_sessions_test}"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
log() { echo "postgres.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

ensure_system_packages postgresql

# The newest installed major version's first cluster; created when the
# package left none (e.g. a container where the postinst skipped it).
version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
cluster="$(pg_lsclusters -h | awk -v v="$version" '$1 == v { print $2; exit }')"
if [ -z "$cluster" ]; then
  log "creating cluster $version/main"
  as_root pg_createcluster "$version" main >&2
  cluster=main
fi
read -r port status < <(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3, $4 }')
if [ "$status" != "online" ]; then
  log "starting cluster $version/$cluster on port $port"
  as_root pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 1 100); do
  if as_postgres pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
  sleep 0.1
done
as_postgres pg_isready -q -h 127.0.0.1 -p "$port" || { log "postgresql on port $port is not ready"; exit 1; }

# \gexec runs the generated statement only when the role or database is missing;
# format(%I, %L) quotes the names and the password.
as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres \
  -v user="$PG_USER" -v password="$PG_PASSWORD" -v db="$PG_DB" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'user', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

# The password is URL-encoded by python3 when it has characters a URL reserves.
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
echo "postgres://$(enc "$PG_USER"):$(enc "$PG_PASSWORD")@127.0.0.1:$port/$(enc "$PG_DB")"
