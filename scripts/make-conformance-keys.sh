#!/usr/bin/env bash
# Writes the RSA keys of the x509pop conformance cases that are too slow to generate on every
# test run (8192 bits, and 8200 bits for the case over SPIRE's max_rsa_key_size): PKCS #8 PEM,
# made by OpenSSL, an implementation independent of both fleet-attest and Go.
set -euo pipefail
cd "$(dirname "$0")/../conformance/spire/testdata/x509pop"
for bits in 8192 8200; do
    openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -out "rsa$bits.pem"
done
