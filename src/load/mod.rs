//! `fleet-attest load`: load-tests a running SPIRE server with a `gen --live` fleet, over
//! SPIRE's own `spire.api.server.agent.v1.Agent/AttestAgent` stream.
//!
//! | module | its job |
//! |---|---|
//! | [`fleet`] | reads the fleet's `nodes.jsonl` |
//! | [`proto`] | the Agent API messages (prost) |
//! | [`trust`] | the server's bundle; TLS to the server's SVID; the check of agent SVIDs |
//! | [`client`] | one attestation over the stream (x509pop or join_token); `CreateJoinToken` |
//! | [`schedule`] | open- and closed-loop arrival, latency without coordinated omission |
//! | [`report`] | per-attestor counts, failures and HDR latency percentiles; table and summary |
//! | [`outcome`] | what one attestation came to |
//!
//! Traffic goes to the one address `--server` resolves to at start, nowhere else; a run is
//! bounded by `--count` or `--duration` (one pass over the fleet when neither is given) and
//! every attempt by `--timeout`.

pub mod client;
pub mod fleet;
pub mod outcome;
pub mod proto;
pub mod report;
pub mod schedule;
pub mod trust;

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::failure::Failure;
use client::{Admin, Client};
use fleet::{Attestor, Node};
use outcome::Outcome;
use report::{Collector, Continuity, Report, RunInfo};
use schedule::{Attempt, Mode, Plan, Record};

/// Arguments of `load`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("loop").required(true).args(["rate", "concurrency"])))]
pub struct LoadArgs {
    /// The server's address, HOST:PORT (resolved once; only that address is contacted).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: String,
    /// The server's trust bundle, PEM (`spire-server bundle show`).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// A `gen --live` folder (its nodes.jsonl is read).
    #[arg(long, value_name = "DIR")]
    pub fleet: PathBuf,
    /// The server's trust domain (default: fleet.toml's trust_domain).
    #[arg(long, value_name = "TD")]
    pub trust_domain: Option<String>,
    /// Attestors whose nodes attest, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "x509pop,join_token")]
    pub attestor: Vec<String>,
    /// Open loop: attempts a second on a fixed schedule.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Closed loop: attempts at once, each worker starting its next when the last ends.
    #[arg(long, value_name = "C")]
    pub concurrency: Option<usize>,
    /// Attempts to count (after the warmup). Default: one pass over the selected nodes.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Time to count (after the warmup): seconds, or with a unit (500ms, 30s, 5m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Time at the start whose attempts are not counted.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0")]
    pub warmup: Duration,
    /// Skip the first N selected nodes (attempts then start at node N, wrapping around).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub skip: u64,
    /// HTTP/2 connections to the server, used in turn.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub connections: u16,
    /// At most this many attempts outstanding (open loop); later ones start late.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_in_flight: usize,
    /// An attempt not done after this fails as client:timeout.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// One JSON line per attempt.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The run's numbers as one JSON object.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// An earlier run's --output: report which nodes kept their agent ID.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Register the join tokens this run uses first (CreateJoinToken on --admin-socket).
    #[arg(long, requires = "admin_socket")]
    pub register_tokens: bool,
    /// The server's admin API socket (its socket_path).
    #[arg(long, value_name = "PATH")]
    pub admin_socket: Option<PathBuf>,
    /// Lifetime of registered join tokens, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(i32).range(1..))]
    pub token_ttl: i32,
    /// Client threads (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Draw a progress bar (default when stderr is a terminal).
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// The longest `--duration` and `--warmup` (a run is bounded).
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Join tokens registered at once.
const REGISTER_IN_FLIGHT: usize = 32;

/// Parses `30`, `30s`, `500ms`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (30s, 500ms, 5m, 1h)"))?;
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?}: the unit is ms, s, m or h")),
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds < 0.0 || seconds > MAX_DURATION.as_secs_f64() {
        return Err(format!("{text:?}: between 0 and 24h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(serde::Deserialize)]
struct FleetConfig {
    trust_domain: String,
}

fn trust_domain(args: &LoadArgs) -> Result<String, Failure> {
    if let Some(td) = &args.trust_domain {
        return Ok(td.clone());
    }
    let path = args.fleet.join("fleet.toml");
    let text = fs::read_to_string(&path)
        .map_err(|e| Failure::fatal(format!("{}: {e} (or give --trust-domain)", path.display())))?;
    let config: FleetConfig =
        toml::from_str(&text).map_err(|e| Failure::fatal(format!("{}: {e}", path.display())))?;
    Ok(config.trust_domain)
}

/// An earlier run's `--output`: the agent ID of each node it attested.
fn read_previous(path: &Path) -> Result<HashMap<String, String>, Failure> {
    let fatal = |e: String| Failure::fatal(format!("{}: {e}", path.display()));
    let file = fs::File::open(path).map_err(|e| fatal(e.to_string()))?;
    let mut ids = HashMap::new();
    for (n, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| fatal(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| fatal(format!("line {}: {e}", n + 1)))?;
        if value["outcome"] == "attested" {
            if let (Some(node), Some(id)) = (value["node"].as_str(), value["agent_id"].as_str()) {
                ids.insert(node.to_owned(), id.to_owned());
            }
        }
    }
    Ok(ids)
}

/// Attempt `seq` attests node `(skip + seq) % nodes`.
struct FleetAttempt {
    client: Client,
    nodes: Arc<Vec<Node>>,
    skip: u64,
}

impl FleetAttempt {
    fn node(nodes: &[Node], skip: u64, seq: u64) -> &Node {
        &nodes[((skip + seq) % nodes.len() as u64) as usize]
    }
}

impl Attempt for FleetAttempt {
    async fn attempt(&self, seq: u64) -> Outcome {
        let node = FleetAttempt::node(&self.nodes, self.skip, seq);
        self.client.attest(node, seq).await
    }
}

fn unix_us(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One `--output` line.
fn output_line(
    record: &Record,
    node: &Node,
    started_unix_us: u64,
    continuity: Option<Continuity>,
) -> String {
    let mut line = json!({
        "seq": record.seq,
        "node": node.id,
        "attestor": node.attestor().name(),
        "warmup": record.warmup,
        "scheduled_unix_us": started_unix_us + record.scheduled.as_micros() as u64,
        "started_unix_us": started_unix_us + record.started.as_micros() as u64,
        "latency_us": record.latency().as_micros() as u64,
    });
    match &record.outcome {
        Outcome::Attested {
            agent_id,
            reattestable,
        } => {
            line["outcome"] = json!("attested");
            line["agent_id"] = json!(agent_id);
            line["reattestable"] = json!(reattestable);
        }
        Outcome::Failed(failure) => {
            line["outcome"] = json!("failed");
            line["code"] = json!(failure.code);
            line["message"] = json!(failure.message);
        }
    }
    if let Some(continuity) = continuity {
        line["previous"] = json!(match continuity {
            Continuity::Kept => "kept",
            Continuity::Changed => "changed",
            Continuity::New => "new",
            Continuity::Lost => "lost",
        });
    }
    line.to_string()
}

fn progress_bar(enabled: bool, plan: &Plan) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = match plan.planned_attempts() {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} attempts, {per_sec}, {msg}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {pos} attempts, {per_sec}, {msg}, {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `load`.
pub fn run(args: &LoadArgs) -> Result<(), Failure> {
    let mut attestors = Vec::new();
    for name in &args.attestor {
        let attestor = Attestor::parse(name.trim()).ok_or_else(|| {
            Failure::usage(format!(
                "--attestor: {name:?} is neither x509pop nor join_token"
            ))
        })?;
        if !attestors.contains(&attestor) {
            attestors.push(attestor);
        }
    }
    let mode = match (args.rate, args.concurrency) {
        (Some(rate), _) if !(rate > 0.0 && rate <= 1e6) => {
            return Err(Failure::usage("--rate must be within (0, 1000000]"))
        }
        (Some(rate), _) => Mode::Open { rate },
        (None, Some(c)) if c == 0 || c > 100_000 => {
            return Err(Failure::usage("--concurrency must be within 1..=100000"))
        }
        (None, Some(concurrency)) => Mode::Closed { concurrency },
        (None, None) => return Err(Failure::usage("give --rate or --concurrency")),
    };
    if args.max_in_flight == 0 {
        return Err(Failure::usage("--max-in-flight must be at least 1"));
    }
    let addr: SocketAddr = args
        .server
        .to_socket_addrs()
        .map_err(|e| Failure::fatal(format!("--server {}: {e}", args.server)))?
        .next()
        .ok_or_else(|| Failure::fatal(format!("--server {}: no address", args.server)))?;
    let td = trust_domain(args)?;
    let bundle = Arc::new(trust::Bundle::load(&args.bundle).map_err(Failure::fatal)?);
    let nodes_path = args.fleet.join("nodes.jsonl");
    let nodes = fleet::load(&nodes_path, &td, &attestors).map_err(Failure::fatal)?;
    if nodes.is_empty() {
        return Err(Failure::fatal(format!(
            "{}: no {} node",
            nodes_path.display(),
            args.attestor.join(" or ")
        )));
    }
    if args.skip >= nodes.len() as u64 {
        return Err(Failure::usage(format!(
            "--skip {} but the fleet has {} such nodes",
            args.skip,
            nodes.len()
        )));
    }
    let count = match (args.count, args.duration) {
        (None, None) => Some(nodes.len() as u64 - args.skip),
        (count, _) => count,
    };
    let plan = Plan {
        mode,
        count,
        duration: args.duration,
        warmup: args.warmup,
        max_in_flight: args.max_in_flight,
        timeout: args.timeout,
    };
    let previous = args.previous.as_deref().map(read_previous).transpose()?;
    let mut output = match &args.output {
        Some(path) => {
            Some(BufWriter::new(fs::File::create(path).map_err(|e| {
                Failure::fatal(format!("{}: {e}", path.display()))
            })?))
        }
        None => None,
    };

    let threads = args
        .threads
        .map_or_else(crate::pipeline::default_threads, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| Failure::fatal(format!("runtime: {e}")))?;
    let tls = Arc::new(trust::client_config(bundle.clone(), &td).map_err(Failure::fatal)?);
    let nodes = Arc::new(nodes);

    if args.register_tokens {
        let socket = args.admin_socket.clone().unwrap_or_default();
        let planned = plan.planned_attempts().unwrap_or(u64::MAX);
        let mut tokens = Vec::new();
        for seq in 0..planned.min(nodes.len() as u64) {
            if let fleet::Evidence::JoinToken { token } =
                &FleetAttempt::node(&nodes, args.skip, seq).evidence
            {
                tokens.push(token.clone());
            }
        }
        let started = Instant::now();
        runtime.block_on(register_tokens(
            socket.clone(),
            tokens.clone(),
            args.token_ttl,
        ))?;
        eprintln!(
            "fleet-attest load: registered {} join tokens on {} in {:.1}s",
            tokens.len(),
            socket.display(),
            started.elapsed().as_secs_f64()
        );
    }

    let client = runtime
        .block_on(Client::connect(
            addr,
            tls,
            bundle,
            usize::from(args.connections),
        ))
        .map_err(Failure::fatal)?;
    let attempt = Arc::new(FleetAttempt {
        client,
        nodes: nodes.clone(),
        skip: args.skip,
    });
    let progress = if args.no_progress {
        false
    } else {
        args.progress || io::stderr().is_terminal()
    };
    let bar = progress_bar(progress, &plan);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(4096);
    let start_wall = SystemTime::now();
    let started_unix_us = unix_us(start_wall);
    let cpu_before = crate::bench::process_cpu_seconds();
    let collector_nodes = nodes.clone();
    let skip = args.skip;
    let output_name = args.output.clone();
    let warmup = args.warmup;
    // One thread owns the numbers, the output file and the bar: records come to it in order
    // of completion through a bounded channel.
    let collecting = std::thread::spawn(move || -> Result<Collector, Failure> {
        let mut collector = Collector::new(warmup, previous);
        let (mut ok, mut failed) = (0u64, 0u64);
        while let Some(record) = rx.blocking_recv() {
            let node = FleetAttempt::node(&collector_nodes, skip, record.seq);
            let continuity = collector.add(&record, &node.id, node.attestor());
            if let Some(out) = output.as_mut() {
                writeln!(
                    out,
                    "{}",
                    output_line(&record, node, started_unix_us, continuity)
                )
                .map_err(|e| {
                    let name = output_name.as_deref().unwrap_or(Path::new("-"));
                    Failure::fatal(format!("{}: {e}", name.display()))
                })?;
            }
            match record.outcome {
                Outcome::Attested { .. } => ok += 1,
                Outcome::Failed(_) => failed += 1,
            }
            bar.inc(1);
            if (ok + failed) % 64 == 1 {
                bar.set_message(format!("{ok} attested, {failed} failed"));
            }
        }
        bar.finish_and_clear();
        if let Some(mut out) = output {
            out.flush().map_err(|e| {
                let name = output_name.as_deref().unwrap_or(Path::new("-"));
                Failure::fatal(format!("{}: {e}", name.display()))
            })?;
        }
        Ok(collector)
    });
    runtime.block_on(schedule::run(&plan, attempt, tx));
    let collector = collecting
        .join()
        .map_err(|_| Failure::fatal("the collecting thread panicked"))??;
    let cpu = match (cpu_before, crate::bench::process_cpu_seconds()) {
        (Some(before), Some(after)) => Duration::from_secs_f64((after - before).max(0.0)),
        _ => Duration::ZERO,
    };
    let report: Report = collector.finish(cpu);
    let info = RunInfo {
        server: addr.to_string(),
        mode: match mode {
            Mode::Open { .. } => "open".into(),
            Mode::Closed { .. } => "closed".into(),
        },
        rate: args.rate,
        concurrency: args.rate.is_none().then_some(args.concurrency).flatten(),
        connections: usize::from(args.connections),
        warmup: args.warmup,
        started_unix_us,
    };
    if let Some(path) = &args.summary {
        fs::write(path, format!("{}\n", report.summary(&info)))
            .map_err(|e| Failure::fatal(format!("{}: {e}", path.display())))?;
    }
    print!("{}", report.table(&info));
    Ok(())
}

async fn register_tokens(socket: PathBuf, tokens: Vec<String>, ttl: i32) -> Result<(), Failure> {
    let shown = socket.display().to_string();
    let admin = Arc::new(Admin::connect(socket).await.map_err(Failure::fatal)?);
    let slots = Arc::new(tokio::sync::Semaphore::new(REGISTER_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for token in tokens {
        let (admin, slots) = (admin.clone(), slots.clone());
        let Ok(slot) = slots.acquire_owned().await else {
            break;
        };
        tasks.spawn(async move {
            let result = admin.create_join_token(&token, ttl).await;
            drop(slot);
            result.map_err(|s| format!("join token {token}: {:?}: {}", s.code(), s.message()))
        });
        while let Some(done) = tasks.try_join_next() {
            done.map_err(|e| Failure::fatal(e.to_string()))?
                .map_err(|e| Failure::fatal(format!("{shown}: CreateJoinToken: {e}")))?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| Failure::fatal(e.to_string()))?
            .map_err(|e| Failure::fatal(format!("{shown}: CreateJoinToken: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_stay_bounded() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "-1s", "25h", "3d", "1e400"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
