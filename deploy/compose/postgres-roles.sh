#!/usr/bin/env bash
# docker-compose's PostgreSQL, at its first start: one login role per service (its password from
# the Docker secret postgres-<service>), not a superuser, with CREATE on the database so that it
# creates, and owns, its schema; no privilege on another's. The same roles as deploy/local/infra.sh.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "REVOKE ALL ON DATABASE \"$POSTGRES_DB\" FROM PUBLIC"
for secret in /run/secrets/postgres-*; do
  role="${secret#/run/secrets/postgres-}"
  [[ "$role" == admin ]] && continue
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v role="$role" -v pw="$(cat "$secret")" \
    -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"db" TO :"role";
SQL
done
