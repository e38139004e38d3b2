#!/usr/bin/env bash
# Compares two builds of fleet-attest by their engine/ceiling ratio at 2 threads, for changes
# smaller than the drift between single `bench` runs on a shared machine. Runs the two in turn
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
  # The header above, up to its first line that is not a comment.
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"
  exit 2
fi
a=$1
b=$2
alg=${3:-RS256}
reps=${4:-8}
nodes=${NODES:-10000}
rounds=${ROUNDS:-20}
declare -A bin=([A]=$a [B]=$b)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for _ in $(seq "$reps"); do
  for side in A B; do
    "${bin[$side]}" bench --alg "$alg" --threads 2 --nodes "$nodes" --rounds "$rounds" \
      | sed -n 's/^ratio rounds (engine\/ceiling)://p' | tr ' ' '\n' | grep . >>"$work/$side"
  done
done
for side in A B; do
  sort -g "$work/$side" | awk -v side="$side" -v bin="${bin[$side]}" -v alg="$alg" '
    { r[NR] = $1 }
    END {
      printf "%s %s %s: median %.3f, quartiles %.3f-%.3f, %d rounds\n",
        side, bin, alg, r[int((NR + 1) / 2)], r[int(NR / 4) + 1], r[int(3 * NR / 4)], NR
    }'
done
