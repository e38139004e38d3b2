#!/usr/bin/env bash
# Writes the TLS test material for tests/integration/replay_store.rs into tests/data/redis-tls:
# a P-256 test CA, a server certificate for 127.0.0.1/localhost signed by it, and a second CA
# that signed nothing (to show a wrong root is refused). Valid for 20 years. Test keys only.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/data/redis-tls
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout "$tmp/ca.key" -out "$out/ca.pem" -days 7300 \
    -subj "/CN=fleet-attest test Redis CA"
openssl req -x509 $ec -keyout "$tmp/other.key" -out "$out/other-ca.pem" -days 7300 \
    -subj "/CN=fleet-attest unrelated test CA"
openssl req $ec -keyout "$out/server.key" -out "$tmp/server.csr" -subj "/CN=localhost"
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
    "keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" > "$tmp/ext.cnf"
openssl x509 -req -in "$tmp/server.csr" -CA "$out/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -CAserial "$tmp/ca.srl" -out "$out/server.pem" -days 7300 -extfile "$tmp/ext.cnf"
chmod 644 "$out"/*
