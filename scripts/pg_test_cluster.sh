#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the server tests and benchmarks.
#
#   scripts/pg_test_cluster.sh start DIR [PORT]   initdb into DIR, start, create database
#                                                 "smart_support"; prints the SQLAlchemy URL
#   scripts/pg_test_cluster.sh stop DIR           stop the cluster and delete DIR
#
# PostgreSQL refuses to run as root: as root, the cluster runs as the system user
# $PG_TEST_OS_USER (default "smartpg", created with useradd if missing).
# Binaries: $PGBIN (default /usr/lib/postgresql/15/bin; Debian/Ubuntu: apt-get install postgresql-15).
set -euo pipefail

PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
OS_USER="${PG_TEST_OS_USER:-smartpg}"
cmd="${1:-}"
dir="${2:-}"

die() { echo "pg_test_cluster: $*" >&2; exit 3; }
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start DIR [PORT] | stop DIR"

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    for tool in initdb pg_ctl createdb; do
        [[ -x "$PGBIN/$tool" ]] || die "PostgreSQL binaries not found in $PGBIN ($tool missing): install postgresql-15 (apt-get install -y postgresql-15) or set PGBIN"
    done
    port="${3:-}"
    if [[ -z "$port" ]]; then
        port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    fi
    if [[ "$(id -u)" == 0 ]] && ! id -u "$OS_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER" \
            || die "could not create the system user $OS_USER"
    fi
    # Tests trade durability for speed; benchmarks set PG_TEST_DURABLE=1 to keep fsync on.
    speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [[ "${PG_TEST_DURABLE:-0}" == 1 ]] && speed=""
    mkdir -p "$dir/data" "$dir/sock"
    if [[ "$(id -u)" == 0 ]]; then chown -R "$OS_USER" "$dir"; fi
    chmod 700 "$dir/data"
    as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=128MB $speed" \
        start >/dev/null || { cat "$dir/server.log" >&2; die "postgres did not start"; }
    "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres smart_support \
        || die "createdb failed"
    echo "$port" >"$dir/port"
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/smart_support"
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 15 stop >/dev/null 2>&1 || {
            pid="$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
            [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
        }
    fi
    rm -rf "$dir"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
