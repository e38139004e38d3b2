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
    /// Compare the results of two runs: which records lost or gained attestation, changed
    /// agent ID, selectors or aliases. Exit 0 when nothing changed, 1 when something did, 2 on
    /// trouble.
    Diff(DiffArgs),
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
        Command::Diff(args) => match diff(&args) {
            Ok(changed) => return u8::from(changed),
            // Trouble is exit 2, as for diff(1).
            Err(message) => Err(Failure::usage(message)),
        },
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
    // With --report, the result lines are counted as they are written (those an interrupted
    // run kept, read back first).
    let mut tally = None;
    let run = if args.report.is_some() {
        let kept = if skip_records > 0 {
            crate::report::tally::of_file(&args.output, skip_records).map_err(out_err)?
        } else {
            crate::report::tally::Tally::default()
        };
        let mut tee = crate::report::tally::Tee::new(&mut output, kept);
        let run = pipeline::run(&verifier, &input, &mut tee, &mut store, &options);
        tally = Some(tee.tally);
        run
    } else {
        pipeline::run(&verifier, &input, &mut output, &mut store, &options)
    };
    let stats = run.map_err(|err| match err {
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
    })?;
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
    let summary = crate::summary::json(&stats, &verifier, threads, now);
    if let Some(path) = &args.summary {
        fs::write(path, format!("{summary}\n"))
            .map_err(|err| Failure::fatal(format!("{}: {err}", path.display())))?;
    }
    if let (Some(path), Some(tally)) = (&args.report, &tally) {
        let info = crate::report::RunInfo {
            config: &args.config,
            input: &args.input,
            output: &args.output,
            now,
            threads,
            resumed: skip_records,
        };
        let html = crate::report::run_page(&info, &stats, &verifier, tally);
        crate::report::write(path, &html).map_err(Failure::fatal)?;
    }
    for warning in input_warnings(&stats, &args.input, shard) {
        eprintln!("warning: {warning}");
    }
    eprint!(
        "{}",
        crate::summary::table(&stats, &verifier, threads, skip_records)
    );
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

/// Warnings about an input that is plainly not evidence: empty, or whose first records could
/// not be read as records or tokens at all.
fn input_warnings(stats: &RunStats, input: &Path, shard: Shard) -> Vec<String> {
    let name = input.display();
    if stats.records == 0 && shard == Shard::ALL {
        return vec![format!(
            "{name} holds no records (it is empty, or only blank lines)"
        )];
    }
    if stats.looks_unreadable() {
        let first = stats.records.min(crate::pipeline::LEADING_RECORDS);
        let what = if first == 1 {
            "its only record".to_owned()
        } else if first == stats.records {
            format!("all {first} of its records")
        } else {
            format!("its first {first} records")
        };
        return vec![format!(
            "{name}: {what} could not be read as evidence (input/malformed_record or \
             decode/malformed_token): is this a JSON-lines evidence file, one record or \
             token per line?"
        )];
    }
    Vec::new()
}

/// Runs `diff`; true when something changed.
fn diff(args: &DiffArgs) -> Result<bool, String> {
    use std::io::Write as _;
    let options = crate::diff::DiffOptions {
        max_unmatched: args.max_unmatched,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
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
