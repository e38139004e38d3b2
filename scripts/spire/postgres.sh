#!/usr/bin/env bash
# A throwaway PostgreSQL (Debian's postgresql, installed with apt-get when missing) on
# 127.0.0.1, for spire-server's SQL datastore.
#
#   conn=$(scripts/spire/postgres.sh start --dir DIR --port PORT)   # prints the connection string
#   scripts/spire/server.sh config … --datastore "postgres:$conn"
#   scripts/spire/postgres.sh stop --dir DIR                         # stops it, deletes its data
#
# The cluster lives in a fresh folder owned by the postgres user (PostgreSQL refuses to run as
# root; as root the script runs it as postgres), trusts loopback connections, and holds one
# database, spire. DIR keeps only the cluster's path and log.
set -euo pipefail
cmd=${1:-}; shift || true
dir= port=
while (($#)); do
    case $1 in
        --dir) dir=$2 ;;
        --port) port=$2 ;;
        *) echo "scripts/spire/postgres.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
[[ -n $dir ]] || { echo "scripts/spire/postgres.sh: --dir is required" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pgbin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    [[ -n $port ]] || { echo "scripts/spire/postgres.sh start: --port is required" >&2; exit 2; }
    if [[ -z $(pgbin) ]]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq postgresql >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
    fi
    bin=$(pgbin)
    data=$(mktemp -d /tmp/fleet-attest-pg.XXXXXX)
    [[ $(id -u) == 0 ]] && chown postgres: "$data"
    echo "$data" >"$dir/postgres.path"
    as_pg "$bin/initdb" -D "$data/cluster" -U postgres --auth=trust >"$dir/postgres.log" 2>&1
    as_pg "$bin/pg_ctl" -D "$data/cluster" -l "$data/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200" start >>"$dir/postgres.log"
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres spire
    echo "dbname=spire user=postgres host=127.0.0.1 port=$port sslmode=disable"
    ;;
stop)
    [[ -f $dir/postgres.path ]] || exit 0
    data=$(cat "$dir/postgres.path")
    if [[ -d $data/cluster ]]; then
        as_pg "$(pgbin)/pg_ctl" -D "$data/cluster" -m fast -w stop >>"$dir/postgres.log" 2>&1 || true
        cp "$data/server.log" "$dir/postgres-server.log" 2>/dev/null || true
    fi
    [[ $data == /tmp/fleet-attest-pg.* ]] && rm -rf "$data"
    rm -f "$dir/postgres.path"
    ;;
*)
    echo "usage: scripts/spire/postgres.sh start|stop --dir DIR [--port PORT]" >&2
    exit 2
    ;;
esac
