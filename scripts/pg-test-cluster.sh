#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the store tests: a temp folder, a free port on loopback, trust
# authentication, its socket in the same folder. Nothing of the machine's own clusters is used or
# touched (Debian may have started one on 5432; the tests never rely on it).
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # sets TEST_DATABASE_URL and PG_TEST_CLUSTER_DIR
#   scripts/pg-test-cluster.sh stop "$PG_TEST_CLUSTER_DIR"
#   scripts/pg-test-cluster.sh down DIR; scripts/pg-test-cluster.sh up DIR   # an outage: same port, same data
#
# `start` prints shell lines (export ...) on stdout and everything for people on stderr.
# initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres` user
# that Debian's package creates. PG_BIN picks the binaries (default: the newest in
# /usr/lib/postgresql/*/bin, else pg_config --bindir).
set -euo pipefail

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$newest" ]; then echo "$newest"; return; fi
  command -v pg_config >/dev/null && { pg_config --bindir; return; }
  echo "no PostgreSQL binaries: install Debian's postgresql package or set PG_BIN" >&2
  exit 1
}

# Runs a command as the cluster's owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

start() {
  local bin dir port
  bin=$(find_bin)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/pg-test-cluster.XXXXXX")
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "running as root, but there is no postgres user to own the cluster" >&2; exit 1; }
    chown postgres: "$dir"
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(free_port)
  # fsync off: the cluster lives for one test run; durability is SQLite's and the server's business
  # (PG_TEST_DURABLE=1 keeps PostgreSQL's defaults, for benchmarks against SQLite's synchronous=FULL).
  # max_connections: every store the tests open has a pool of its own.
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PG_TEST_DURABLE:-}" = 1 ] && durability=""
  # Kept for `up`, which starts the same server again after `down`.
  echo "-c listen_addresses=127.0.0.1 -p $port -k $dir $durability -c max_connections=300" >"$dir/postgres.options"
  up "$dir"
  echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
  echo "export PG_TEST_CLUSTER_DIR=$dir"
  echo "PostgreSQL test cluster on 127.0.0.1:$port in $dir ($bin)" >&2
  echo "stop it with: $0 stop $dir" >&2
}

stop() {
  local dir=${1:?usage: $0 stop DIR}
  [ -d "$dir/data" ] || { echo "$dir holds no cluster" >&2; exit 1; }
  as_owner "$(find_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
}

# Stops the server (fast: sessions are ended) and keeps the cluster, for tests of an outage.
down() {
  local dir=${1:?usage: $0 down DIR}
  as_owner "$(find_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >&2
}

# Starts the cluster's server, on the port and with the settings it was created with.
up() {
  local dir=${1:?usage: $0 up DIR}
  as_owner "$(find_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/postgres.options")" \
    start >&2 || { cat "$dir/server.log" >&2; exit 1; }
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  down) down "${2:-}" ;;
  up) up "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR | down DIR | up DIR" >&2; exit 2 ;;
esac
