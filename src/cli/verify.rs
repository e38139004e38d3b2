//! `verify`: the files of the run made safe (see [`crate::run_files`]), then the pipeline,
//! then the replay state, the summary and the exit status.
//!
//! In order, before the first record is judged: the config is loaded and the input opened
//! (both only read); every path read and written is resolved and a written file that is another
//! one is refused; every file to be written is shown writable; the output and the replay state
//! are locked; the replay state is loaded and checked; and either the run record of a resumed
//! output is checked, or a new one is written and only then the output truncated.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::VerifyArgs;
use crate::failure::{Failure, EXIT_INTERRUPTED, EXIT_TOO_MANY_REJECTED};
use crate::input::Input;
use crate::pipeline::{self, default_threads, RunError, RunOptions, RunStats};
use crate::replay::redis::RedisStore;
use crate::replay::state::{create_private_folder, temp_path, witness_path, StateBinding};
use crate::replay::{ReplayStore, SingleUse};
use crate::run_files::lock::lock;
use crate::run_files::paths::{check_collisions, Named};
use crate::run_files::preflight::check_writable;
use crate::run_files::resume::{keep_complete_lines, DigestedFile, ReplayOrigin, RunRecord};
use crate::shard::Shard;
use crate::sink::Output;
use crate::verifier::Verifier;

/// How many rejections a run may have before it exits 3 (`--max-rejected`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxRejected {
    /// At most this many.
    Count(u64),
    /// At most this percentage of the records.
    Percent(f64),
}

impl MaxRejected {
    /// True when `rejected` of `records` is more than allowed.
    fn exceeded(self, rejected: u64, records: u64) -> bool {
        match self {
            MaxRejected::Count(max) => rejected > max,
            MaxRejected::Percent(max) => rejected as f64 > max / 100.0 * records as f64,
        }
    }
}

impl std::fmt::Display for MaxRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxRejected::Count(max) => write!(f, "{max}"),
            MaxRejected::Percent(max) => write!(f, "{max}%"),
        }
    }
}

/// Parses `N` or `P%` (0 ≤ P ≤ 100).
pub fn parse_max_rejected(text: &str) -> Result<MaxRejected, String> {
    match text.strip_suffix('%') {
        Some(percent) => match percent.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(MaxRejected::Percent(p)),
            _ => Err(format!("{text:?} is not a percentage from 0% to 100%")),
        },
        None => text
            .parse::<u64>()
            .map(MaxRejected::Count)
            .map_err(|_| format!("{text:?} is not a count (N) or a percentage (P%)")),
    }
}

/// The folder of fleet-attest's own state (the replay-state witnesses):
/// `$FLEET_ATTEST_STATE_DIR`, else `$XDG_STATE_HOME/fleet-attest`, else
/// `$HOME/.local/state/fleet-attest`.
fn state_folder() -> Result<PathBuf, Failure> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    var("FLEET_ATTEST_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| var("XDG_STATE_HOME").map(|dir| PathBuf::from(dir).join("fleet-attest")))
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/state/fleet-attest")))
        .ok_or_else(|| {
            Failure::fatal(
                "--replay-state needs a folder for fleet-attest's own state: set \
                 FLEET_ATTEST_STATE_DIR (or XDG_STATE_HOME or HOME)",
            )
        })
}

/// What a replay-state file is checked against and saved with.
fn state_binding(verifier: &Verifier) -> StateBinding {
    StateBinding {
        trust_domain: verifier.trust_domain().to_owned(),
        issuers: verifier
            .jwt()
            .issuers()
            .iter()
            .map(|issuer| (issuer.name.to_string(), issuer.issuer.to_string()))
            .collect(),
    }
}

/// `PATH.lock`: the file locked for a replay state (the state itself is replaced by a rename,
/// so its own lock would not outlive a save).
fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Every path the run reads and writes, for the collision check and the preflight.
fn run_paths(
    args: &VerifyArgs,
    verifier: &Verifier,
    witnesses: Option<&Path>,
) -> Result<(Vec<Named>, Vec<Named>), Failure> {
    let mut reads = vec![
        Named::new("--config", &args.config),
        Named::new("--input", &args.input),
    ];
    reads.extend(
        verifier
            .files()
            .iter()
            .map(|file| Named::new(format!("{} in --config", file.key), &file.path)),
    );
    if let Some(ca) = &args.replay_store_ca {
        reads.push(Named::new("--replay-store-ca", ca));
    }
    let mut writes = vec![Named::new("--output", &args.output)];
    if args.output != Path::new("-") {
        writes.push(Named::new(
            "the run record of --output",
            RunRecord::path_for(&args.output),
        ));
    }
    if let Some(summary) = &args.summary {
        writes.push(Named::new("--summary", summary));
    }
    if let Some(state) = &args.replay_state {
        reads.push(Named::new("--replay-state", state));
        writes.push(Named::new("--replay-state", state));
        writes.push(Named::new(
            "the temp file of --replay-state",
            temp_path(state).map_err(Failure::fatal)?,
        ));
        writes.push(Named::new("the lock of --replay-state", lock_path(state)));
        if let Some(folder) = witnesses {
            writes.push(Named::new(
                "the witness of --replay-state",
                witness_path(folder, state),
            ));
        }
    }
    Ok((reads, writes))
}

/// Opens a file to lock it, creating it, changing nothing in it.
fn open_for_lock(path: &Path, append: bool) -> Result<File, Failure> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .open(path)
        .map_err(|err| Failure::fatal(format!("{}: {err}", path.display())))
}

/// The command line again, with `--resume` (for the message of an interrupted run).
fn resume_command() -> String {
    let mut words: Vec<String> = std::env::args()
        .map(|arg| {
            if !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=%,@+".contains(&b))
            {
                arg
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect();
    if !words.iter().any(|word| word == "--resume") {
        words.push("--resume".into());
    }
    words.join(" ")
}

/// Runs `verify`.
pub(super) fn verify(args: VerifyArgs) -> Result<(), Failure> {
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
    if args.replay_store_ca.is_some()
        && !args
            .replay_store
            .as_deref()
            .is_some_and(|url| url.starts_with("rediss://"))
    {
        return Err(Failure::usage(
            "--replay-store-ca needs a rediss:// (TLS) --replay-store URL",
        ));
    }
    let max_rejected = match (args.fail_on_reject, args.max_rejected) {
        (true, _) => Some(MaxRejected::Count(0)),
        (false, max) => max,
    };

    // Read only: the config (and every file it names) and the input.
    let load = crate::config::LoadOptions {
        spire_bundle: args.spire_bundle.clone(),
        ..Default::default()
    };
    let verifier = crate::config::load_with(&args.config, &load).map_err(Failure::fatal)?;
    let witnesses = match &args.replay_state {
        Some(_) => {
            let folder = state_folder()?;
            create_private_folder(&folder.join("replay-state"))
                .map_err(|err| Failure::fatal(format!("{}: {err}", folder.display())))?;
            Some(folder)
        }
        None => None,
    };
    let (reads, writes) = run_paths(&args, &verifier, witnesses.as_deref())?;
    check_collisions(&reads, &writes).map_err(Failure::fatal)?;
    check_writable(&writes).map_err(Failure::fatal)?;
    let input = Input::open(&args.input)
        .map_err(|err| Failure::fatal(format!("{}: {err}", args.input.display())))?;

    // Locks, held until the run ends (the files stay open).
    // An output with nothing in it (a run killed before its first line, or before its run
    // record) has nothing to keep: resuming it is starting it.
    let existing = fs::metadata(&args.output).ok().filter(|_| !to_stdout);
    if args.resume && existing.as_ref().is_some_and(|m| !m.is_file()) {
        return Err(Failure::fatal(format!(
            "{}: not a regular file; --resume continues files only",
            args.output.display()
        )));
    }
    let resuming = args.resume && existing.is_some_and(|m| m.len() > 0);
    let output_file = if to_stdout {
        None
    } else {
        let file = open_for_lock(&args.output, resuming)?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if regular {
            lock(&file, &args.output, "--output").map_err(Failure::fatal)?;
        }
        Some((file, regular))
    };
    let _state_lock = match &args.replay_state {
        Some(state) => {
            let path = lock_path(state);
            let file = open_for_lock(&path, false)?;
            lock(&file, &path, "--replay-state").map_err(Failure::fatal)?;
            Some(file)
        }
        None => None,
    };

    // A resumed run judges at the interrupted run's time unless told otherwise.
    let record_path = RunRecord::path_for(&args.output);
    let interrupted = if resuming {
        Some(RunRecord::read(&record_path).map_err(Failure::fatal)?)
    } else {
        None
    };
    let now = args
        .now
        .or(interrupted.as_ref().map(|record| record.now))
        .unwrap_or_else(crate::time::clock_now);

    let shard = args.shard.unwrap_or(Shard::ALL);
    let binding = state_binding(&verifier);
    let ca_pem = match &args.replay_store_ca {
        Some(path) => Some(
            fs::read(path).map_err(|err| Failure::fatal(format!("{}: {err}", path.display())))?,
        ),
        None => None,
    };
    let mut store = match (&args.replay_store, &args.replay_state, &witnesses) {
        (Some(url), _, _) => SingleUse::Redis(
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
        (None, Some(path), Some(folder)) => SingleUse::Memory(
            ReplayStore::load(path, now, &binding, folder).map_err(Failure::fatal)?,
        ),
        _ => SingleUse::Memory(ReplayStore::new()),
    };

    let output_name = args.output.display().to_string();
    let out_err = |err: io::Error| Failure::fatal(format!("{output_name}: {err}"));
    let mut skip_records = 0;
    let mut output = match output_file {
        None => Output::Stdout(io::stdout()),
        Some((file, regular)) => {
            if regular {
                let record = run_record(&args, &verifier, now, shard, &store)?;
                if let Some(then) = &interrupted {
                    if let Some(difference) = record.difference(then) {
                        return Err(Failure::fatal(format!(
                            "{}: cannot resume {output_name}: {difference}; resume with what \
                             the interrupted run used, or start over without --resume",
                            record_path.display()
                        )));
                    }
                    skip_records = keep_complete_lines(&args.output).map_err(out_err)?;
                } else {
                    // The record first: an output is never without the record of its run.
                    record.write(&record_path).map_err(Failure::fatal)?;
                    file.set_len(0).map_err(out_err)?;
                }
            }
            Output::File(file)
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once (registered first, so it sees the flag
        // before the first signal sets it).
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&stop),
        )
        .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
        .map_err(|err| Failure::fatal(format!("signal handler: {err}")))?;
    }

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
        kept_output: resuming.then(|| args.output.clone()),
        stop: Some(stop),
        strict_namespaces: args.strict_namespaces,
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
        RunError::KeptDiffers {
            output_line,
            input_line,
        } => Failure::fatal(format!(
            "{output_name}: line {output_line} is not the result this run gives for input \
                 line {input_line}: the kept output was edited, or comes from another input, \
                 config or replay state; nothing was written (start over without --resume)"
        )),
    })?;
    output.sync().map_err(out_err)?;
    if stats.interrupted {
        let summary = summary(&stats, &verifier, threads, now, Some("interrupted"));
        write_summary(&args, &summary)?;
        print_summary(
            &stats,
            &verifier,
            threads,
            skip_records,
            args.strict_namespaces,
        );
        let next = if to_stdout {
            "results went to stdout, which cannot be continued: run again, with --output FILE \
             to be able to resume"
                .to_owned()
        } else {
            format!(
                "{output_name} holds the complete results of {} records; continue with:\n  {}",
                stats.records,
                resume_command()
            )
        };
        return Err(Failure {
            message: format!(
                "interrupted: the records in flight were finished and written, the replay \
                 state was not saved; {next}"
            ),
            status: EXIT_INTERRUPTED,
        });
    }
    if skip_records > stats.records {
        return Err(Failure::fatal(format!(
            "{output_name}: holds {skip_records} results but the input has {} records; \
             it is not the output of this input",
            stats.records
        )));
    }
    if let (Some(path), Some(folder), SingleUse::Memory(store)) =
        (&args.replay_state, &witnesses, &store)
    {
        if let Err(err) = store.save(path, now, &binding, folder) {
            let message = format!(
                "{err}: the replay state was not saved, so the {} records this run attested \
                 are not recorded as consumed and could attest again; do not use these \
                 results until it is: {}",
                stats.attested,
                if to_stdout {
                    "run again once the state can be written".to_owned()
                } else {
                    format!(
                        "once it can be written, rerun with --resume (it judges {output_name} \
                         again, writes nothing new, and saves the state)"
                    )
                }
            );
            let summary = summary(&stats, &verifier, threads, now, Some(&message));
            write_summary(&args, &summary)?;
            print_summary(
                &stats,
                &verifier,
                threads,
                skip_records,
                args.strict_namespaces,
            );
            return Err(Failure::fatal(message));
        }
    }
    write_summary(&args, &summary(&stats, &verifier, threads, now, None))?;
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
    print_summary(
        &stats,
        &verifier,
        threads,
        skip_records,
        args.strict_namespaces,
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
    if let Some(max) = max_rejected {
        if max.exceeded(stats.rejected, stats.records) {
            return Err(Failure {
                message: format!(
                    "{} of {} records were rejected, more than --max-rejected {max} allows",
                    stats.rejected, stats.records
                ),
                status: EXIT_TOO_MANY_REJECTED,
            });
        }
    }
    Ok(())
}

/// Warnings about an input that is plainly not evidence: empty, or whose first records could
/// not be read as records or tokens at all.
fn input_warnings(stats: &RunStats, input: &std::path::Path, shard: Shard) -> Vec<String> {
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

/// The run record of this run: what it reads, when it judges, the state it starts from.
fn run_record(
    args: &VerifyArgs,
    verifier: &Verifier,
    now: i64,
    shard: Shard,
    store: &SingleUse,
) -> Result<RunRecord, Failure> {
    let mut files = vec![DigestedFile::read("--config", &args.config).map_err(Failure::fatal)?];
    for file in verifier.files() {
        files.push(DigestedFile::read(&file.key, &file.path).map_err(Failure::fatal)?);
    }
    let replay = match (store, &args.replay_state) {
        (SingleUse::Redis(store), _) => ReplayOrigin::Store {
            address: store.address().to_owned(),
        },
        (SingleUse::Memory(store), Some(path)) => ReplayOrigin::State {
            path: fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
            generation: store.origin().generation,
            sha256: store.origin().sha256.clone(),
        },
        (SingleUse::Memory(_), None) => ReplayOrigin::None,
    };
    Ok(RunRecord::new(
        files,
        &args.input,
        now,
        shard.to_string(),
        replay,
    ))
}

/// The `--summary` object, with the agent IDs two attestors produced and, for a run that did
/// not complete, `"failed": reason`.
fn summary(
    stats: &RunStats,
    verifier: &Verifier,
    threads: usize,
    now: i64,
    failed: Option<&str>,
) -> String {
    let namespaces = verifier.namespaces();
    let text = crate::summary::json(stats, verifier, threads, now);
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(&text) else {
        return text;
    };
    let first: Vec<serde_json::Value> = stats
        .first_collisions
        .iter()
        .map(|c| {
            serde_json::json!({
                "line": c.again.1,
                "attestor": namespaces.name(c.again.0),
                "first_line": c.first.1,
                "first_attestor": namespaces.name(c.first.0),
            })
        })
        .collect();
    object.insert(
        "agent_id_collisions".into(),
        serde_json::json!({"count": stats.agent_id_collisions, "first": first}),
    );
    if let Some(reason) = failed {
        object.insert("failed".into(), reason.into());
    }
    serde_json::Value::Object(object).to_string()
}

/// The stderr summary, with a line on agent IDs two attestors produced.
fn print_summary(
    stats: &RunStats,
    verifier: &Verifier,
    threads: usize,
    resumed: u64,
    strict: bool,
) {
    let namespaces = verifier.namespaces();
    eprint!(
        "{}",
        crate::summary::table(stats, verifier, threads, resumed)
    );
    if let Some(first) = stats.first_collisions.first() {
        eprintln!(
            "fleet-attest: {} records gave an agent ID that another attestor gave earlier in the \
             run (first: line {}, {}, after line {}, {}){}",
            stats.agent_id_collisions,
            first.again.1,
            namespaces.name(first.again.0),
            first.first.1,
            namespaces.name(first.first.0),
            if strict {
                "; rejected as policy/agent_id_collision (--strict-namespaces)"
            } else {
                "; --strict-namespaces would reject them"
            }
        );
    }
}

fn write_summary(args: &VerifyArgs, summary: &str) -> Result<(), Failure> {
    match &args.summary {
        Some(path) => fs::write(path, format!("{summary}\n"))
            .map_err(|err| Failure::fatal(format!("{}: {err}", path.display()))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_rejected_takes_counts_and_percentages() {
        assert_eq!(parse_max_rejected("0"), Ok(MaxRejected::Count(0)));
        assert_eq!(parse_max_rejected("2.5%"), Ok(MaxRejected::Percent(2.5)));
        assert!(parse_max_rejected("101%").is_err());
        assert!(parse_max_rejected("-1").is_err());
        assert!(parse_max_rejected("x").is_err());
        assert!(!MaxRejected::Count(2).exceeded(2, 10));
        assert!(MaxRejected::Count(2).exceeded(3, 10));
        assert!(!MaxRejected::Percent(10.0).exceeded(1, 10));
        assert!(MaxRejected::Percent(10.0).exceeded(2, 10));
        assert!(!MaxRejected::Percent(0.0).exceeded(0, 0));
    }
}
