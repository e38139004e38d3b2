//! The engine against a peer: jsonwebtoken 12 (aws-lc-rs backend) verifying the same tokens.
//!
//! Both sides get the same valid single-use tokens of one algorithm and the same rayon pool of
//! `FLEET_BENCH_THREADS` threads (default 2), built once. The engine runs end to end (records
//! from a mapped file, results serialized to a discarding sink, replay decisions). The peer
//! decodes and validates each token with a key built once from the same JWK, checking what it
//! can of the engine's policy (alg, exp/nbf with 60 s leeway, iss, aud, required sub and jti);
//! it does not build selectors, aliases or agent IDs, keep a replay cache or write results, so
//! the comparison favours it. Throughput is per token. Run: `cargo bench --bench peer`.

use std::io::Write as _;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_attest::input::Input;
use fleet_attest::keys::Alg;
use fleet_attest::pipeline::{self, RunOptions};
use fleet_attest::replay::{ReplayStore, SingleUse};
use fleet_attest::shard::Shard;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rayon::prelude::*;

const NODES: u64 = 4_000;

struct Setup {
    verifier: fleet_attest::verifier::Verifier,
    input: Input,
    tokens: Vec<String>,
    keys: Vec<(String, DecodingKey)>,
    validation: Validation,
    _dir: tempfile::TempDir,
}

fn setup(alg: Alg, now: i64) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuers = fleet_attest::gen::issuers(1, &[alg]).expect("issuers");
    fleet_attest::gen::write_config_and_keys(dir.path(), &issuers).expect("config");
    std::fs::write(dir.path().join("join_tokens.csv"), "").expect("tokens file");
    let records = fleet_attest::gen::valid_jwt_records(&issuers, 1, now, 0..NODES);
    let path = dir.path().join("evidence.jsonl");
    let mut file = std::fs::File::create(&path).expect("evidence");
    for record in &records {
        writeln!(file, "{record}").expect("write");
    }
    drop(file);
    let verifier = fleet_attest::config::load(&dir.path().join("fleet.toml")).expect("config");
    let input = Input::open(&path).expect("input");
    let tokens = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).expect("record");
            v["token"].as_str().expect("token").to_owned()
        })
        .collect();
    let keys = issuers[0]
        .keys
        .iter()
        .map(|(kid, key)| {
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk(kid, alg)).expect("jwk");
            (
                kid.clone(),
                DecodingKey::from_jwk(&jwk).expect("decoding key"),
            )
        })
        .collect();
    let mut validation = Validation::new(match alg {
        Alg::ES256 => Algorithm::ES256,
        Alg::EdDSA => Algorithm::EdDSA,
        Alg::RS256 => Algorithm::RS256,
        Alg::PS256 => Algorithm::PS256,
        Alg::ES384 => Algorithm::ES384,
        other => panic!("no peer mapping for {other}"),
    });
    validation.leeway = 60;
    validation.validate_nbf = true;
    validation.set_audience(&["spire-server"]);
    validation.set_issuer(&[issuers[0].issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "jti"]);
    Setup {
        verifier,
        input,
        tokens,
        keys,
        validation,
        _dir: dir,
    }
}

fn peer_verify(setup: &Setup, token: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    let Some((_, key)) = setup
        .keys
        .iter()
        .find(|(kid, _)| Some(kid) == header.kid.as_ref())
    else {
        return false;
    };
    jsonwebtoken::decode::<serde_json::Value>(token, key, &setup.validation).is_ok()
}

fn bench(c: &mut Criterion) {
    let threads: usize = std::env::var("FLEET_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    // jsonwebtoken checks exp against the real clock, so tokens are minted for it.
    let now = fleet_attest::time::clock_now();
    let mut group = c.benchmark_group(format!("peer/threads={threads}"));
    group.throughput(Throughput::Elements(NODES));
    group.sample_size(10);
    for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
        let setup = setup(alg, now);
        group.bench_with_input(
            BenchmarkId::new("fleet-attest", alg.name()),
            &setup,
            |b, s| {
                b.iter(|| {
                    let options = RunOptions {
                        threads,
                        now,
                        skip_records: 0,
                        progress: false,
                        shard: Shard::ALL,
                        ..RunOptions::default()
                    };
                    let stats = pipeline::run_in(
                        &pool,
                        &s.verifier,
                        &s.input,
                        &mut std::io::sink(),
                        &mut SingleUse::Memory(ReplayStore::new()),
                        &options,
                    )
                    .expect("run");
                    assert_eq!(stats.attested, NODES);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("jsonwebtoken", alg.name()),
            &setup,
            |b, s| {
                b.iter(|| {
                    // Small pieces, as `bench`'s ceiling: rayon's few large ones leave a
                    // thread idle at the end of each iteration, which would slow the peer.
                    let ok = pool.install(|| {
                        s.tokens
                            .par_iter()
                            .with_max_len(fleet_attest::bench::CEILING_PIECE)
                            .filter(|t| peer_verify(s, t))
                            .count()
                    });
                    assert_eq!(ok as u64, NODES, "peer rejected tokens (now {now})");
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
