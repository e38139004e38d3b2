#!/usr/bin/env bash
# A SPIRE server's sustained attestation rate on this machine, per attestor and datastore, and
# fleet-attest's offline rate on the same evidence.
#
#   scripts/bench-spire.sh [--write-perf] [--duration S] [--warmup S] [--nodes N]
#
# For each datastore (SQLite, then PostgreSQL from Debian's postgresql) a fresh loopback
# spire-server v1.13.3 is started (scripts/spire/server.sh: x509pop + join_token,
# `ratelimit { attestation = false }`, log level INFO as servers run), then for x509pop and for
# join_token the open-loop rate of `fleet-attest load` is stepped — doubling from 25/s, then
# bisecting twice between the last rate that held and the first that did not — where a rate
# holds when every attempt attested, p99 stays within 1 s and the throughput is at least 95 % of
# the rate. Each step uses nodes the server has not seen (--skip moves on; join tokens are
# registered first), so every attestation creates an agent. Latency is then measured at 50 % and
# 90 % of the highest rate that held. CPU per attestation: the server's (user + system from
# /proc, over the step) and the load generator's (its summary), per attempt. Offline:
# `fleet-attest verify` on the fleet's transcripts of the same nodes, per attestor.
#
# Results go to target/bench-spire/ (every summary, and section.md); --write-perf also puts
# section.md into PERF.md between its bench-spire markers. Both server and load generator run
# on this machine's cores, so each takes CPU from the other: the figures are a floor for a
# server with the machine to itself.
set -euo pipefail
cd "$(dirname "$0")/.."
write_perf=0 duration=10 warmup=3 nodes=80000
while (($#)); do
    case $1 in
        --write-perf) write_perf=1; shift ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        *) echo "scripts/bench-spire.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
export SPIRE_BIN=$(scripts/spire/build.sh)
cargo build --release --quiet
fa=$PWD/target/release/fleet-attest
out=$PWD/target/bench-spire
rm -rf "$out"
mkdir -p "$out"
fleet=$out/fleet
server_dir=$out/server
pg_dir=$out/postgres
cleanup() {
    scripts/spire/server.sh stop --dir "$server_dir" >/dev/null 2>&1 || true
    scripts/spire/postgres.sh stop --dir "$pg_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }
server_cpu() { # user + system seconds of the running server
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$(cat "$server_dir/server.pid")/stat"
}

gen_start=$(date +%s.%N)
"$fa" gen --live --out "$fleet" --nodes "$nodes" --join-tokens "$nodes" --seed 22 2>"$out/gen.log"
gen_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $gen_start:.1f}')")
echo "bench-spire: fleet of $nodes x509pop leaves and $nodes join tokens in ${gen_seconds}s"

declare -A skip
# One open-loop step; sets $line to "ok|fail rate p50 p90 p99 p999 max throughput server_cpu_us client_cpu_us".
step() {
    local attestor=$1 rate=$2 name=$3
    local planned=$(python3 -c "import math; print(math.ceil($rate * ($warmup + $duration)))")
    local args=(--attestor "$attestor" --rate "$rate" --duration "$duration" --warmup "$warmup"
                --skip "${skip[$attestor]}" --connections 8 --no-progress --summary "$out/$name.json")
    [[ $attestor == join_token ]] && args+=(--register-tokens --admin-socket "$server_dir/api.sock")
    local before=$(server_cpu)
    "$fa" load --server "127.0.0.1:$port" --bundle "$server_dir/bundle.pem" --fleet "$fleet" "${args[@]}" \
        >"$out/$name.txt" 2>"$out/$name.err"
    local after=$(server_cpu)
    skip[$attestor]=$(( (skip[$attestor] + planned) % nodes ))
    line=$(json "$out/$name.json" "' '.join(str(x) for x in [
        'ok' if d['total']['failures'] == 0 and d['total']['latency_us']['p99'] <= 1_000_000
             and d['total']['throughput_per_second'] >= 0.95 * $rate else 'fail',
        $rate, *(d['total']['latency_us'][k] for k in ('p50', 'p90', 'p99', 'p999', 'max')),
        round(d['total']['throughput_per_second'], 1),
        round(($after - $before) * 1e6 / (d['total']['attempts'] + d['warmup_attempts'])),
        round(d['client_cpu_seconds'] * 1e6 / (d['total']['attempts'] + d['warmup_attempts']))])")
}

ms() { python3 -c "print(f'{$1 / 1000:.1f}')"; }
table_row() { # label + a step line
    local label=$1; shift
    read -r _ rate p50 p90 p99 p999 max tput scpu ccpu <<<"$*"
    echo "| $label | $rate | $tput | $(ms "$p50") | $(ms "$p90") | $(ms "$p99") | $(ms "$p999") | $(ms "$max") | $scpu | $ccpu |"
}

rows=()
max_rows=()
for datastore in sqlite postgres; do
    scripts/spire/server.sh stop --dir "$server_dir" >/dev/null 2>&1 || true
    rm -rf "$server_dir"
    store=sqlite
    if [[ $datastore == postgres ]]; then
        conn=$(scripts/spire/postgres.sh start --dir "$pg_dir" --port "$(free_port)")
        store="postgres:$conn"
    fi
    port=$(free_port)
    scripts/spire/server.sh config --dir "$server_dir" --port "$port" --datastore "$store" \
        --x509pop-ca "$fleet/ca/root.pem" >/dev/null
    scripts/spire/server.sh start --dir "$server_dir" >/dev/null
    scripts/spire/server.sh bundle --dir "$server_dir" >"$server_dir/bundle.pem"
    skip[x509pop]=0 skip[join_token]=0
    for attestor in x509pop join_token; do
        good=0 bad=0 rate=25 best=
        while :; do
            step "$attestor" "$rate" "$datastore-$attestor-$rate"
            echo "bench-spire: $datastore $attestor $line"
            if [[ $line == ok* ]]; then good=$rate best=$line; else bad=$rate; break; fi
            (( rate >= 12800 )) && break
            rate=$(( rate * 2 ))
        done
        if (( bad > 0 && good > 0 )); then
            for _ in 1 2; do
                rate=$(( (good + bad) / 2 ))
                step "$attestor" "$rate" "$datastore-$attestor-$rate"
                echo "bench-spire: $datastore $attestor $line"
                if [[ $line == ok* ]]; then good=$rate best=$line; else bad=$rate; fi
            done
        fi
        if [[ -z $best ]]; then
            max_rows+=("| $datastore | $attestor | under 25/s | | | |")
            continue
        fi
        read -r _ _ _ _ _ _ _ tput scpu ccpu <<<"$best"
        max_rows+=("| $datastore | $attestor | $good | $tput | $scpu | $ccpu |")
        for pct in 50 90; do
            r=$(( good * pct / 100 ))
            (( r > 0 )) || r=1
            step "$attestor" "$r" "$datastore-$attestor-at$pct"
            echo "bench-spire: $datastore $attestor at $pct%: $line"
            rows+=("$(table_row "$datastore $attestor, $pct % of max" "$line")")
        done
    done
    scripts/spire/server.sh stop --dir "$server_dir" >/dev/null
    [[ $datastore == postgres ]] && scripts/spire/postgres.sh stop --dir "$pg_dir" >/dev/null
done

# Offline: the same nodes' transcripts through verify, per attestor.
offline_rows=()
for attestor in x509pop join_token; do
    grep "\"type\":\"$attestor\"" "$fleet/evidence.jsonl" >"$out/evidence-$attestor.jsonl"
    TIMEFORMAT='%R %U %S'
    t=$( { time "$fa" verify --config "$fleet/fleet.toml" --input "$out/evidence-$attestor.jsonl" \
              --output /dev/null --summary "$out/verify-$attestor.json" 2>/dev/null; } 2>&1 )
    read -r _ user sys <<<"$t"
    records=$(json "$out/verify-$attestor.json" "d['records']")
    attested=$(json "$out/verify-$attestor.json" "d['attested']")
    rps=$(json "$out/verify-$attestor.json" "round(d['records_per_second'])")
    threads=$(json "$out/verify-$attestor.json" "d['threads']")
    cpu_us=$(python3 -c "print(round(($user + $sys) * 1e6 / $records, 1))")
    offline_rows+=("| $attestor | $records | $attested | $rps | $threads | $cpu_us |")
    echo "bench-spire: offline $attestor: $rps records/s, $cpu_us µs CPU a record"
done

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
    echo "<!-- bench-spire:begin (written by scripts/bench-spire.sh --write-perf) -->"
    echo "## A real SPIRE server under load (\`fleet-attest load\`, scripts/bench-spire.sh)"
    echo
    echo "$(date -u +%Y-%m-%d), $(nproc) cores ($cpu_model), spire-server v1.13.3 on 127.0.0.1 with the load"
    echo "generator on the same cores; \`scripts/bench-spire.sh --write-perf\` (steps of ${warmup}s warmup +"
    echo "${duration}s counted, open loop, 8 HTTP/2 connections; every attestation a node the server has not"
    echo "seen). A rate holds when every attempt attested, p99 ≤ 1 s and throughput ≥ 95 % of the rate;"
    echo "the maximum is the highest rate that held (doubling from 25/s, then two bisections)."
    echo "CPU is per attempt, warmup included: the server's from /proc, the load generator's from getrusage."
    echo
    echo "Maximum sustained attestation rate:"
    echo
    echo "| datastore | attestor | max rate (/s) | throughput there (/s) | server CPU (µs/attestation) | client CPU (µs/attestation) |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${max_rows[@]}"
    echo
    echo "Latency at 50 % and 90 % of that rate (from each attempt's scheduled start, ms):"
    echo
    echo "| run | rate (/s) | throughput (/s) | p50 | p90 | p99 | p99.9 | max | server CPU (µs) | client CPU (µs) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "\`fleet-attest verify\` offline on the same nodes' evidence (x509pop transcripts of the same leaves;"
    echo "the same join tokens), $(nproc) threads, one run each:"
    echo
    echo "| attestor | records | attested | records/s | threads | CPU (µs/record) |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${offline_rows[@]}"
    echo
    echo "The fleet ($nodes x509pop leaves, each its own P-256 key under one intermediate, and $nodes join"
    echo "tokens) was minted by \`fleet-attest gen --live --nodes $nodes --join-tokens $nodes\` in $gen_seconds s."
    echo "<!-- bench-spire:end -->"
} >"$out/section.md"
cat "$out/section.md"
if (( write_perf )); then
    python3 - "$out/section.md" PERF.md <<'PY'
import re, sys
section = open(sys.argv[1]).read().rstrip("\n")
perf = open(sys.argv[2]).read()
pattern = re.compile(r"<!-- bench-spire:begin.*?<!-- bench-spire:end -->", re.S)
perf = pattern.sub(lambda _: section, perf) if pattern.search(perf) else perf.rstrip("\n") + "\n\n" + section + "\n"
open(sys.argv[2], "w").write(perf)
PY
    echo "bench-spire: PERF.md updated"
fi
