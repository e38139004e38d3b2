//! The integration tests, one binary. Modules:
//! - `support`: helpers (a temp fleet dir, judging one line, running the CLI).
//! - `wycheproof`: Project Wycheproof JWS, JWK and per-primitive signature vectors.
//! - `cli`: end-to-end runs of the binary: every code of SPEC §5 for JWT and join tokens,
//!   exact result lines, exit codes and fatal errors.
//! - `diff`: `fleet-attest diff` of hand-built result files: every kind of change, exit codes,
//!   the table's figures against the JSON totals; against gen's expected.jsonl.
//! - `report`: the HTML reports: self-contained, escaped, their figures equal to the JSON; and
//!   the demo diff's report opened in headless Chromium (`chromium`, which scripts/test.sh
//!   installs), its rendered totals and charts checked, a screenshot in target/.
//! - `determinism`: byte-identical output at 1 and 2 threads and from run to run.
//! - `roundtrip`: `gen` fleets verified against their `expected.jsonl`.
//! - `hostile`: deep nesting, huge numbers, invalid UTF-8, NUL, 1 MB lines, a million lines,
//!   CRLF, no final newline; bounded memory on a large stdin stream.
//! - `jwt_attacks`: forged and taken-apart tokens: `alg: none`, non-canonical parts, claim
//!   names and values built to forge selectors, every JSON number and string escape.
//! - `properties`: arbitrary input lines give exactly one result each and never panic.
//! - `replay_state`: single use across runs and `--resume`.
//! - `replay_store`: single use in a real Redis across concurrent `--shard` processes; Redis
//!   unreachable at start and killed mid-run.
//! - `resume`: SIGKILL at several points of a run, then `--resume`: identical bytes and state.
//! - `run_files`: collisions between the files a run reads and writes, the preflight, locks,
//!   the run record of `--resume`, replay-state tampering, a failed state save, SIGINT, exit 3.
//! - `spire_load`: `load` against a real spire-server: its agent list against `verify`,
//!   re-attestation, a CA rotation (skipped when spire-server is not built).
//! - `x509pop`: SPIRE x509pop transcripts from an independent implementation; the chain cache.

mod cli;
mod determinism;
mod diff;
mod hostile;
mod jwt_attacks;
mod properties;
mod replay_state;
mod replay_store;
mod report;
mod resume;
mod roundtrip;
mod run_files;
mod spire_load;
mod support;
mod wycheproof;
mod x509pop;
