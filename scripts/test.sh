#!/usr/bin/env bash
# The test suite: `cargo test`, with what its Redis tests need. Debian's redis-server is
# installed when missing (apt-get, as root), one server is started on loopback for the suite
# (FLEET_ATTEST_TEST_REDIS) and stopped on exit; the tests that kill Redis or speak TLS to it
# start servers of their own. When Go is installed, spire-server v1.13.3 is built (cached in
# target/spire/bin; ~5 min from a cold Go cache, seconds after) for the test of `load` against a
# real server, which is skipped with its reason printed otherwise. Extra arguments go to
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq redis-server >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
fi
redis-server --version
mkdir -p target
redis_port=${FLEET_ATTEST_TEST_REDIS_PORT:-16379}
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --daemonize yes --logfile "$PWD/target/test-redis.log" --pidfile "$PWD/target/test-redis.pid"
trap 'redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true' EXIT
for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null
export FLEET_ATTEST_TEST_REDIS="redis://127.0.0.1:$redis_port"
if command -v go >/dev/null; then
    spire_start=$(date +%s)
    export FLEET_ATTEST_SPIRE_BIN=$(scripts/spire/build.sh)
    echo "spire-server ready in $(( $(date +%s) - spire_start ))s: $FLEET_ATTEST_SPIRE_BIN"
else
    echo "go is not installed: the spire-server test will be skipped"
fi
cargo test "$@"
