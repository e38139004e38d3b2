//! The command line (SPEC §1). Each command turns its arguments into options and calls the
//! library; every fatal error becomes one `error: …` line naming the file, and exit status 1.
//! Usage errors exit 2 (clap's own, and the few checks clap cannot express).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::RunStats;
use crate::shard::Shard;
use crate::time::parse_now;

mod verify;

/// fleet-attest: verify node-attestation evidence in bulk.
#[derive(Parser, Debug)]
#[command(name = "fleet-attest", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify evidence records and write one result per record, in input order.
    Verify(VerifyArgs),
    /// Write a synthetic fleet: config, keys, evidence and expected results.
    Gen(crate::gen::GenArgs),
    /// Measure the engine end to end against the crypto ceiling.
    Bench(crate::bench::BenchArgs),
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The TOML configuration.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The SPIRE server's own trust bundle (PEM, as `spire-server bundle show` prints it), for
    /// x509pop `mode = "spiffe"`.
    #[arg(long, value_name = "FILE")]
    spire_bundle: Option<PathBuf>,
    /// Evidence records, one per line (`-` for stdin).
    #[arg(long, value_name = "FILE|-")]
    input: PathBuf,
    /// Where results go (`-` for stdout).
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    output: PathBuf,
    /// Also write the run's summary as JSON here.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    /// Evaluation time: Unix seconds or RFC 3339 (default: the clock, read once).
    #[arg(long, value_name = "UNIX_SECONDS|RFC3339", value_parser = parse_now)]
    now: Option<i64>,
    /// Worker threads (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Single-use state: loaded at start when the file exists, saved atomically at the end.
    #[arg(long, value_name = "FILE")]
    replay_state: Option<PathBuf>,
    /// Keep single-use state in Redis (or Valkey), shared with every process pointed at it,
    /// instead of in memory.
    #[arg(
        long,
        value_name = "redis://HOST:PORT/DB",
        conflicts_with = "replay_state"
    )]
    replay_store: Option<String>,
    /// PEM root certificate(s) to verify a `rediss://` Redis with (default: the system's roots).
    #[arg(long, value_name = "FILE", requires = "replay_store")]
    replay_store_ca: Option<PathBuf>,
    /// Take only the records whose 0-based line index modulo N is K.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Continue an interrupted run whose --output FILE holds complete result lines.
    #[arg(long)]
    resume: bool,
    /// Draw a progress bar (default when stderr is a terminal).
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Reject a record whose agent ID another attestor (another JWT issuer, x509pop, join
    /// tokens) produced earlier in the run, as policy/agent_id_collision.
    #[arg(long)]
    strict_namespaces: bool,
    /// Exit 3 when any record is rejected (as --max-rejected 0).
    #[arg(long, conflicts_with = "max_rejected")]
    fail_on_reject: bool,
    /// Exit 3 when more records than this are rejected: a count, or a percentage of the records.
    #[arg(long, value_name = "N|P%", value_parser = verify::parse_max_rejected)]
    max_rejected: Option<verify::MaxRejected>,
}

/// Runs the command line; returns the process exit status.
pub fn main() -> u8 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify::verify(args),
        Command::Gen(args) => crate::gen::run(&args),
        Command::Bench(args) => crate::bench::run(&args),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.status
        }
    }
}

fn records_per_second(stats: &RunStats) -> f64 {
    let secs = stats.elapsed.as_secs_f64();
    if secs > 0.0 {
        stats.records as f64 / secs
    } else {
        0.0
    }
}

/// The `--summary` object (SPEC §1).
pub fn summary_json(stats: &RunStats, threads: usize, now: i64) -> String {
    serde_json::json!({
        "records": stats.records,
        "attested": stats.attested,
        "rejected": stats.rejected,
        "by_code": stats.by_code,
        "elapsed_seconds": stats.elapsed.as_secs_f64(),
        "records_per_second": records_per_second(stats),
        "threads": threads,
        "now": now,
    })
    .to_string()
}

fn human_summary(stats: &RunStats, threads: usize, resumed: u64) -> String {
    let mut text = format!(
        "fleet-attest: {} records: {} attested, {} rejected",
        stats.records, stats.attested, stats.rejected
    );
    if !stats.by_code.is_empty() {
        let codes: Vec<String> = stats
            .by_code
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        text.push_str(&format!(" ({})", codes.join(", ")));
    }
    text.push_str(&format!(
        "; {:.2}s, {:.0} records/s, {threads} thread{}",
        stats.elapsed.as_secs_f64(),
        records_per_second(stats),
        if threads == 1 { "" } else { "s" }
    ));
    if resumed > 0 {
        text.push_str(&format!(
            "; resumed after {resumed} results already written"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_records_codes_and_threads() {
        let mut stats = RunStats {
            records: 3,
            attested: 2,
            rejected: 1,
            ..RunStats::default()
        };
        stats.by_code.insert("replayed", 1);
        let one = human_summary(&stats, 1, 0);
        assert!(
            one.starts_with("fleet-attest: 3 records: 2 attested, 1 rejected (replayed 1); "),
            "{one}"
        );
        assert!(one.ends_with(" records/s, 1 thread"), "{one}");
        let two = human_summary(&stats, 2, 5);
        assert!(
            two.ends_with(", 2 threads; resumed after 5 results already written"),
            "{two}"
        );
    }
}
