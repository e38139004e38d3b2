//! fleet-attest: bulk verification of SPIRE-style node-attestation evidence.
//!
//! The modules follow the pipeline a record travels through:
//!
//! | stage | module | what it holds |
//! |---|---|---|
//! | input | [`input`], [`record`] | chunks of lines (mmap or stdin); the record envelope |
//! | keys/trust | [`keys`], [`config`] | JWK Sets parsed once, each key bound to one [`keys::Alg`]; the TOML config compiled into a [`verifier::Verifier`] |
//! | jwt | [`jwt`] | compact JWS, key selection, signature, claims |
//! | x509pop | [`x509pop`], [`x509`] | SPIRE's proof-of-possession transcripts; X.509 parsed and verified as Go's `crypto/x509` does it |
//! | join_token | [`join_token`] | single-use join tokens |
//! | replay | [`replay`], [`shard`] | consumed single-use keys: in memory with its state file, or in Redis; `--shard K/N` |
//! | selectors/aliases | [`selectors`] | sorted selector sets, node alias index |
//! | template | [`template`] | agent path templates (Go text/template subset) |
//! | verdict | [`verifier`], [`error`] | judging a record in three passes (stage, signature, finish) that workers run over batches; the rejection codes |
//! | pipeline | [`pipeline`] | workers (batches of 16 records per pass) and the ordered writer |
//! | sink | [`sink`] | the result line format and the output |
//! | run files | [`run_files`], [`namespaces`] | a `verify` run's paths, preflight, locks and run record; which attestor produced which agent ID |
//! | cli, gen, bench | [`cli`], [`gen`], [`bench`](mod@bench) | the commands |
//! | summaries, diff, reports | [`outcomes`], [`summary`], [`results`], [`diff`], [`report`] | outcomes by type, issuer, key and code; result lines read back; two runs compared; the HTML reports |
//! | load | [`load`] | load-testing a running SPIRE server over its AttestAgent API with a `gen --live` fleet |
//!
//! Support: [`json`] (borrowed views over simd-json tapes), [`time`] (RFC 3339, the clock),
//! [`hex`], [`text`] (quoting untrusted text, plurals, terminal-safe text), [`failure`] (a
//! command's exit status), [`order`] (bytewise `<` decided inline for short strings).
#![deny(missing_docs)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod diff;
pub mod error;
pub mod failure;
pub mod gen;
pub mod hex;
pub mod input;
pub mod join_token;
pub mod json;
pub mod jwt;
pub mod keys;
pub mod load;
pub mod namespaces;
pub mod order;
pub mod outcomes;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod report;
pub mod results;
pub mod run_files;
pub mod selectors;
pub mod shard;
pub mod sink;
pub mod summary;
pub mod template;
pub mod text;
pub mod time;
pub mod verifier;
pub mod x509;
pub mod x509pop;
