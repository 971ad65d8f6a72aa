#!/usr/bin/env bash
# A private OCI registry (the CNCF distribution registry, .tools/bin/registry) for `make release`
# and its tests: plain HTTP on 127.0.0.1:${MCP_REGISTRY_PORT:-55050} only, its state and storage
# under .run/registry/<port>/, so instances on other ports (the tests') keep to their own.
#   registry.sh start     build the registry if missing, start it (idempotent), wait for /v2/
#   registry.sh stop      stop it and wait until the process is gone (keeps the storage)
#   registry.sh status    exit 0 when /v2/ answers
#   registry.sh url       print the address `make release REGISTRY=...` takes (host:port)
#   registry.sh destroy   stop it and delete its state and storage
# Docker pushes to a loopback registry over plain HTTP without configuration; helm needs
# --plain-http and cosign --allow-http-registry (scripts/release.sh passes them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
port=${MCP_REGISTRY_PORT:-55050}
address="127.0.0.1:$port"
base="$root/.run/registry/$port"
pidfile="$base/registry.pid"
logfile="$base/registry.log"
binary="$root/.tools/bin/registry"
START_TIMEOUT_SECONDS=30
STOP_TIMEOUT_SECONDS=10

answers() { curl -fsS --max-time 2 -o /dev/null "http://$address/v2/" 2>/dev/null; }

# Exited but not yet reaped (a zombie) counts as gone. Each thread is asked: a Go process's
# first thread turns zombie before the others have exited and closed its listener.
running() {
  local task
  for task in /proc/"$1"/task/*/stat; do
    [[ "$(awk '{print $3}' "$task" 2>/dev/null)" =~ ^[^Z]$ ]] && return 0
  done
  return 1
}

# A pid is ours while it runs this binary: after a reboot the pid file may name another process.
ours() {
  running "$1" && [[ "$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" == "$binary serve "* ]]
}

running_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ -n "$pid" ]] && ours "$pid" && echo "$pid"
}

write_config() {
  mkdir -p "$base/storage"
  # Deletes on: the tests remove signatures through the API to see verify-release fail.
  # No upload purging: a short-lived registry has no stale uploads worth a background sweep.
  cat >"$base/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $base/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $address
YAML
}

start() {
  if running_pid >/dev/null && answers; then return 0; fi
  answers && die "something else answers on $address (not this checkout's registry); set MCP_REGISTRY_PORT to another port"
  [[ -x "$binary" ]] || bash "$root/scripts/install-tools.sh" registry
  write_config
  # Its own session, so the caller's Ctrl-C or exit does not take it along; no OpenTelemetry
  # exporter, which would otherwise retry an OTLP collector on localhost and log each failure.
  OTEL_TRACES_EXPORTER=none setsid "$binary" serve "$base/config.yml" >>"$logfile" 2>&1 </dev/null &
  local pid=$! waited=0
  echo "$pid" >"$pidfile"
  until answers; do
    # Not ours(): until it has exec'd the registry, the child is still this shell.
    if ! running "$pid"; then
      rm -f "$pidfile"
      log "the registry exited while starting; last lines of ${logfile#"$root/"}:"
      tail -n 20 "$logfile" >&2
      exit 1
    fi
    ((waited++ < START_TIMEOUT_SECONDS * 10)) || { stop; die "the registry did not answer on http://$address/v2/ within ${START_TIMEOUT_SECONDS} s (log: ${logfile#"$root/"})"; }
    sleep 0.1
  done
}

stop() {
  local pid waited=0
  pid=$(running_pid) || { rm -f "$pidfile"; return 0; }
  kill "$pid"
  while running "$pid"; do
    if ((waited++ >= STOP_TIMEOUT_SECONDS * 10)); then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
  done
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  url) echo "$address" ;;
  destroy) stop; rm -rf "$base" ;;
  *) echo "usage: $0 start|stop|status|url|destroy" >&2; exit 2 ;;
esac
