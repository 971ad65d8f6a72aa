#!/bin/sh
# First start: initdb with the superuser password from POSTGRES_PASSWORD, then run every
# /docker-entrypoint-initdb.d/*.sql once over the local socket. Later starts reuse PGDATA.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
socket_dir=/tmp
if [ ! -s "${PGDATA}/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s' "${POSTGRES_PASSWORD}" >"${pwfile}"
  initdb --username=postgres --pwfile="${pwfile}" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "${pwfile}"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"${PGDATA}/pg_hba.conf"
  pg_ctl --wait --silent -o "-c listen_addresses='' -k ${socket_dir}" start
  for script in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "${script}" ] || continue
    echo "entrypoint: running ${script}"
    psql --host="${socket_dir}" --username=postgres --set=ON_ERROR_STOP=1 --quiet --file="${script}"
  done
  pg_ctl --wait --silent -m fast stop
fi
exec postgres -c listen_addresses='*' -k "${socket_dir}"
