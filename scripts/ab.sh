#!/usr/bin/env bash
# Compares two builds of fleet-attest by their engine/ceiling ratio, for changes smaller than
# the drift between single `bench` runs on a shared machine. Runs the two binaries in turn
# (A, B, A, B, …), each `bench` with many short rounds, and pools every round's ratio per build:
# drift that lasts minutes hits both builds alike, and the pooled medians rest on REPS × ROUNDS
# rounds each.
#
#   scripts/ab.sh BIN_A BIN_B [ALG] [REPS]   ALG default RS256, REPS default 8
#   NODES=N ROUNDS=N                          records per round (10000), rounds per run (20)
#
# Prints, per build, the median, first and third quartile of its pooled round ratios. Swap A and
# B for a second run: a difference that keeps its sign both ways is worth more than either run.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
a=$1
b=$2
alg=${3:-RS256}
reps=${4:-8}
nodes=${NODES:-10000}
rounds=${ROUNDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for _ in $(seq "$reps"); do
  for side in A B; do
    bin=$a
    [[ $side == B ]] && bin=$b
    "$bin" bench --alg "$alg" --threads 2 --nodes "$nodes" --rounds "$rounds" \
      | sed -n 's/^ratio rounds (engine\/ceiling)://p' | tr ' ' '\n' | grep . >>"$work/$side"
  done
done
for side in A B; do
  bin=$a
  [[ $side == B ]] && bin=$b
  sort -g "$work/$side" | awk -v side="$side" -v bin="$bin" -v alg="$alg" '
    { r[NR] = $1 }
    END {
      printf "%s %s %s: median %.3f, quartiles %.3f-%.3f, %d rounds\n",
        side, bin, alg, r[int((NR + 1) / 2)], r[int(NR / 4) + 1], r[int(3 * NR / 4)], NR
    }'
done
