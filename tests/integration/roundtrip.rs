//! `gen` fleets round-trip through `verify` exactly as their expected.jsonl says, and `gen` is
//! deterministic.

use std::fs;

use crate::support::{gen, json_lines, output, verify_fleet};

#[test]
fn generated_fleet_matches_expected_for_every_record() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "3000",
            "--seed",
            "3",
            "--now",
            "1795910400",
            "--invalid-fraction",
            "0.3",
            "--x509pop-fraction",
            "0.2",
            "--join-token-fraction",
            "0.1",
            "--jwt-algs",
            "ES256,ES384,RS256,PS256,EdDSA,HS256",
        ],
    );
    let out = output(verify_fleet(dir.path(), &["--now", "1795910400"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = json_lines(&out.stdout);
    let expected = json_lines(&fs::read(dir.path().join("expected.jsonl")).unwrap());
    assert_eq!(results.len(), expected.len());
    let mut codes = std::collections::BTreeSet::new();
    for (got, want) in results.iter().zip(&expected) {
        // expected.jsonl has a result line's shape, less what only verifying tells.
        for member in ["line", "id", "type", "status"] {
            assert_eq!(got[member], want[member], "{member}: {got} vs {want}");
        }
        let (got_error, want_error) = (&got["error"], &want["error"]);
        assert_eq!(got_error.is_null(), want_error.is_null(), "{got} vs {want}");
        assert_eq!(got_error["stage"], want_error["stage"], "{got}");
        assert_eq!(got_error["code"], want_error["code"], "{got}");
        let members: Vec<&String> = want.as_object().unwrap().keys().collect();
        let shape: &[&str] = if want_error.is_null() {
            &["id", "line", "status", "type"]
        } else {
            &["error", "id", "line", "status", "type"]
        };
        assert_eq!(members, shape, "{want}");
        if let Some(code) = got_error["code"].as_str() {
            codes.insert(code.to_owned());
        }
    }
    // All 31 distinct codes of SPEC §5 (too_large is shared by input and decode).
    assert_eq!(codes.len(), 31, "every code of SPEC §5 occurs: {codes:?}");
}

#[test]
fn same_seed_same_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let args = [
        "--nodes",
        "300",
        "--seed",
        "11",
        "--now",
        "1795910400",
        "--invalid-fraction",
        "0.5",
        "--jwt-algs",
        "ES256,PS256,EdDSA",
    ];
    gen(a.path(), &args);
    gen(b.path(), &args);
    for file in [
        "fleet.toml",
        "evidence.jsonl",
        "expected.jsonl",
        "join_tokens.csv",
        "keys/bootstrap-es256.jwks.json",
        "keys/bootstrap-ps256.jwks.json",
    ] {
        assert_eq!(
            fs::read(a.path().join(file)).unwrap(),
            fs::read(b.path().join(file)).unwrap(),
            "{file}"
        );
    }
    let c = tempfile::tempdir().unwrap();
    gen(
        c.path(),
        &[
            "--nodes",
            "300",
            "--seed",
            "12",
            "--now",
            "1795910400",
            "--jwt-algs",
            "ES256",
        ],
    );
    assert_ne!(
        fs::read(a.path().join("evidence.jsonl")).unwrap(),
        fs::read(c.path().join("evidence.jsonl")).unwrap()
    );
}

/// Workers judge records in batches (stage, check the signatures in a row, finish); every record
/// must get the very line it gets when judged alone with fresh buffers, whatever its neighbours.
#[test]
fn batched_records_are_judged_as_they_are_alone() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "1500",
            "--seed",
            "11",
            "--now",
            "1795910400",
            "--invalid-fraction",
            "0.4",
            "--x509pop-fraction",
            "0.15",
            "--join-token-fraction",
            "0.1",
            "--jwt-algs",
            "ES256,RS256,EdDSA,HS256",
        ],
    );
    let out = output(verify_fleet(dir.path(), &["--now", "1795910400"]));
    assert!(out.status.success());
    let verifier = fleet_attest::config::load(&dir.path().join("fleet.toml")).unwrap();
    let evidence = fs::read(dir.path().join("evidence.jsonl")).unwrap();
    let batched: Vec<&[u8]> = out.stdout.split_inclusive(|&b| b == b'\n').collect();
    let mut compared = 0;
    for (i, line) in evidence.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut alone = Vec::new();
        let mut scratch = fleet_attest::verifier::Scratch::default();
        verifier.judge(i as u64 + 1, line, 1_795_910_400, &mut scratch, &mut alone);
        let got = batched[compared];
        compared += 1;
        // Replays are decided after judging, by the ordered writer.
        if !got.windows(10).any(|w| w == b"\"replayed\"") {
            assert_eq!(
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(&alone),
                "line {}",
                i + 1
            );
        }
    }
    assert_eq!(compared, batched.len());
}
