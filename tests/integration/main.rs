//! The integration tests, one binary. Modules:
//! - `support`: helpers (a temp fleet dir, judging one line, running the CLI).
//! - `wycheproof`: Project Wycheproof JWS, JWK and per-primitive signature vectors.
//! - `cli`: end-to-end runs of the binary: every code of SPEC §5 for JWT and join tokens,
//!   exact result lines, exit codes and fatal errors.
//! - `determinism`: byte-identical output at 1 and 2 threads and from run to run.
//! - `roundtrip`: `gen` fleets verified against their `expected.jsonl`.
//! - `hostile`: deep nesting, huge numbers, invalid UTF-8, NUL, 1 MB lines, a million lines,
//!   CRLF, no final newline; bounded memory on a large stdin stream.
//! - `properties`: arbitrary input lines give exactly one result each and never panic.
//! - `replay_state`: single use across runs and `--resume`.
//! - `replay_store`: single use in a real Redis across concurrent `--shard` processes; Redis
//!   unreachable at start and killed mid-run.
//! - `resume`: SIGKILL at several points of a run, then `--resume`: identical bytes and state.
//! - `spire_load`: `load` against a real spire-server: its agent list against `verify`,
//!   re-attestation, a CA rotation (skipped when spire-server is not built).
//! - `x509pop`: SPIRE x509pop transcripts from an independent implementation; the chain cache.

mod cli;
mod determinism;
mod hostile;
mod properties;
mod replay_state;
mod replay_store;
mod resume;
mod roundtrip;
mod spire_load;
mod support;
mod wycheproof;
mod x509pop;
