#!/usr/bin/env bash
# A private PostgreSQL for local runs and tests: its own data dir under .run/postgres,
# listening on 127.0.0.1:${MCP_PG_PORT:-55432}, never touching a system cluster.
#   postgres.sh start   install Debian's postgresql if missing, init once, start (idempotent)
#   postgres.sh stop    stop it (keeps the data)
#   postgres.sh status  exit 0 when it accepts connections
#   postgres.sh url     print the admin URL
#   postgres.sh reader-url  print the URL of the read-only role of the SQL server (below)
#   postgres.sh destroy stop and delete the data dir
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
port=${MCP_PG_PORT:-55432}
base="$root/.run/postgres"
data="$base/data"
sock="$base/socket"
log="$base/postgres.log"
user=mcp
password=mcp
database=mcp

url_of() { echo "postgresql://$user:$password@127.0.0.1:$port/$1"; }
url() { url_of "$database"; }

# The read-only SQL server's role holds the least-privilege recipe of
# servers/mcp_postgres/README.md: USAGE and SELECT on schema public, and SELECT on the tables
# the admin creates there later (default privileges). Not pg_read_all_data: that also reads
# every password hash in pg_authid. And PUBLIC may no longer run pg_cancel_backend or
# pg_terminate_backend (the admin, a superuser, still can): every call through the server
# shares the role, and a role may signal its own backends. Applied to template1 as well, so the
# databases the tests create inherit it. The role's comment records the recipe it holds.
reader=mcp_reader
recipe="mcp-servers least-privilege reader, recipe 2"

# Per database; concurrent starts queue on the advisory lock instead of racing on the catalogs.
reader_grants() {
  cat <<SQL
SELECT pg_advisory_xact_lock(hashtext('$reader'));
GRANT USAGE ON SCHEMA public TO $reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO $reader;
ALTER DEFAULT PRIVILEGES FOR ROLE $user IN SCHEMA public GRANT SELECT ON TABLES TO $reader;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer),
  pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;
SQL
}

ensure_reader() {
  # Over TCP with the admin URL, like every client: the socket dir belongs to whichever
  # checkout started the instance on this port.
  local psql; psql="$(pg_bin)/psql"
  [[ "$("$psql" "$(url)" -qtAc "SELECT shobj_description(oid, 'pg_authid')
      FROM pg_roles WHERE rolname = '$reader'")" == "$recipe" ]] && return 0
  "$psql" "$(url)" -q1 -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT pg_advisory_xact_lock(hashtext('$reader'));
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$reader') THEN
    CREATE ROLE $reader LOGIN PASSWORD '$password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  -- The recipe before issue #12 granted pg_read_all_data.
  IF pg_has_role('$reader', 'pg_read_all_data', 'MEMBER') THEN
    REVOKE pg_read_all_data FROM $reader;
  END IF;
END \$\$;
SQL
  local db
  for db in "$database" template1; do
    reader_grants | "$psql" "$(url_of "$db")" -q1 -v ON_ERROR_STOP=1 >/dev/null
  done
  "$psql" "$(url)" -qc "COMMENT ON ROLE $reader IS '$recipe'" >/dev/null
}

reader_url() { echo "postgresql://$reader:$password@127.0.0.1:$port/$database"; }

pg_bin() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$dir" ]] && echo "$dir"
}

# initdb and postgres refuse to run as root; run them as the packaged postgres user.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  if [[ -z "$(pg_bin)" ]]; then
    [[ $(id -u) -eq 0 ]] || { log "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql"; exit 1; }
    long "installing Debian's postgresql" "about a minute" apt_install postgresql
  fi
}

ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$port"; }

start() {
  ensure_installed
  local bin; bin=$(pg_bin)
  mkdir -p "$base" "$sock"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$base"; fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    local pwfile; pwfile=$(mktemp); echo "$password" >"$pwfile"; chmod 644 "$pwfile"
    as_owner "$bin/initdb" -D "$data" -U "$user" --pwfile="$pwfile" -A scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$base/initdb.log"
    rm -f "$pwfile"
    # Tests open many short-lived pools; durability is not what this instance is for.
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if ! ready; then
    # -p: MCP_PG_PORT wins over the port written into postgresql.conf at initdb.
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null || {
      log "PostgreSQL did not start; last lines of $log:"; tail -n 20 "$log" >&2; exit 1; }
    if ! "$bin/psql" -h "$sock" -p "$port" -U "$user" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
      "$bin/psql" -h "$sock" -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE $database"
    fi
  fi
  # Also on an instance already running: before any test database is copied from template1.
  ensure_reader
}

stop() {
  local bin; bin=$(pg_bin) || return 0
  [[ -f "$data/postmaster.pid" ]] || return 0
  as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ready ;;
  url) url ;;
  reader-url) start; reader_url ;;
  destroy) stop; rm -rf "$base" ;;
  *) echo "usage: $0 start|stop|status|url|reader-url|destroy" >&2; exit 2 ;;
esac
