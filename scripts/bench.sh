#!/usr/bin/env bash
# Reproduces every figure of PERF.md on this machine. Writes raw output to target/perf/ and
# prints it. Takes about 65 minutes on 2 cores (the table alone ~45). Run on an otherwise idle
# machine.
#
#   scripts/bench.sh [SECTION...]   sections: table redis scale peer (default: all)
#   BENCH_RUNS=N                    runs of the engine/ceiling table (default 5; medians reported)
#   PEER_RUNS=N                     runs of the criterion peer comparison (default 3)
#
# To tell two builds apart by less than single runs drift (a point or so), see scripts/ab.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=./target/release/fleet-attest
out=target/perf
mkdir -p "$out"
lscpu | grep -E "Model name|^CPU\(s\)" | tee "$out/machine.txt"
sections=${*:-table redis scale peer}
want() { [[ " $sections " == *" $1 "* ]]; }

if want table; then
  runs=${BENCH_RUNS:-5}
  echo "== bench: engine vs ceiling, median of 7 paired rounds, 30000 records; $runs runs"
  : > "$out/bench.txt"
  for run in $(seq "$runs"); do
    for threads in 2 1; do
      for alg in ES256 ES384 EdDSA RS256 PS256 x509pop; do
        "$bin" bench --alg "$alg" --threads "$threads" | tail -1 | sed "s/^/run=$run /" \
          | tee -a "$out/bench.txt"
      done
    done
  done
  # The shared machine drifts between runs: report, per algorithm and thread count, the run
  # whose ratio is the median of the runs.
  echo "== median run of $runs, by ratio"
  awk '{print $3, $4}' "$out/bench.txt" | sort -u -k2,2r -k1,1 | while read -r alg threads; do
    grep " $alg $threads " "$out/bench.txt" | awk '{split($7, r, "="); print r[2], $0}' \
      | sort -g | cut -d' ' -f2- | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}'
  done | tee "$out/bench-median.txt"
fi

if want redis; then
  echo "== single use in Redis vs in memory (ES256, 2 threads), a redis-server of this script's own"
  if command -v redis-server >/dev/null; then
    redis_dir=$(mktemp -d)
    redis-server --bind 127.0.0.1 --port 6390 --save "" --appendonly no --daemonize yes \
      --dir "$redis_dir" --logfile "$redis_dir/log"
    sleep 0.5
    : > "$out/redis.txt"
    for _ in 1 2 3; do
      "$bin" bench --alg ES256 --threads 2 --replay-store redis://127.0.0.1:6390/9 | tail -2 \
        | tee -a "$out/redis.txt"
    done
    for alg in RS256 HS256; do
      "$bin" bench --alg "$alg" --threads 2 --replay-store redis://127.0.0.1:6390/9 | tail -2 \
        | tee -a "$out/redis.txt"
    done
    redis-cli -p 6390 shutdown nosave || true
    rm -rf "$redis_dir"
  else
    echo "redis-server not installed (apt-get install redis-server): skipped" | tee "$out/redis.txt"
  fi
fi

if want scale; then
  echo "== gen and verify at scale (ES256, single use): wall time and peak RSS"
  : > "$out/scale.txt"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  for n in 10000 100000 1000000; do
    /usr/bin/time -f "gen n=$n wall=%es maxrss=%MKiB" "$bin" gen --out "$work/f$n" --nodes "$n" \
      --now 1795910400 --jwt-algs ES256 --join-token-fraction 0 2>&1 | grep "^gen n=" | tee -a "$out/scale.txt"
    /usr/bin/time -f "verify n=$n wall=%es maxrss=%MKiB" "$bin" verify --config "$work/f$n/fleet.toml" \
      --input "$work/f$n/evidence.jsonl" --output /dev/null --now 1795910400 --threads 2 2>&1 \
      | grep -E "^verify n=|records/s" | tee -a "$out/scale.txt"
    sed 's/^required_claims = \["sub"\]$/required_claims = ["sub"]\nsingle_use = false/' \
      "$work/f$n/fleet.toml" > "$work/f$n/nosu.toml"
    /usr/bin/time -f "verify-no-single-use n=$n wall=%es maxrss=%MKiB" "$bin" verify \
      --config "$work/f$n/nosu.toml" --input "$work/f$n/evidence.jsonl" --output /dev/null \
      --now 1795910400 --threads 2 2>&1 | grep "^verify-no" | tee -a "$out/scale.txt"
    if [ "$n" = 100000 ]; then
      # Thread scaling (ES256, target 2 threads >= 1.8x one): three pairs, 2 then 1 thread.
      for pair in 1 2 3; do
        for threads in 2 1; do
          "$bin" verify --config "$work/f$n/fleet.toml" --input "$work/f$n/evidence.jsonl" \
            --output /dev/null --now 1795910400 --threads "$threads" 2>&1 | tail -1 \
            | sed "s/^/scaling pair=$pair /" | tee -a "$out/scale.txt"
        done
      done
    fi
    rm -rf "$work/f$n"
  done
fi

if want peer; then
  runs=${PEER_RUNS:-3}
  echo "== criterion: engine vs jsonwebtoken 12 (aws_lc_rs), 2 threads; $runs runs"
  : > "$out/peer.txt"
  for run in $(seq "$runs"); do
    # criterion runs the two sides one after the other: repeat, and compare run by run.
    cargo bench --bench peer 2>&1 | grep -E "^peer/|thrpt:" | grep -v "%" | paste - - \
      | awk -v run="$run" '{print "run=" run, $1, $5, $6}' | tee -a "$out/peer.txt"
  done
  echo "== speedup (fleet-attest / jsonwebtoken) per run, and the median run"
  for alg in ES256 EdDSA RS256; do
    for run in $(seq "$runs"); do
      ours=$(awk -v r="run=$run" -v a="fleet-attest/$alg" '$1 == r && index($2, a) {print $3}' "$out/peer.txt")
      theirs=$(awk -v r="run=$run" -v a="jsonwebtoken/$alg" '$1 == r && index($2, a) {print $3}' "$out/peer.txt")
      awk -v a="$alg" -v r="$run" -v o="$ours" -v t="$theirs" 'BEGIN {printf "%.3f %s run=%d %s/%s\n", o / t, a, r, o, t}'
    done | sort -g | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}'
  done | tee "$out/peer-median.txt"
fi
