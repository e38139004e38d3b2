#!/usr/bin/env bash
# Regenerates the two RSA-2048 test keys that `fleet-attest gen` signs RS*/PS* tokens with
# (src/gen/rsa-*.pem, compiled in). Test keys only: they sign synthetic fleets, nothing else.
# After regenerating, rerun scripts/make-demo-data.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
for k in a b; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "src/gen/rsa-$k.pem"
done
