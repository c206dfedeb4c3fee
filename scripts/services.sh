#!/usr/bin/env bash
# Starts a private PostgreSQL cluster and a Redis, on free loopback ports, in a throw-away
# folder; prints the variables that point the tests (CONFAB_TEST_POSTGRES) and the bench
# (CONFAB_BENCH_POSTGRES, CONFAB_BENCH_REDIS) at them. The machine's own are not touched.
#   scripts/services.sh start DIR > DIR/env && . DIR/env     then   scripts/services.sh stop DIR
# (not `eval "$(…)"`: that would hide a failed start, and the tests would quietly skip).
# DURABLE=1 keeps PostgreSQL's fsync on (benchmarks); tests run without it.
set -euo pipefail
cmd="${1:?start|stop}"; dir="${2:?folder}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL is not installed (scripts/prereqs.sh test)" >&2; exit 1; }
# initdb refuses to run as root: root runs the cluster as the user the package creates.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

case "$cmd" in
start)
  mkdir -p "$dir/pg"
  if [ "$(id -u)" -eq 0 ]; then
    # mktemp -d makes a 0700 folder: the postgres user must be able to pass through it.
    chmod 0755 "$dir"
    chown postgres "$dir/pg"
  fi
  port="$(free_port)"
  "${as_pg[@]}" "$pgbin/initdb" -D "$dir/pg/data" --auth=trust -U postgres >"$dir/pg/initdb.log"
  # fsync off: test clusters hold test data only and are deleted afterwards.
  fast="-c fsync=off -c synchronous_commit=off"
  [ "${DURABLE:-}" = 1 ] && fast=""
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w start \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 $fast -c max_connections=400" >/dev/null
  url="postgres://postgres@127.0.0.1:$port/postgres"
  echo "export CONFAB_TEST_POSTGRES=$url CONFAB_BENCH_POSTGRES=$url"
  if command -v redis-server >/dev/null; then
    rport="$(free_port)"
    mkdir -p "$dir/redis"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/redis" \
      --daemonize yes --pidfile "$dir/redis/pid" --logfile "$dir/redis/log"
    echo "export CONFAB_BENCH_REDIS=redis://127.0.0.1:$rport/"
  fi
  ;;
stop)
  [ -d "$dir/pg/data" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null || true
  [ -f "$dir/redis/pid" ] && kill "$(cat "$dir/redis/pid")" 2>/dev/null || true
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
