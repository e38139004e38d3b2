//! The command line (SPEC §1). Each command turns its arguments into options and calls the
//! library; every fatal error becomes one `error: …` line naming the file, and exit status 1.
//! Usage errors exit 2 (clap's own, and the few checks clap cannot express).

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};

use crate::input::Input;
use crate::pipeline::{self, RunError, RunOptions, RunStats};
use crate::replay::redis::RedisStore;
use crate::replay::{ReplayStore, SingleUse};
use crate::shard::Shard;
use crate::sink::Output;
use crate::time::parse_now;

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
    /// Load-test a running SPIRE server: attest a `gen --live` fleet over its AttestAgent API.
    Load(crate::load::LoadArgs),
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The TOML configuration.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
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
}

/// A fatal error: a message for `error: …` and the exit status.
pub struct Failure {
    /// The message, naming the file and the problem.
    pub message: String,
    /// 1 for fatal errors, 2 for usage errors.
    pub status: u8,
}

impl Failure {
    /// A fatal error (exit 1).
    pub fn fatal(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: 1,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: 2,
        }
    }
}

/// Runs the command line; returns the process exit status.
pub fn main() -> u8 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify(args),
        Command::Gen(args) => crate::gen::run(&args),
        Command::Bench(args) => crate::bench::run(&args),
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

/// The number of cores, for `--threads` defaults.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The clock, read once.
pub fn clock_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let now = args.now.unwrap_or_else(clock_now);
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let to_stdout = args.output == Path::new("-");
    if args.resume && to_stdout {
        return Err(Failure::usage(
            "--resume needs --output FILE (it continues that file)",
        ));
    }
    if args.input == Path::new("-") && args.resume {
        return Err(Failure::usage(
            "--resume needs --input FILE: stdin cannot be read again from the start",
        ));
    }

    let verifier = crate::config::load(&args.config).map_err(Failure::fatal)?;
    let input = Input::open(&args.input)
        .map_err(|err| Failure::fatal(format!("{}: {err}", args.input.display())))?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let resuming = args.resume && args.output.exists();
    let ca_pem = match (&args.replay_store_ca, &args.replay_store) {
        (Some(_), Some(url)) if !url.starts_with("rediss://") => {
            return Err(Failure::usage(
                "--replay-store-ca needs a rediss:// (TLS) --replay-store URL",
            ))
        }
        (Some(path), _) => Some(
            fs::read(path).map_err(|err| Failure::fatal(format!("{}: {err}", path.display())))?,
        ),
        (None, _) => None,
    };
    let mut store = match (&args.replay_store, &args.replay_state) {
        (Some(url), _) => SingleUse::Redis(
            RedisStore::connect(
                url,
                ca_pem,
                format!("fleet-attest:{}", verifier.trust_domain()),
                shard,
                resuming,
            )
            .map(Box::new)
            .map_err(Failure::fatal)?,
        ),
        (None, Some(path)) => {
            SingleUse::Memory(ReplayStore::load(path, now).map_err(Failure::fatal)?)
        }
        (None, None) => SingleUse::Memory(ReplayStore::new()),
    };
    let output_name = args.output.display().to_string();
    let out_err = |err: io::Error| Failure::fatal(format!("{output_name}: {err}"));
    let (mut output, skip_records) = if to_stdout {
        (Output::Stdout(io::stdout()), 0)
    } else if resuming {
        let kept = keep_complete_lines(&args.output).map_err(out_err)?;
        (Output::open(&args.output, true).map_err(out_err)?, kept)
    } else {
        (Output::open(&args.output, false).map_err(out_err)?, 0)
    };

    let progress = if args.no_progress {
        false
    } else {
        args.progress || io::stderr().is_terminal()
    };
    let options = RunOptions {
        threads,
        now,
        skip_records,
        progress,
        shard,
    };
    let stats = pipeline::run(&verifier, &input, &mut output, &mut store, &options).map_err(
        |err| match err {
            RunError::Input(err) => Failure::fatal(format!("{}: {err}", args.input.display())),
            RunError::Output(err) => {
                // A failed write (a full disk) may have left part of a line: trim the file
                // back to its last complete line, so it is ready for --resume.
                if !to_stdout {
                    let _ = keep_complete_lines(&args.output);
                }
                Failure::fatal(format!(
                    "{output_name}: {err}; complete lines kept, rerun with --resume"
                ))
            }
        },
    )?;
    output.sync().map_err(out_err)?;
    if skip_records > stats.records {
        return Err(Failure::fatal(format!(
            "{output_name}: holds {skip_records} results but the input has {} records; \
             it is not the output of this input",
            stats.records
        )));
    }
    if let (Some(path), SingleUse::Memory(store)) = (&args.replay_state, &store) {
        store.save(path, now).map_err(Failure::fatal)?;
    }
    let summary = summary_json(&stats, threads, now);
    if let Some(path) = &args.summary {
        fs::write(path, format!("{summary}\n"))
            .map_err(|err| Failure::fatal(format!("{}: {err}", path.display())))?;
    }
    eprintln!("{}", human_summary(&stats, threads, skip_records));
    if let SingleUse::Redis(store) = &store {
        if let Some(loss) = store.loss() {
            let unavailable = stats.by_code.get("store_unavailable").copied().unwrap_or(0);
            return Err(Failure::fatal(format!(
                "{}; from line {} on, {unavailable} records could not be checked for single use \
                 and are replay/store_unavailable (none attested); rerun with --resume",
                loss.reason, loss.first_line
            )));
        }
    }
    Ok(())
}

/// Drops a torn last line from an interrupted run's output, and every line from the first
/// `replay/store_unavailable` result on (those records must be judged again); returns the lines
/// kept. Only a regular file can be continued (a device such as /dev/full reads forever).
fn keep_complete_lines(path: &Path) -> io::Result<u64> {
    // Inside a JSON string every `"` is escaped, so this can only match the error object.
    let unavailable =
        memchr::memmem::Finder::new(br#""error":{"stage":"replay","code":"store_unavailable""#);
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::other(
            "not a regular file; --resume continues files only",
        ));
    }
    let mut reader = io::BufReader::with_capacity(1 << 20, &file);
    let mut line = Vec::new();
    let mut lines = 0u64;
    let mut keep_end = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        let complete = n > 0 && line.last() == Some(&b'\n');
        if !complete || unavailable.find(&line).is_some() {
            break;
        }
        lines += 1;
        keep_end += n as u64;
    }
    drop(reader);
    if keep_end != metadata.len() {
        file.set_len(keep_end)?;
        file.sync_all()?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(lines)
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
