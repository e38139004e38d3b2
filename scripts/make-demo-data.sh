#!/usr/bin/env bash
# Regenerates the bundled example fleet in data/demo with `fleet-attest gen` (deterministic:
# the same seed and --now give the same bytes), then its rotated config data/demo/rotated/
# (scripts/make-demo-rotation.py, new CA material each time: needs Python `cryptography`).
# Run from anywhere; builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
rm -rf data/demo
./target/release/fleet-attest gen --out data/demo --nodes 1000 --seed 2026 \
  --now 2026-11-29T00:00:00Z --jwt-algs ES256,RS256,PS256,EdDSA,ES384 \
  --x509pop-fraction 0.15 --join-token-fraction 0.05 --invalid-fraction 0.15
python3 scripts/make-demo-rotation.py
