#!/usr/bin/env bash
# A private PostgreSQL for local runs and tests: its own data dir under .run/postgres,
# listening on 127.0.0.1:${MCP_PG_PORT:-55432}, never touching a system cluster.
#   postgres.sh start   install Debian's postgresql if missing, init once, start (idempotent)
#   postgres.sh stop    stop it (keeps the data)
#   postgres.sh status  exit 0 when it accepts connections
#   postgres.sh url     print the admin URL
#   postgres.sh reader-url  print the URL of a read-only role (pg_read_all_data), creating it
#   postgres.sh destroy stop and delete the data dir
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${MCP_PG_PORT:-55432}
base="$root/.run/postgres"
data="$base/data"
sock="$base/socket"
log="$base/postgres.log"
user=mcp
password=mcp
database=mcp

url() { echo "postgresql://$user:$password@127.0.0.1:$port/$database"; }

# The read-only SQL server must not connect as a superuser: a read-only transaction does not
# stop a superuser's file and process functions (pg_read_file, pg_terminate_backend, ...).
reader=mcp_reader
reader_url() {
  # Over TCP with the admin URL, like every client: the socket dir belongs to whichever
  # checkout started the instance on this port.
  "$(pg_bin)/psql" "$(url)" -qtA -v ON_ERROR_STOP=1 -c "
    DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$reader') THEN
        CREATE ROLE $reader LOGIN PASSWORD '$password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
        GRANT pg_read_all_data TO $reader;
      END IF;
    END \$\$;" >/dev/null
  echo "postgresql://$reader:$password@127.0.0.1:$port/$database"
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$dir" ]] && echo "$dir"
}

# initdb and postgres refuse to run as root; run them as the packaged postgres user.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  if [[ -z "$(pg_bin)" ]]; then
    echo "postgres.sh: installing Debian's postgresql" >&2
    [[ $(id -u) -eq 0 ]] || { echo "postgres.sh: PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
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
  if ready; then return 0; fi
  # -p: MCP_PG_PORT wins over the port written into postgresql.conf at initdb.
  as_owner "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null || {
    echo "postgres.sh: PostgreSQL did not start; last lines of $log:" >&2; tail -n 20 "$log" >&2; exit 1; }
  if ! "$bin/psql" -h "$sock" -p "$port" -U "$user" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    "$bin/psql" -h "$sock" -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE $database"
  fi
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
