#!/usr/bin/env bash
# Builds spire-server and spire-agent v1.13.3 from the conformance/spire Go module (its `tool`
# directives pin them) into target/spire/bin, and prints that folder. The build is cached: it
# is skipped when both binaries exist and were built from the current go.mod and go.sum (a stamp
# beside them records their hash). Needs Go and the module proxy (or a filled module cache).
#
#   bin=$(scripts/spire/build.sh)      # then "$bin/spire-server" run -config …
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
module=$root/conformance/spire
bin=$root/target/spire/bin
stamp=$bin/.built-from
want=$(cat "$module/go.mod" "$module/go.sum" | sha256sum | cut -d' ' -f1)
if [[ -x $bin/spire-server && -x $bin/spire-agent && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "$bin"
    exit 0
fi
command -v go >/dev/null || { echo "scripts/spire/build.sh: go is not installed" >&2; exit 1; }
mkdir -p "$bin"
start=$(date +%s)
echo "scripts/spire/build.sh: building spire-server and spire-agent into $bin ($(go version))" >&2
(cd "$module" && GOBIN=$bin go install \
    github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent) >&2
echo "$want" >"$stamp"
echo "scripts/spire/build.sh: built in $(( $(date +%s) - start ))s: $("$bin/spire-server" --version 2>&1 | head -1)" >&2
echo "$bin"
