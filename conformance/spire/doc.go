// Package spire is fleet-attest's conformance harness: SPIRE v1.13.3's own code (its x509pop
// server plugin, its join-token attestation, its agent path templates) judges the same evidence
// and templates as fleet-attest, and the tests fail on any disagreement. The module also pins the
// spire-server and spire-agent tools that the end-to-end scripts build.
package spire
