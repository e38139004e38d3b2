#!/usr/bin/env bash
# The demo, on the bundled fleet in data/demo (1,000 records: JWTs of five algorithms, x509pop
# transcripts, join tokens, rejects of every kind):
#   1. build the release binary (cargo's progress shows; a few minutes the first time);
#   2. verify the fleet and check every result against data/demo/expected.jsonl;
#   3. a rotation: verify again with data/demo/rotated/fleet.toml (key es256-b retired, x509pop
#      trust moved to a new intermediate), diff the two runs, write both HTML reports;
#   4. gen + verify a fresh 20,000-record fleet;
# then say what happened and where the files are. Everything is kept in target/demo/ (replaced
# by the next run). Needs a Rust toolchain and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
NOW=2026-11-29T00:00:00Z
out=target/demo
bin=./target/release/fleet-attest

echo "== 1. build (cargo build --release; the first build compiles aws-lc and takes a few minutes)"
cargo build --release
rm -rf "$out"
mkdir -p "$out"

echo
echo "== 2. verify data/demo and check it against data/demo/expected.jsonl"
"$bin" verify --config data/demo/fleet.toml --input data/demo/evidence.jsonl --now "$NOW" \
  --output "$out/before.jsonl" --summary "$out/before.summary.json" --report "$out/before.html"
echo "first attested result:"
grep -m1 '"status":"attested"' "$out/before.jsonl"
echo "first rejection:"
grep -m1 '"status":"rejected"' "$out/before.jsonl"
python3 - "$out/before.jsonl" data/demo/expected.jsonl <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), (len(got), len(want))
def key(r):
    e = r.get("error") or {}
    return (r["line"], r["id"], r["type"], r["status"], e.get("stage"), e.get("code"))
bad = [(key(g), key(w)) for g, w in zip(got, want) if key(g) != key(w)]
for g, w in bad[:5]:
    print("  differs:", g, "expected", w)
print(f"{len(got)} results checked against expected.jsonl (line, id, type, status, stage, code): "
      f"{len(bad)} differ")
sys.exit(1 if bad else 0)
PY

echo
echo "== 3. rotate: key es256-b retired, x509pop trust moved to a new intermediate (data/demo/rotated/)"
"$bin" verify --config data/demo/rotated/fleet.toml --input data/demo/evidence.jsonl --now "$NOW" \
  --output "$out/after.jsonl" --summary "$out/after.summary.json" --report "$out/after.html"
echo
echo "-- fleet-attest diff $out/before.jsonl $out/after.jsonl"
status=0
"$bin" diff "$out/before.jsonl" "$out/after.jsonl" --report "$out/diff.html" || status=$?
[ "$status" -le 1 ] || exit "$status"   # 1 means "something changed", as for diff(1)
"$bin" diff --json "$out/before.jsonl" "$out/after.jsonl" > "$out/diff.jsonl" || [ $? -eq 1 ]

echo
echo "== 4. gen + verify a fresh 20,000-record fleet"
"$bin" gen --out "$out/fleet" --nodes 20000 --seed 7 --now "$NOW" --jwt-algs ES256,EdDSA,RS256 \
  --invalid-fraction 0.05
"$bin" verify --config "$out/fleet/fleet.toml" --input "$out/fleet/evidence.jsonl" --now "$NOW" \
  --output "$out/fleet/results.jsonl" --no-progress

echo
echo "== what you just saw"
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
before = json.load(open(os.path.join(out, "before.summary.json")))
after = json.load(open(os.path.join(out, "after.summary.json")))
totals = [json.loads(l) for l in open(os.path.join(out, "diff.jsonl"))][-1]["totals"]
print(f"- data/demo verified: {before['attested']} of {before['records']} records attested, "
      f"{before['rejected']} rejected, each as expected.jsonl says.")
codes = ", ".join(f"{c} {n}" for c, n in sorted(before["by_code"].items(), key=lambda x: (-x[1], x[0]))[:6])
print(f"  most frequent rejections: {codes}, … ({len(before['by_code'])} codes in all)")
lost = totals["kinds"]["lost"]
groups = ", ".join(f"{g['key']} {g['records']}" for g in lost["groups"])
print(f"- after the rotation {after['attested']} attest: {lost['records']} records would lose "
      f"their identity ({groups}),")
changed = totals["kinds"]["rejection_changed"]["records"]
print(f"  {changed} already-rejected records would be rejected for another reason, "
      f"{totals['kinds']['gained']['records']} would gain one.")
print(f"- files, in {out}/:")
print("    before.jsonl, after.jsonl          results of the two runs (one line per record)")
print("    before.summary.json, after.summary.json   counts by code, record type, issuer and key")
print("    before.html, after.html, diff.html reports to open in a browser (self-contained)")
print("    diff.jsonl                         each changed record, then the totals")
print("    fleet/                             the fresh fleet: fleet.toml, evidence.jsonl, expected.jsonl, results.jsonl")
print("- next, try:")
print(f"    xdg-open {out}/diff.html    (or open it in any browser)")
print(f"    jq -c 'select(.changes == [\"lost\"]) | [.id, .after.code]' {out}/diff.jsonl | head")
print(f"    {os.path.join('target', 'release', 'fleet-attest')} gen --out /tmp/myfleet --nodes 100000 --invalid-fraction 0.05")
PY
