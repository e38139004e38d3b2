#!/usr/bin/env bash
# The main job on bundled data: verify the example fleet in data/demo, print the summary, and
# check every result against data/demo/expected.jsonl. Then generate and verify a fresh fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
NOW=2026-11-29T00:00:00Z
cargo build --release --quiet
bin=./target/release/fleet-attest
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== verify data/demo (1000 records: JWTs of five algorithms, x509pop, join tokens, rejects of every kind)"
"$bin" verify --config data/demo/fleet.toml --input data/demo/evidence.jsonl \
  --output "$work/results.jsonl" --summary "$work/summary.json" --now "$NOW"
echo "summary: $(cat "$work/summary.json")"
echo "first attested result:"
grep -m1 '"status":"attested"' "$work/results.jsonl"
echo "first rejection:"
grep -m1 '"status":"rejected"' "$work/results.jsonl"
python3 - "$work/results.jsonl" data/demo/expected.jsonl <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), (len(got), len(want))
bad = [(g["id"], g["status"], (g.get("error") or {}).get("code"), w) for g, w in zip(got, want)
       if (g["id"], g["status"], (g.get("error") or {}).get("code")) != (w["id"], w["status"], w["code"])]
print(f"{len(got)} results checked against expected.jsonl: {len(bad)} differ")
sys.exit(1 if bad else 0)
PY

echo "== gen + verify a fresh 20000-record fleet"
"$bin" gen --out "$work/fleet" --nodes 20000 --seed 7 --now "$NOW" --jwt-algs ES256,EdDSA,RS256 \
  --invalid-fraction 0.05
"$bin" verify --config "$work/fleet/fleet.toml" --input "$work/fleet/evidence.jsonl" \
  --output "$work/fleet/results.jsonl" --now "$NOW" --no-progress
