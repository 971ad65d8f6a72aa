#!/usr/bin/env bash
# Run the fleet locally as background processes (pid files and logs under .run/fleet/).
#   fleet.sh up      start every server, wait for /ready, print URLs and a .mcp.json
#   fleet.sh down    stop them (SIGTERM, so in-flight calls drain)
#   fleet.sh status  show which are running and ready
# todo keeps its tasks in SQLite under the fleet dir; postgres and memory use DATABASE_URL when
# set, otherwise the private PostgreSQL of scripts/postgres.sh (MCP_PG_PORT), started here when
# it is not running. When there is no PostgreSQL to be had, todo still starts, postgres and
# memory each print one line saying why, and the .mcp.json lists only the servers that run.
# Exit status of up: 0 when every server runs or was left out for want of PostgreSQL and at
# least one runs; 1 when a server failed to start or become ready, or none runs.
# down stops the servers, and the private PostgreSQL too when up started it (it leaves one that
# was already running, e.g. for the tests, alone).
# Settings: FLEET_SERVERS (default: the registry's fleet servers), FLEET_DIR (default .run/fleet),
# FLEET_PORT_OFFSET (added to each server's registry port), FLEET_READY_TIMEOUT (seconds, 60),
# DATABASE_URL (the PostgreSQL for postgres and memory; unset: the private one).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
dir=${FLEET_DIR:-$root/.run/fleet}
offset=${FLEET_PORT_OFFSET:-0}
ready_timeout=${FLEET_READY_TIMEOUT:-60}
venv_bin="$root/.venv/bin"
pg_script="$root/scripts/postgres.sh"
pg_log="$dir/postgres.sh.log"
# Present while the private PostgreSQL runs because up started it: down stops it then.
pg_started_marker="$dir/postgres.started-by-fleet"

# Ports, databases and console scripts come from the server registry (pyproject.toml).
declare -A registry_port registry_database registry_script
fleet_servers=()
while read -r name port database script fleet; do
  registry_port[$name]=$port registry_database[$name]=$database registry_script[$name]=$script
  [[ "$fleet" == true ]] && fleet_servers+=("$name")
done < <(python3 "$root/scripts/server_registry.py" table)
servers=${FLEET_SERVERS:-${fleet_servers[*]}}

port_of() {
  [[ -n "${registry_port[$1]:-}" ]] || {
    log "unknown server '$1' in FLEET_SERVERS (known: ${fleet_servers[*]})"
    return 1
  }
  echo $((registry_port[$1] + offset))
}

script_of() { echo "${registry_script[$1]}"; }

needs_database() { [[ "${registry_database[$1]}" == required ]]; }

pid_of() {
  local file="$dir/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid=$(<"$file")
  # The pid must still be our server, not a recycled number.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$(script_of "$1")"; then
    echo "$pid"
  else
    rm -f "$file"
    return 1
  fi
}

http_get() { curl -s --noproxy '*' --max-time 5 "$@"; }

ready_code() { http_get -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port_of "$1")/ready" || true; }

database_url() {  # database_url SERVER
  if [[ -n "${DATABASE_URL:-}" ]]; then echo "$DATABASE_URL"; return; fi
  # The read-only SQL server gets a role that can read everything and nothing more.
  if [[ "$1" == postgres ]]; then
    bash "$pg_script" reader-url
  else
    bash "$pg_script" url
  fi
}

start_private_postgres() {  # 0 when it runs; otherwise 1, with postgres.sh's output in $pg_log
  bash "$pg_script" status 2>/dev/null && return 0
  bash "$pg_script" start >"$pg_log" 2>&1 || return 1
  touch "$pg_started_marker"
}

pg_failure() {  # the telling line of postgres.sh's output, without the log line prefix
  local line
  line=$(grep -m 1 -E 'not installed|already in use|FATAL|ERROR|^E: ' "$pg_log" || tail -n 1 "$pg_log")
  line=${line#postgres.sh: }
  sed -E 's/^.*\] [A-Z]+: +//' <<<"$line"
}

start_one() {
  local name=$1 port log pid db_url=""
  port=$(port_of "$name")
  log="$dir/$name.log"
  if pid=$(pid_of "$name"); then
    echo "$name: already running (pid $pid)"
    return 0
  fi
  if [[ ! -x "$venv_bin/$(script_of "$name")" ]]; then
    echo "$name: cannot start: $venv_bin/$(script_of "$name") is missing; run: uv sync --all-extras" >&2
    return 1
  fi
  if needs_database "$name"; then
    db_url=$(database_url "$name" 2>"$dir/$name.db.log") || {
      echo "$name: cannot start: scripts/postgres.sh gave no database URL (set DATABASE_URL, or see below)" >&2
      tail -n 5 "$dir/$name.db.log" >&2
      return 1
    }
  fi
  (
    # Only the settings this server should see: nothing inherited from a shell's MCP_* exports.
    while IFS='=' read -r var _; do unset "$var"; done < <(env | grep -E '^(MCP_|DATABASE_URL=|LOG_LEVEL=)')
    export MCP_HOST=127.0.0.1 MCP_PORT="$port" MCP_DATA_DIR="$dir/data/$name" LOG_LEVEL=info
    # shellcheck disable=SC2030 # the server's own environment, on purpose not the caller's
    [[ -n "$db_url" ]] && export DATABASE_URL="$db_url"
    exec setsid "$venv_bin/$(script_of "$name")" >"$log" 2>&1 </dev/null
  ) &
  pid=$!
  # Until the subshell has exec'd, its command line is still this script's.
  for _ in $(seq 50); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$(script_of "$name")" && break
    sleep 0.05
  done
  echo "$pid" >"$dir/$name.pid"
}

wait_ready() {
  local name=$1 deadline=$((SECONDS + ready_timeout)) code body
  while ((SECONDS < deadline)); do
    if ! pid_of "$name" >/dev/null; then
      echo "$name: exited at start; last lines of $dir/$name.log:" >&2
      tail -n 15 "$dir/$name.log" >&2
      return 1
    fi
    code=$(ready_code "$name")
    [[ "$code" == 200 ]] && return 0
    sleep 0.3
  done
  body=$(http_get "http://127.0.0.1:$(port_of "$name")/ready" || true)
  echo "$name: not ready after ${ready_timeout}s (/ready: ${body:-no answer}); last lines of $dir/$name.log:" >&2
  tail -n 15 "$dir/$name.log" >&2
  return 1
}

print_config() {
  local name pairs=()
  for name in "$@"; do pairs+=("$name=http://127.0.0.1:$(port_of "$name")/mcp"); done
  echo
  echo "Or add them to Claude Code with:"
  python3 "$root/scripts/client_configs.py" --format claude-cli "${pairs[@]}"
  echo "(VS Code and Cursor: python3 scripts/client_configs.py --format all ${pairs[*]})"
  # Last, and the only braces in the output: tests and scripts parse everything from the first "{".
  echo
  echo "Paste into .mcp.json:"
  python3 "$root/scripts/client_configs.py" --format claude "${pairs[@]}"
}

up() {
  mkdir -p "$dir"
  local name failed=0 no_database="" launched=() started=()
  for name in $servers; do port_of "$name" >/dev/null; done
  # shellcheck disable=SC2031 # the caller's DATABASE_URL; each server's subshell sets its own
  if [[ -z "${DATABASE_URL:-}" ]]; then
    for name in $servers; do
      needs_database "$name" || continue
      start_private_postgres || no_database="no PostgreSQL (scripts/postgres.sh start failed: \
$(pg_failure); all of its output in $pg_log); set DATABASE_URL to use another PostgreSQL"
      break
    done
  fi
  for name in $servers; do
    if [[ -n "$no_database" ]] && needs_database "$name"; then
      # Running without PostgreSQL is a supported setup, so this is no failure of up.
      echo "$name: not started: $no_database" >&2
    elif start_one "$name"; then
      launched+=("$name")
    else
      failed=1
    fi
  done
  for name in "${launched[@]}"; do
    if wait_ready "$name"; then
      echo "$name: ready at http://127.0.0.1:$(port_of "$name")/mcp (log $dir/$name.log)"
      started+=("$name")
    else
      failed=1
    fi
  done
  ((${#started[@]} == 0)) || print_config "${started[@]}"
  ((failed == 0)) || { log "some servers did not start (see above); 'make down' stops the rest"; return 1; }
  ((${#started[@]} > 0)) || { log "no server runs (see above)"; return 1; }
}

down() {
  local name pid deadline
  for name in "${!registry_port[@]}"; do
    pid=$(pid_of "$name") || continue
    kill -TERM "$pid"
    # The runtime drains in-flight calls for up to MCP_DRAIN_TIMEOUT_SECONDS (20 s).
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      echo "$name: killed after 30 s (pid $pid)"
    else
      echo "$name: stopped"
    fi
    rm -f "$dir/$name.pid"
  done
  if [[ -f "$pg_started_marker" ]]; then
    bash "$pg_script" stop
    rm -f "$pg_started_marker"
    echo "private PostgreSQL: stopped (up had started it)"
  fi
}

status() {
  local name pid
  for name in ${servers}; do
    if pid=$(pid_of "$name"); then
      echo "$name: running (pid $pid), /ready $(ready_code "$name"), http://127.0.0.1:$(port_of "$name")/mcp"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
