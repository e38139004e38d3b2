//! `fleet-attest bench`: the engine end to end against the crypto ceiling, in one process.
//!
//! Both sides get the same `--nodes` valid records of one algorithm (distinct `jti`s, so every
//! record attests and consumes a replay entry) and run on the same rayon pool of `--threads`
//! workers, built once (the engine's writer and reader threads come on top, as in `verify`):
//! - **engine**: the full pipeline — the evidence file memory-mapped, records parsed, keys
//!   looked up, signatures verified, claims checked, selectors, aliases and agent IDs built,
//!   result lines serialized and written (to a discarding sink) by the ordered writer, replay
//!   decisions made with a fresh store each round;
//! - **ceiling**: the same signatures over the same signing inputs, verified with the same
//!   pre-parsed keys, decoded beforehand: nothing but the signature math.
//!
//! With `--replay-store URL`, each round also runs the engine with single use in that Redis
//! (a fresh key namespace per round), compared with the in-memory engine of the same round.
//!
//! Rounds alternate engine and ceiling after one warm-up of each. Throughputs are medians of
//! rounds; the ratio is the median of each round's engine/ceiling, so that slow drift in the
//! machine's speed (large on shared virtual machines) hits both sides of a pair alike. The last
//! line is
//! `bench ALG threads=N engine=X/s ceiling=Y/s ratio=R` (or one JSON object with `--json`).

use std::fs;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use clap::Args;
use rayon::prelude::*;

use crate::failure::Failure;
use crate::input::Input;
use crate::keys::{Alg, VerifyKey};
use crate::pipeline::default_threads;
use crate::pipeline::{self, RunOptions};
use crate::replay::redis::RedisStore;
use crate::replay::{ReplayStore, SingleUse};
use crate::shard::Shard;
use crate::verifier::Verifier;
use aws_lc_rs::signature;

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// ES256, ES384, RS256, PS256, EdDSA (any JWS alg of SPEC §2), or x509pop (P-256 leaf, one
    /// intermediate).
    #[arg(long, default_value = "ES256")]
    pub alg: String,
    /// Records per round.
    #[arg(long, default_value_t = 30_000)]
    pub nodes: u64,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Measured rounds of each side (medians are reported).
    #[arg(long, default_value_t = 7)]
    pub rounds: usize,
    /// Print one JSON object instead of the text line.
    #[arg(long)]
    pub json: bool,
    /// Also run the engine with single-use state in this Redis, in the same rounds, and compare
    /// it with the in-memory store (keys go to a namespace of their own, removed afterwards).
    #[arg(long, value_name = "redis://HOST:PORT/DB")]
    pub replay_store: Option<String>,
}

/// The figures of one bench run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    /// The algorithm.
    pub alg: String,
    /// Worker threads.
    pub threads: usize,
    /// Records per round.
    pub nodes: u64,
    /// Measured rounds of each side (the medians are over these).
    pub rounds: usize,
    /// Median engine throughput, records/s.
    pub engine_per_sec: f64,
    /// Median ceiling throughput, verifications/s.
    pub ceiling_per_sec: f64,
    /// Median of the per-round engine/ceiling ratios.
    pub ratio: f64,
    /// Every engine round, records/s.
    pub engine_rounds: Vec<f64>,
    /// Every ceiling round, verifications/s.
    pub ceiling_rounds: Vec<f64>,
    /// Median CPU seconds the process used per second of an engine round's wall time (up to
    /// the number of cores; less means threads waited or the machine took the CPU away).
    /// Absent where the platform does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_cpu_per_wall: Option<f64>,
    /// The same for the ceiling's rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling_cpu_per_wall: Option<f64>,
    /// With `--replay-store`: the engine with Redis-backed single use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisComparison>,
}

/// The engine with single use in Redis against the same engine with it in memory.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RedisComparison {
    /// The store's address.
    pub address: String,
    /// Median engine throughput with Redis, records/s.
    pub redis_per_sec: f64,
    /// Median of the per-round (engine with Redis) / (engine in memory) ratios.
    pub ratio: f64,
    /// Every Redis round, records/s.
    pub redis_rounds: Vec<f64>,
}

const NOW: i64 = 1_795_910_400; // 2026-11-29T00:00:00Z: any fixed time will do
/// The ceiling's work is cut into pieces of at most this many records. Left to itself, rayon
/// splits a slice into a few large pieces, and near the end of a round one thread verified the
/// last of them alone while the other idled: 2-thread ceiling rounds used 1.89–1.997 CPUs per
/// second of wall time (~1 % idle typically, up to 5 %), which made the ceiling look slower
/// than the hardware and flattered the ratio; with pieces of 16, ~1.995. Sixteen records are
/// under two milliseconds of verifying for every algorithm here.
pub const CEILING_PIECE: usize = 16;

/// A signature to verify for the ceiling, decoded ahead of time.
struct Prepared {
    issuer: usize,
    key: usize,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// Fewer measured rounds than this and `bench` says its medians are thin.
pub const FEW_ROUNDS: usize = 5;

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> Result<(), Failure> {
    let result = measure(args)?;
    if result.rounds < FEW_ROUNDS {
        eprintln!(
            "note: medians over {} only; a shared machine drifts between rounds, \
             use --rounds 7 (the default) or more for figures to rely on",
            crate::text::count(result.rounds as u64, "round")
        );
    }
    if args.json {
        println!("{}", serde_json::to_string(&result).unwrap_or_default());
    } else {
        println!(
            "engine rounds (records/s): {}",
            fmt_rounds(&result.engine_rounds)
        );
        println!(
            "ceiling rounds (verifies/s): {}",
            fmt_rounds(&result.ceiling_rounds)
        );
        // Each round's pair, so that the spread behind the median is in plain view.
        let pairs = ratios(&result.engine_rounds, &result.ceiling_rounds);
        let pairs: Vec<String> = pairs.iter().map(|r| format!("{r:.3}")).collect();
        println!("ratio rounds (engine/ceiling): {}", pairs.join(" "));
        if let (Some(engine), Some(ceiling)) =
            (result.engine_cpu_per_wall, result.ceiling_cpu_per_wall)
        {
            // Both near the thread count: both sides kept every core busy, a fair comparison.
            println!("cpu per wall second (median): engine {engine:.3} ceiling {ceiling:.3}");
        }
        if let Some(redis) = &result.redis {
            println!(
                "engine with redis rounds (records/s): {}",
                fmt_rounds(&redis.redis_rounds)
            );
            println!(
                "replay-store {} memory={:.0}/s redis={:.0}/s ratio={:.3}",
                redis.address, result.engine_per_sec, redis.redis_per_sec, redis.ratio
            );
        }
        println!(
            "medians over {} of each side",
            crate::text::count(result.rounds as u64, "round")
        );
        println!(
            "bench {} threads={} engine={:.0}/s ceiling={:.0}/s ratio={:.3}",
            result.alg, result.threads, result.engine_per_sec, result.ceiling_per_sec, result.ratio
        );
    }
    Ok(())
}

fn fmt_rounds(rounds: &[f64]) -> String {
    rounds
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ceiling's work, prepared before timing.
enum Ceiling {
    /// JWS signatures with their issuers' keys.
    Jwt(Vec<Prepared>),
    /// Per x509pop record: the leaf's certificate signature under the intermediate's key, and
    /// the proof of possession under the leaf's key (both keys parsed beforehand).
    X509Pop(Vec<PreparedPop>),
}

/// The two signatures an x509pop record needs at minimum.
struct PreparedPop {
    issuer_key: std::sync::Arc<signature::ParsedPublicKey>,
    tbs: Vec<u8>,
    cert_signature: Vec<u8>,
    leaf_key: signature::ParsedPublicKey,
    digest: aws_lc_rs::digest::Digest,
    proof: Vec<u8>,
}

/// Measures engine and ceiling for `args`.
pub fn measure(args: &BenchArgs) -> Result<BenchResult, Failure> {
    let x509pop = args.alg == "x509pop";
    let alg = match Alg::parse(&args.alg) {
        Some(alg) => Some(alg),
        None if x509pop => None,
        None => {
            return Err(Failure::usage(format!(
                "--alg {:?}: not one of ES256, ES384, RS256, PS256, EdDSA, x509pop (or another JWS alg)",
                args.alg
            )))
        }
    };
    if args.nodes == 0 || args.rounds == 0 {
        return Err(Failure::usage("--nodes and --rounds must be at least 1"));
    }
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("fleet-attest-bench-{i}"))
        .build()
        .map_err(|e| Failure::fatal(format!("thread pool: {e}")))?;

    let io_err =
        |what: &std::path::Path, e: io::Error| Failure::fatal(format!("{}: {e}", what.display()));
    // Removed when dropped, on every return below; private, so no other user can swap the
    // config or keys the engine loads from it.
    let workdir = tempfile::Builder::new()
        .prefix("fleet-attest-bench-")
        .tempdir()
        .map_err(|e| io_err(&std::env::temp_dir(), e))?;
    let dir = workdir.path();
    let records = match alg {
        Some(alg) => {
            let issuers = crate::gen::issuers(1, &[alg]).map_err(Failure::fatal)?;
            crate::gen::write_config_and_keys(dir, &issuers).map_err(|(p, e)| io_err(&p, e))?;
            fs::write(dir.join("join_tokens.csv"), "").map_err(|e| io_err(dir, e))?;
            pool.install(|| crate::gen::valid_jwt_records(&issuers, 1, NOW, 0..args.nodes))
        }
        None => {
            let (records, root) = pool
                .install(|| crate::gen::valid_x509pop_records(1, 0..args.nodes))
                .map_err(Failure::fatal)?;
            fs::write(dir.join("root.pem"), root).map_err(|e| io_err(dir, e))?;
            fs::write(
                dir.join("fleet.toml"),
                "trust_domain = \"example.org\"\n[x509pop]\nca_bundle_paths = [\"root.pem\"]\n",
            )
            .map_err(|e| io_err(dir, e))?;
            records
        }
    };
    let evidence = dir.join("evidence.jsonl");
    let mut text = String::with_capacity(records.iter().map(|r| r.len() + 1).sum());
    for record in &records {
        text.push_str(record);
        text.push('\n');
    }
    fs::write(&evidence, &text).map_err(|e| io_err(&evidence, e))?;
    let verifier = crate::config::load(&dir.join("fleet.toml")).map_err(Failure::fatal)?;
    let input = Input::open(&evidence).map_err(|e| io_err(&evidence, e))?;
    let ceiling_work = match alg {
        Some(_) => Ceiling::Jwt(prepare(&verifier, &records)?),
        None => Ceiling::X509Pop(prepare_x509pop(&records)?),
    };
    let engine = |store: &mut SingleUse| engine_round(&pool, &verifier, &input, args.nodes, store);
    let memory = || SingleUse::Memory(ReplayStore::new());
    let redis = |round: usize| -> Result<SingleUse, Failure> {
        let url = args.replay_store.as_deref().unwrap_or_default();
        let namespace = format!("fleet-attest-bench:{}:{round}", std::process::id());
        RedisStore::connect(url, None, namespace, Shard::ALL, false)
            .map(|store| SingleUse::Redis(Box::new(store)))
            .map_err(Failure::fatal)
    };
    let ceiling = || ceiling_round(&pool, &verifier, &ceiling_work);
    engine(&mut memory())?;
    ceiling()?;
    let mut engine_rounds = Vec::with_capacity(args.rounds);
    let mut ceiling_rounds = Vec::with_capacity(args.rounds);
    let mut redis_rounds = Vec::new();
    // CPU seconds per wall second of each measured round, when the platform says.
    let mut engine_cpu = Vec::new();
    let mut ceiling_cpu = Vec::new();
    for round in 0..=args.rounds {
        if args.replay_store.is_some() {
            let mut store = redis(round)?;
            let elapsed = engine(&mut store);
            if let SingleUse::Redis(store) = &mut store {
                store.forget_namespace().map_err(Failure::fatal)?;
            }
            if round > 0 {
                redis_rounds.push(per_sec(args.nodes, elapsed?));
            }
        }
        if round > 0 {
            let before = process_cpu_seconds();
            let elapsed = engine(&mut memory())?;
            let between = process_cpu_seconds();
            engine_rounds.push(per_sec(args.nodes, elapsed));
            engine_cpu.extend(cpu_per_wall(before, between, elapsed));
            let elapsed = ceiling()?;
            let after = process_cpu_seconds();
            ceiling_rounds.push(per_sec(args.nodes, elapsed));
            ceiling_cpu.extend(cpu_per_wall(between, after, elapsed));
        }
    }
    let cpu_median = |rounds: &[f64]| (!rounds.is_empty()).then(|| median(rounds));
    let engine_per_sec = median(&engine_rounds);
    let ceiling_per_sec = median(&ceiling_rounds);
    let redis = args.replay_store.as_deref().map(|url| RedisComparison {
        address: crate::replay::redis::redact(url),
        redis_per_sec: median(&redis_rounds),
        ratio: median(&ratios(&redis_rounds, &engine_rounds)),
        redis_rounds,
    });
    Ok(BenchResult {
        alg: alg.map_or("x509pop", |a| a.name()).to_owned(),
        threads,
        nodes: args.nodes,
        engine_per_sec,
        ceiling_per_sec,
        ratio: median(&ratios(&engine_rounds, &ceiling_rounds)),
        rounds: args.rounds,
        engine_rounds,
        ceiling_rounds,
        engine_cpu_per_wall: cpu_median(&engine_cpu),
        ceiling_cpu_per_wall: cpu_median(&ceiling_cpu),
        redis,
    })
}

/// Parses every record's certificates and proof, outside the timed part.
fn prepare_x509pop(records: &[String]) -> Result<Vec<PreparedPop>, Failure> {
    let std = base64::engine::general_purpose::STANDARD;
    let bad = |what: &str| Failure::fatal(format!("bench x509pop record: {what}"));
    let mut issuer_keys: Vec<(Vec<u8>, std::sync::Arc<signature::ParsedPublicKey>)> = Vec::new();
    records
        .iter()
        .map(|record| {
            let v: serde_json::Value = serde_json::from_str(record).map_err(|_| bad("JSON"))?;
            let certs = &v["payload"]["certificates"];
            let decode = |v: &serde_json::Value| std.decode(v.as_str().unwrap_or_default()).ok();
            let leaf_der = decode(&certs[0]).ok_or_else(|| bad("leaf"))?;
            let int_der = decode(&certs[1]).ok_or_else(|| bad("intermediate"))?;
            let leaf = crate::x509::parse(&leaf_der).map_err(|_| bad("leaf DER"))?;
            let int = crate::x509::parse(&int_der).map_err(|_| bad("int DER"))?;
            let point = |cert: &crate::x509::Certificate| match &cert.public_key {
                crate::x509::cert::PublicKey::Ecdsa { point, .. } => Some(point.clone()),
                _ => None,
            };
            let issuer_key = match issuer_keys.iter().find(|(d, _)| *d == int_der) {
                Some((_, key)) => key.clone(),
                None => {
                    let key = std::sync::Arc::new(
                        signature::ParsedPublicKey::new(
                            &signature::ECDSA_P256_SHA256_ASN1,
                            &point(&int).ok_or_else(|| bad("intermediate key"))?,
                        )
                        .map_err(|_| bad("intermediate key"))?,
                    );
                    issuer_keys.push((int_der.clone(), key.clone()));
                    key
                }
            };
            let leaf_key = signature::ParsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_ASN1,
                &point(&leaf).ok_or_else(|| bad("leaf key"))?,
            )
            .map_err(|_| bad("leaf key"))?;
            let c =
                decode(&v["challenge"]["ecdsa_signature"]["nonce"]).ok_or_else(|| bad("nonce"))?;
            let r = &v["response"]["ecdsa_signature"];
            let n = decode(&r["nonce"]).ok_or_else(|| bad("nonce"))?;
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &[c, n].concat());
            let proof = crate::x509::signature::ecdsa_der(
                &decode(&r["r"]).ok_or_else(|| bad("r"))?,
                &decode(&r["s"]).ok_or_else(|| bad("s"))?,
            )
            .ok_or_else(|| bad("r, s"))?;
            Ok(PreparedPop {
                issuer_key,
                tbs: leaf.raw_tbs().to_vec(),
                cert_signature: leaf.signature.clone(),
                leaf_key,
                digest,
                proof,
            })
        })
        .collect()
}

/// Round by round, `a / b`.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// CPU time (user + system) used so far by every thread of this process, in seconds.
#[cfg(unix)]
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage only writes a `rusage` into the pointer it is given, which points to a
    // live, writable one (all-zero is a valid `rusage`: plain integers); nothing else is read.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

#[cfg(not(unix))]
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    None
}

/// CPU seconds used between two readings per second of `wall`; `None` without both readings.
fn cpu_per_wall(before: Option<f64>, after: Option<f64>, wall: Duration) -> Option<f64> {
    Some((after? - before?) / wall.as_secs_f64().max(1e-9))
}

fn per_sec(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn engine_round(
    pool: &rayon::ThreadPool,
    verifier: &Verifier,
    input: &Input,
    nodes: u64,
    store: &mut SingleUse,
) -> Result<Duration, Failure> {
    let options = RunOptions {
        threads: pool.current_num_threads(),
        now: NOW,
        skip_records: 0,
        progress: false,
        shard: Shard::ALL,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let mut sink = io::sink();
    let stats = pipeline::run_in(pool, verifier, input, &mut sink, store, &options)
        .map_err(|e| Failure::fatal(format!("bench run: {e:?}")))?;
    let elapsed = started.elapsed();
    sink.flush().ok();
    if stats.attested != nodes {
        return Err(Failure::fatal(format!(
            "bench: {} of {nodes} records attested ({:?})",
            stats.attested, stats.by_code
        )));
    }
    Ok(elapsed)
}

/// Decodes every token's signature and finds its key, outside the timed part.
fn prepare(verifier: &Verifier, records: &[String]) -> Result<Vec<Prepared>, Failure> {
    records
        .iter()
        .map(|record| {
            let value: serde_json::Value = serde_json::from_str(record)
                .map_err(|e| Failure::fatal(format!("bench record: {e}")))?;
            let token = value["token"].as_str().unwrap_or_default();
            let (signing_input, signature) = token
                .rsplit_once('.')
                .ok_or_else(|| Failure::fatal("bench token has no signature"))?;
            let header = signing_input.split('.').next().unwrap_or_default();
            let header: serde_json::Value = B64
                .decode(header)
                .ok()
                .and_then(|h| serde_json::from_slice(&h).ok())
                .ok_or_else(|| Failure::fatal("bench token header"))?;
            let kid = header["kid"].as_str().unwrap_or_default();
            let (issuer, key) = find_key(verifier, kid)
                .ok_or_else(|| Failure::fatal(format!("bench: no key {kid}")))?;
            Ok(Prepared {
                issuer,
                key,
                signing_input: signing_input.as_bytes().to_vec(),
                signature: B64
                    .decode(signature)
                    .map_err(|e| Failure::fatal(format!("bench signature: {e}")))?,
            })
        })
        .collect()
}

fn find_key(verifier: &Verifier, kid: &str) -> Option<(usize, usize)> {
    verifier
        .jwt()
        .issuers()
        .iter()
        .enumerate()
        .find_map(|(i, issuer)| {
            issuer
                .keys
                .iter()
                .position(|k| k.kid() == Some(kid))
                .map(|k| (i, k))
        })
}

fn key<'v>(verifier: &'v Verifier, p: &Prepared) -> &'v VerifyKey {
    &verifier.jwt().issuers()[p.issuer].keys[p.key]
}

fn ceiling_round(
    pool: &rayon::ThreadPool,
    verifier: &Verifier,
    work: &Ceiling,
) -> Result<Duration, Failure> {
    let started = Instant::now();
    let failures = pool.install(|| match work {
        Ceiling::Jwt(prepared) => prepared
            .par_iter()
            .with_max_len(CEILING_PIECE)
            .filter(|p| !key(verifier, p).verify(&p.signing_input, &p.signature))
            .count(),
        Ceiling::X509Pop(prepared) => prepared
            .par_iter()
            .with_max_len(CEILING_PIECE)
            .filter(|p| {
                p.issuer_key.verify_sig(&p.tbs, &p.cert_signature).is_err()
                    || p.leaf_key.verify_digest_sig(&p.digest, &p.proof).is_err()
            })
            .count(),
    });
    let elapsed = started.elapsed();
    if failures != 0 {
        return Err(Failure::fatal(format!(
            "bench: {failures} ceiling verifies failed"
        )));
    }
    Ok(elapsed)
}
