//! `fleet-attest bench`: the engine end to end against the crypto ceiling.

use clap::Args;

use crate::cli::Failure;

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The algorithm to measure.
    #[arg(long, default_value = "ES256")]
    pub alg: String,
    /// Records per measurement.
    #[arg(long, default_value_t = 20_000)]
    pub nodes: usize,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print one JSON object instead of the text line.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bench`.
pub fn run(_args: &BenchArgs) -> Result<(), Failure> {
    Err(Failure::fatal("bench: not built yet"))
}
