//! The command line (SPEC §1). Each command turns its arguments into options and calls the
//! library; every fatal error becomes one `error: …` line naming the file, and exit status 1.
//! Usage errors exit 2 (clap's own, and the few checks clap cannot express).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Compare the results of two runs: which records lost or gained attestation, changed
    /// agent ID, selectors or aliases. Exit 0 when nothing changed, 1 when something did, 2 on
    /// trouble.
    Diff(DiffArgs),
    /// Load-test a running SPIRE server: attest a `gen --live` fleet over its AttestAgent API.
    Load(crate::load::LoadArgs),
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// Results of the first run (`verify --output`).
    #[arg(value_name = "BEFORE.jsonl")]
    before: PathBuf,
    /// Results of the second run, of the same evidence.
    #[arg(value_name = "AFTER.jsonl")]
    after: PathBuf,
    /// Print one JSON object per changed record, then one with the totals, instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report of the diff here.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Most records kept waiting for a partner at once, when the files are not in the same
    /// order (about 1.6 KiB of memory each).
    #[arg(long, value_name = "N", default_value_t = crate::diff::DiffOptions::default().max_unmatched)]
    max_unmatched: usize,
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
    /// Also write a self-contained HTML report of the run here.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
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
        Command::Diff(args) => match diff(&args) {
            Ok(changed) => return u8::from(changed),
            // Trouble is exit 2, as for diff(1).
            Err(message) => Err(crate::failure::Failure::usage(message)),
        },
        Command::Load(args) => crate::load::run(&args),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.status
        }
    }
}

/// Runs `diff`; true when something changed.
fn diff(args: &DiffArgs) -> Result<bool, String> {
    use std::io::Write as _;
    let options = crate::diff::DiffOptions {
        max_unmatched: args.max_unmatched,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut emit = |change: &crate::diff::changes::Change<'_>| {
        if args.json {
            writeln!(out, "{}", change.to_json()).map_err(|err| format!("stdout: {err}"))?;
        }
        Ok(())
    };
    let totals = crate::diff::run(&args.before, &args.after, &options, &mut emit)?;
    if args.json {
        let line = serde_json::json!({ "totals": totals.to_json() });
        writeln!(out, "{line}").map_err(|err| format!("stdout: {err}"))?;
    } else {
        out.write_all(crate::diff::table::render(&totals).as_bytes())
            .map_err(|err| format!("stdout: {err}"))?;
    }
    out.flush().map_err(|err| format!("stdout: {err}"))?;
    if let Some(path) = &args.report {
        crate::report::write(path, &crate::report::diff_page(&totals))?;
    }
    Ok(totals.changed > 0)
}
