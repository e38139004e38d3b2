#!/usr/bin/env bash
# A loopback spire-server for end-to-end scripts and tests: write its config, start it, fetch
# its bundle, stop it. Everything of one server lives in one folder DIR (config, data, log,
# admin socket DIR/api.sock, pid).
#
#   scripts/spire/server.sh config --dir DIR --port PORT --x509pop-ca FILE[,FILE…]
#                                  [--trust-domain TD] [--datastore sqlite|postgres:CONN]
#                                  [--log-level LEVEL]           # writes DIR/server.conf
#   scripts/spire/server.sh start  --dir DIR [--config FILE]     # waits until healthy
#   scripts/spire/server.sh bundle --dir DIR                     # the X.509 bundle, PEM, on stdout
#   scripts/spire/server.sh stop   --dir DIR
#
# The server binds 127.0.0.1 only, with `ratelimit { attestation = false }` (SPIRE's default
# limit of one attestation a second per client IP would be all a load test measures), the
# x509pop attestor trusting the given CA files, join_token, and the disk key manager (its CA
# survives a restart, so a client's bundle stays valid). SQLite (DIR/data/datastore.sqlite3) by
# default; --datastore postgres:CONN takes a PostgreSQL connection string (scripts/spire/postgres.sh).
# The binaries come from $SPIRE_BIN when set, else from scripts/spire/build.sh (cached).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}; shift || true
dir= port= cas= td=example.org datastore=sqlite config= log_level=INFO
while (($#)); do
    case $1 in
        --dir) dir=$2 ;;
        --port) port=$2 ;;
        --x509pop-ca) cas=$2 ;;
        --trust-domain) td=$2 ;;
        --datastore) datastore=$2 ;;
        --config) config=$2 ;;
        --log-level) log_level=$2 ;;
        *) echo "scripts/spire/server.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
[[ -n $dir ]] || { echo "scripts/spire/server.sh: --dir is required" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=${SPIRE_BIN:-}
[[ -n $bin ]] || bin=$("$here/build.sh")
socket=$dir/api.sock

case $cmd in
config)
    [[ -n $port && -n $cas ]] || { echo "scripts/spire/server.sh config: --port and --x509pop-ca are required" >&2; exit 2; }
    paths=
    IFS=, read -ra files <<<"$cas"
    for f in "${files[@]}"; do
        [[ -f $f ]] || { echo "scripts/spire/server.sh: $f: no such file" >&2; exit 1; }
        paths+="${paths:+, }\"$(cd "$(dirname "$f")" && pwd)/$(basename "$f")\""
    done
    case $datastore in
        sqlite) db_type=sqlite3 conn=$dir/data/datastore.sqlite3 ;;
        postgres:*) db_type=postgres conn=${datastore#postgres:} ;;
        *) echo "scripts/spire/server.sh: --datastore sqlite or postgres:CONN" >&2; exit 2 ;;
    esac
    mkdir -p "$dir/data"
    cat >"$dir/server.conf" <<CONF
server {
    bind_address = "127.0.0.1"
    bind_port = "$port"
    socket_path = "$socket"
    trust_domain = "$td"
    data_dir = "$dir/data"
    log_level = "$log_level"
    log_file = "$dir/server.log"
    ratelimit {
        attestation = false
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "$db_type"
            connection_string = "$conn"
        }
    }
    NodeAttestor "x509pop" {
        plugin_data {
            ca_bundle_paths = [$paths]
        }
    }
    NodeAttestor "join_token" {
        plugin_data {}
    }
    KeyManager "disk" {
        plugin_data {
            keys_path = "$dir/data/keys.json"
        }
    }
}
CONF
    echo "$dir/server.conf"
    ;;
start)
    config=${config:-$dir/server.conf}
    [[ -f $config ]] || { echo "scripts/spire/server.sh: $config: no such file (run config first)" >&2; exit 1; }
    if [[ -f $dir/server.pid ]] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        echo "scripts/spire/server.sh: a server is already running from $dir (pid $(cat "$dir/server.pid"))" >&2
        exit 1
    fi
    rm -f "$socket"
    "$bin/spire-server" run -config "$config" </dev/null >>"$dir/server.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/server.pid"
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "scripts/spire/server.sh: spire-server exited at start; its log:" >&2
            tail -n 20 "$dir/server.out" "$dir/server.log" >&2 2>/dev/null || true
            exit 1
        fi
        if "$bin/spire-server" healthcheck -socketPath "$socket" >/dev/null 2>&1; then
            echo "$socket"
            exit 0
        fi
        sleep 0.2
    done
    echo "scripts/spire/server.sh: spire-server not healthy after 60s (log: $dir/server.log)" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
    ;;
bundle)
    "$bin/spire-server" bundle show -socketPath "$socket" -format pem
    ;;
stop)
    [[ -f $dir/server.pid ]] || exit 0
    pid=$(cat "$dir/server.pid")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/server.pid"
    ;;
*)
    echo "usage: scripts/spire/server.sh config|start|bundle|stop --dir DIR [options]" >&2
    exit 2
    ;;
esac
