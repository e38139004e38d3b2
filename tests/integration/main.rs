//! The integration tests, one binary. Modules:
//! - `support`: helpers (a temp fleet dir, judging one line, running the CLI).
//! - `wycheproof`: Project Wycheproof JWS, JWK and per-primitive signature vectors.
//! - `cli`: end-to-end runs of the binary: every code of SPEC §5 for JWT and join tokens,
//!   exact result lines, exit codes and fatal errors.
//! - `determinism`: byte-identical output at 1 and 2 threads and from run to run.
//! - `roundtrip`: `gen` fleets verified against their `expected.jsonl`.
//! - `properties`: arbitrary input lines give exactly one result each and never panic.
//! - `replay_state`: single use across runs and `--resume`.
//! - `x509pop`: SPIRE x509pop transcripts from an independent implementation; the chain cache.

mod cli;
mod determinism;
mod properties;
mod replay_state;
mod roundtrip;
mod support;
mod wycheproof;
mod x509pop;
