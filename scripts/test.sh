#!/usr/bin/env bash
# The test suite. Debian's redis-server and chromium are installed when missing (apt-get, as
# root; chromium opens the HTML reports headless, from a file, with no network); one Redis
# server is started on loopback for the suite (FLEET_ATTEST_TEST_REDIS) and stopped on exit (the
# tests that kill Redis or speak TLS to it start servers of their own). spire-server and
# spire-agent v1.13.3 are built from conformance/spire with Go (cached in target/spire/bin; ~5 min
# from a cold Go cache, seconds after) for the tests against a real server. Then `cargo test`
# (extra arguments go to it) and the SPIRE conformance module (`go test` in conformance/spire)
# against the fleet-attest binary just built.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
redis-server --version
/usr/bin/chromium --version
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
spire_start=$(date +%s)
FLEET_ATTEST_SPIRE_BIN=$(scripts/spire/build.sh)
export FLEET_ATTEST_SPIRE_BIN SPIRE_BIN=$FLEET_ATTEST_SPIRE_BIN
echo "spire-server and spire-agent ready in $(( $(date +%s) - spire_start ))s: $FLEET_ATTEST_SPIRE_BIN"
cargo test "$@"
# SPIRE v1.13.3's own code judges the same evidence (conformance/spire, a Go module): its
# x509pop plugin and join-token attestation against `fleet-attest verify`.
cargo build "$@"
(cd conformance/spire && FLEET_ATTEST_BIN="$PWD/../../target/debug/fleet-attest" go test -count=1 ./...)
