//! fleet-attest: bulk verification of SPIRE-style node-attestation evidence.
//!
//! The modules follow the pipeline a record travels through:
//!
//! | stage | module | what it holds |
//! |---|---|---|
//! | input | [`input`], [`record`] | chunks of lines (mmap or stdin); the record envelope |
//! | keys/trust | [`keys`], [`config`] | JWK Sets parsed once, each key bound to one [`keys::Alg`]; the TOML config compiled into a [`verifier::Verifier`] |
//! | jwt | [`jwt`] | compact JWS, key selection, signature, claims |
//! | x509pop | [`x509pop`] | SPIRE's proof-of-possession transcripts |
//! | join_token | [`join_token`] | single-use join tokens |
//! | replay | [`replay`], [`shard`] | consumed single-use keys: in memory with its state file, or in Redis; `--shard K/N` |
//! | selectors/aliases | [`selectors`] | sorted selector sets, node alias index |
//! | template | [`template`] | agent path templates (Go text/template subset) |
//! | verdict | [`verifier`], [`error`] | judging a record in three passes (stage, signature, finish) that workers run over batches; the rejection codes |
//! | pipeline | [`pipeline`] | workers (batches of 16 records per pass) and the ordered writer |
//! | sink | [`sink`] | the result line format and the output |
//! | cli, gen, bench | [`cli`], [`gen`], [`bench`](mod@bench) | the commands |
//! | load | [`load`] | load-testing a running SPIRE server over its AttestAgent API with a `gen --live` fleet |
//!
//! Support: [`json`] (borrowed views over simd-json tapes), [`time`] (RFC 3339), [`hex`],
//! [`order`] (bytewise `<` decided inline for short strings).
#![deny(missing_docs)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod error;
pub mod gen;
pub mod hex;
pub mod input;
pub mod join_token;
pub mod json;
pub mod jwt;
pub mod keys;
pub mod load;
pub mod order;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod selectors;
pub mod shard;
pub mod sink;
pub mod template;
pub mod time;
pub mod verifier;
pub mod x509pop;
