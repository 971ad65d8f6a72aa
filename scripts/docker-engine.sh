#!/usr/bin/env bash
# Ensures a Docker engine answers on this machine. There is no systemd here, so when no engine
# answers we install Debian's docker.io and run dockerd in the background ourselves.
# Idempotent: when `docker info` already succeeds (Docker Desktop, a CI service, an earlier run)
# it does nothing. DOCKER_DATA_ROOT: where a dockerd started here keeps its images and build cache
# (dockerd's own default, /var/lib/docker, when unset; scripts/cold-ci.sh gives an empty one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
RUN_DIR="${ROOT}/.run/docker"
LOG="${RUN_DIR}/dockerd.log"
WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
  log "engine already answers ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers and dockerd is missing; install Docker (needs root)"
    exit 1
  fi
  long "installing Debian's docker.io" "about a minute" apt_install docker.io iptables
fi

mkdir -p "${RUN_DIR}"
if [ -f "${RUN_DIR}/dockerd.pid" ] && kill -0 "$(cat "${RUN_DIR}/dockerd.pid")" 2>/dev/null; then
  log "dockerd (pid $(cat "${RUN_DIR}/dockerd.pid")) is starting; waiting"
else
  log "starting dockerd (log ${LOG})"
  # setsid: the daemon must outlive the shell (and test session) that started it.
  setsid dockerd ${DOCKER_DATA_ROOT:+--data-root "${DOCKER_DATA_ROOT}"} >"${LOG}" 2>&1 < /dev/null &
  echo $! >"${RUN_DIR}/dockerd.pid"
fi

for _ in $(seq 1 "${WAIT_SECONDS}"); do
  if engine_answers; then
    log "ready ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${WAIT_SECONDS}s; last log lines:"
tail -n 20 "${LOG}" >&2
exit 1
