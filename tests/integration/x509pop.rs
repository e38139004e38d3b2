//! x509pop end to end on the independent fixture (tests/data/x509pop, made with Python's
//! `cryptography` by scripts/make-x509pop-fixtures.py the way SPIRE's Go agent signs), and the
//! chain cache against full verification.

use std::fs;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use crate::support::{data, json_lines, judge, output, verify_fleet};

const NOW: &str = "1795946400";

fn verify_fixture(threads: &str) -> Vec<Value> {
    let out = output(verify_fleet(
        &data("x509pop"),
        &["--now", NOW, "--threads", threads],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

const REJECTIONS: &[(&str, &str, &str)] = &[
    ("not-base64-der", "chain", "malformed_certificate"),
    ("payload-not-object", "chain", "malformed_certificate"),
    ("too-many-intermediates", "chain", "too_many_intermediates"),
    ("rsa-key-too-large", "chain", "key_too_large"),
    ("expired-leaf", "chain", "untrusted_chain"),
    ("unknown-root", "chain", "untrusted_chain"),
    ("missing-intermediate", "chain", "untrusted_chain"),
    ("no-digital-signature", "chain", "bad_key_usage"),
    ("no-key-usage-extension", "chain", "bad_key_usage"),
    ("ecdsa-wrong-signature", "pop", "bad_proof"),
    ("rsa-wrong-signature", "pop", "bad_proof"),
    ("signed-by-other-key", "pop", "bad_proof"),
    ("short-challenge-nonce", "pop", "malformed_challenge"),
    ("long-response-nonce", "pop", "malformed_challenge"),
    ("rsa-branch-for-ec-key", "pop", "malformed_challenge"),
    ("replayed-challenge", "replay", "replayed"),
];

#[test]
fn every_x509pop_code_is_produced() {
    let results = verify_fixture("2");
    assert_eq!(results.len(), 20);
    for &(id, stage, code) in REJECTIONS {
        let r = results.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(r["status"], "rejected", "{id}: {r}");
        assert_eq!(r["error"]["stage"], stage, "{id}: {r}");
        assert_eq!(r["error"]["code"], code, "{id}: {r}");
    }
    let replay = results
        .iter()
        .find(|r| r["id"] == "replayed-challenge")
        .unwrap();
    assert!(replay["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("was already consumed by line 4"));
}

#[test]
fn attested_lines_match_spire_selectors_computed_independently() {
    let results = verify_fixture("1");
    let expected = json_lines(&fs::read(data("x509pop/expected-attested.jsonl")).unwrap());
    assert_eq!(expected.len(), 4);
    for want in &expected {
        let got = results.iter().find(|r| r["id"] == want["id"]).unwrap();
        assert_eq!(got["status"], "attested", "{got}");
        assert_eq!(got["type"], "x509pop");
        assert_eq!(got["agent_id"], want["agent_id"], "{}", want["id"]);
        assert_eq!(got["selectors"], want["selectors"], "{}", want["id"]);
        assert_eq!(got["aliases"], want["aliases"], "{}", want["id"]);
    }
    let attested = results.iter().filter(|r| r["status"] == "attested").count();
    assert_eq!(attested, expected.len());
}

/// Flips one byte near the end of certificate `index` (inside its signature) of a record.
fn tamper(record: &Value, index: usize) -> Value {
    let mut record = record.clone();
    let cert = record["payload"]["certificates"][index].as_str().unwrap();
    let mut der = B64.decode(cert).unwrap();
    let at = der.len() - 3;
    der[at] ^= 0x01;
    record["payload"]["certificates"][index] = Value::String(B64.encode(der));
    record
}

#[test]
fn chain_cache_gives_the_verdicts_of_full_verification() {
    let config = fs::read_to_string(data("x509pop/fleet.toml")).unwrap();
    let base = data("x509pop");
    let cached = fleet_attest::config::from_str_with(&config, &base, &Default::default()).unwrap();
    let full = fleet_attest::config::from_str_with(
        &config,
        &base,
        &fleet_attest::config::LoadOptions {
            no_chain_cache: true,
            ..Default::default()
        },
    )
    .unwrap();
    let records = json_lines(&fs::read(data("x509pop/evidence.jsonl")).unwrap());
    // Valid records first (they fill the cache), then every record again, then tampered
    // leaves and intermediates under the cached intermediate lists, then the valid ones again.
    let mut lines: Vec<Value> = records.clone();
    lines.extend(records.iter().cloned());
    for record in &records {
        let n = record["payload"]["certificates"]
            .as_array()
            .map_or(0, Vec::len);
        for index in 0..n.min(3) {
            lines.push(tamper(record, index));
        }
    }
    lines.extend(records.iter().cloned());
    let mut verdicts = std::collections::BTreeMap::new();
    for line in &lines {
        let text = line.to_string();
        let a = judge(&cached, &text, 1_795_946_400);
        let b = judge(&full, &text, 1_795_946_400);
        assert_eq!(a, b, "cache changed a verdict for {}", line["id"]);
        *verdicts
            .entry(a["status"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    // The cache holds each distinct intermediate seen (tampered ones included: they parse) and
    // full mode holds none.
    let distinct: std::collections::BTreeSet<String> = lines
        .iter()
        .flat_map(|l| {
            l["payload"]["certificates"]
                .as_array()
                .map(|c| {
                    c[1..]
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    assert!(distinct.len() > 2, "{}", distinct.len());
    assert_eq!(
        cached.x509pop().unwrap().cached_intermediates(),
        distinct.len()
    );
    assert_eq!(full.x509pop().unwrap().cached_intermediates(), 0);
    // Both verdicts occur, and tampering rejects.
    assert!(verdicts["attested"] >= 12, "{verdicts:?}");
    assert!(verdicts["rejected"] >= 40, "{verdicts:?}");
    let tampered_leaf = tamper(&records[0], 0).to_string();
    let r = judge(&cached, &tampered_leaf, 1_795_946_400);
    assert_eq!(r["error"]["code"], "untrusted_chain", "{r}");
    let tampered_intermediate = tamper(&records[0], 1).to_string();
    let r = judge(&cached, &tampered_intermediate, 1_795_946_400);
    assert_eq!(r["error"]["code"], "untrusted_chain", "{r}");
}

/// The attested ids of a run over the fixture at `now` with the replay state `state`, and the
/// codes of the others.
fn run_with_state(state: &std::path::Path, now: i64) -> Vec<(String, String)> {
    let out = output(verify_fleet(
        &data("x509pop"),
        &[
            "--now",
            &now.to_string(),
            "--replay-state",
            state.to_str().unwrap(),
        ],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
        .iter()
        .map(|r| {
            let code = r["error"]["code"].as_str().unwrap_or("attested").to_owned();
            (r["id"].as_str().unwrap().to_owned(), code)
        })
        .collect()
}

#[test]
fn a_challenge_stays_consumed_until_its_leaf_expires() {
    // The fixture's leaves are valid from NOW - 1 day to NOW + 30 days.
    let now: i64 = NOW.parse().unwrap();
    let day = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("replay.state");
    let first = run_with_state(&state, now);
    let attested: Vec<&str> = first
        .iter()
        .filter(|(_, code)| code == "attested")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(attested.len(), 4, "{first:?}");
    // A captured transcript presented again the next day, a week later, and on the leaf's
    // last day is a replay of the first run's (the nonce was kept for one day only before).
    for later in [now + day + 60, now + 7 * day, now + 30 * day - 60] {
        let again = run_with_state(&state, later);
        for id in &attested {
            let (_, code) = again.iter().find(|(i, _)| i == id).unwrap();
            assert_eq!(code, "replayed", "{id} at now + {}s", later - now);
        }
    }
    // Past notAfter the transcript fails the chain, and its nonce is no longer kept.
    let expired = run_with_state(&state, now + 30 * day + 60);
    for id in &attested {
        let (_, code) = expired.iter().find(|(i, _)| i == id).unwrap();
        assert_eq!(code, "untrusted_chain", "{id}");
    }
}

#[test]
fn a_challenge_of_a_long_lived_leaf_is_kept_for_the_documented_maximum() {
    // gen's leaves are valid until 2045, far past the bound.
    let now: i64 = 1_795_910_400;
    let max = fleet_attest::x509pop::MAX_NONCE_RETENTION;
    let dir = tempfile::tempdir().unwrap();
    crate::support::gen(
        dir.path(),
        &[
            "--nodes",
            "6",
            "--seed",
            "3",
            "--now",
            &now.to_string(),
            "--x509pop-fraction",
            "1",
            "--join-token-fraction",
            "0",
            "--invalid-fraction",
            "0",
        ],
    );
    let state = dir.path().join("replay.state");
    let run = |at: i64| {
        let out = output(verify_fleet(
            dir.path(),
            &[
                "--now",
                &at.to_string(),
                "--replay-state",
                state.to_str().unwrap(),
            ],
        ));
        assert!(out.status.success(), "{out:?}");
        json_lines(&out.stdout)
    };
    let first = run(now);
    assert_eq!(first.len(), 6);
    assert!(first.iter().all(|r| r["status"] == "attested"), "{first:?}");
    let inside = run(now + max);
    assert!(
        inside.iter().all(|r| r["error"]["code"] == "replayed"),
        "{inside:?}"
    );
    // One second past the bound the nonce is forgotten: the documented limit of this choice.
    let past = run(now + max + 1);
    assert!(past.iter().all(|r| r["status"] == "attested"), "{past:?}");
}
