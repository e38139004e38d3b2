//! End-to-end runs of the binary on the independent JWT fixture (tests/data/jwt, minted with
//! joserfc by scripts/make-jwt-fixtures.py), and the CLI's error contract.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::support::{bin, data, json_lines, output, run, verify_cmd, verify_fleet};

const NOW: &str = "1795946400"; // 2026-11-29T10:00:00Z, the fixture's evaluation time

fn verify_fixture(threads: &str) -> (Vec<Value>, String) {
    let out = output(verify_fleet(
        &data("jwt"),
        &["--now", NOW, "--threads", threads, "--no-progress"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        json_lines(&out.stdout),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Every rejection the fixture is built to show: id → (stage, code).
const REJECTIONS: &[(&str, &str, &str)] = &[
    ("malformed-record", "input", "malformed_record"),
    ("unknown-type", "input", "unknown_type"),
    ("line-14", "input", "too_large"),
    ("malformed-token", "decode", "malformed_token"),
    ("token-too-large", "decode", "too_large"),
    ("alg-none", "decode", "unsupported_alg"),
    ("alg-not-allowed-for-issuer", "decode", "alg_not_allowed"),
    ("alg-not-of-key", "decode", "alg_not_allowed"),
    ("crit-header", "decode", "bad_header"),
    ("unknown-issuer", "decode", "unknown_issuer"),
    ("unknown-key", "decode", "unknown_key"),
    ("wrong-key", "signature", "bad_signature"),
    ("garbage-payload", "decode", "malformed_token"),
    ("duplicate-claim", "claims", "invalid_claims"),
    ("missing-sub", "claims", "missing_claim"),
    ("expired", "claims", "expired"),
    ("not-yet-valid", "claims", "not_yet_valid"),
    ("issued-in-future", "claims", "issued_in_future"),
    ("lifetime-too-long", "claims", "lifetime_too_long"),
    ("wrong-issuer", "claims", "wrong_issuer"),
    ("audience-mismatch", "claims", "audience_mismatch"),
    ("pool-rule", "claims", "claim_rule_failed"),
    ("region-rule", "claims", "claim_rule_failed"),
    ("exp-string", "claims", "invalid_claims"),
    ("es256-replayed", "replay", "replayed"),
    ("join-replayed", "replay", "replayed"),
    ("bad-subject", "policy", "template_error"),
    ("too-many-selectors", "policy", "too_many_selectors"),
    ("join-unknown", "join_token", "unknown_token"),
    ("join-expired", "join_token", "token_expired"),
];

#[test]
fn every_code_of_the_jwt_stages_is_produced_and_asserted() {
    let (results, stderr) = verify_fixture("2");
    assert_eq!(results.len(), 40, "one result per non-empty line");
    for &(id, stage, code) in REJECTIONS {
        let result = results
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"));
        assert_eq!(result["status"], "rejected", "{id}: {result}");
        assert_eq!(result["error"]["stage"], stage, "{id}: {result}");
        assert_eq!(result["error"]["code"], code, "{id}: {result}");
        let message = result["error"]["message"].as_str().unwrap();
        assert!(
            message.len() > 15,
            "{id}: message {message:?} says too little"
        );
    }
    // Line numbers count the empty line 11; ids default to line-N.
    let lines: Vec<u64> = results
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "input order");
    assert!(!lines.contains(&11));
    assert!(
        stderr.contains("40 records: 10 attested, 30 rejected"),
        "{stderr}"
    );
}

#[test]
fn messages_say_what_failed() {
    let (results, _) = verify_fixture("1");
    let message = |id: &str| {
        results.iter().find(|r| r["id"] == id).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        message("expired"),
        "exp 2026-11-29T09:55:00Z is before now 2026-11-29T10:00:00Z less 60s leeway"
    );
    assert_eq!(
        message("es256-replayed"),
        "jti \"j-node-1\" of issuer \"bootstrap\" was already consumed by line 1"
    );
    assert_eq!(
        message("alg-not-of-key"),
        "alg \"RS256\" is not allowed: key \"es-1\" is bound to ES256"
    );
    assert_eq!(
        message("wrong-key"),
        "ES256 signature does not verify with key \"es-1\" of issuer \"bootstrap\""
    );
    assert!(
        message("garbage-payload")
            .starts_with("token is not a compact JWS: the payload is not canonical base64url"),
        "every part's encoding is checked before the signature"
    );
}

#[test]
fn attested_lines_are_exact() {
    let (results, _) = verify_fixture("2");
    let by_id = |id: &str| results.iter().find(|r| r["id"] == id).unwrap().clone();
    let agent = |path: &str| format!("spiffe://example.org/spire/agent{path}");
    let base = |sub: &str, pool: &str, region: &str| {
        vec![
            "jwt:aud:spire-server".to_owned(),
            "jwt:iss:https://bootstrap.example.org".to_owned(),
            format!("jwt:pool:{pool}"),
            format!("jwt:region:{region}"),
            format!("jwt:sub:{sub}"),
        ]
    };
    assert_eq!(
        by_id("es256-ok"),
        json!({"line":1,"id":"es256-ok","type":"jwt","status":"attested",
               "agent_id": agent("/jwt/bootstrap/node-1"),
               "selectors":["jwt:aud:spire-server","jwt:iss:https://bootstrap.example.org",
                            "jwt:k8s.labels.app:agent","jwt:k8s.ns:prod","jwt:pool:blue","jwt:rack:7",
                            "jwt:ratio:0.5","jwt:region:eu-west-1","jwt:spot:true","jwt:sub:node-1",
                            "jwt:tags:a","jwt:tags:b"],
               "aliases":["spiffe://example.org/pool/blue","spiffe://example.org/pool/blue/prod"]})
    );
    assert_eq!(
        by_id("rs256-ok"),
        json!({"line":2,"id":"rs256-ok","type":"jwt","status":"attested",
               "agent_id": agent("/jwt/bootstrap/node-2"),
               "selectors":["jwt:aud:other","jwt:aud:spire-server","jwt:iss:https://bootstrap.example.org",
                            "jwt:pool:green","jwt:region:eu-north-1","jwt:sub:node-2"],
               "aliases":[]})
    );
    for (id, line, sub) in [
        ("ps256-ok", 3, "node-3"),
        ("eddsa-ok", 4, "node-4"),
        ("es384-ok", 5, "node-5"),
    ] {
        assert_eq!(
            by_id(id),
            json!({"line":line,"id":id,"type":"jwt","status":"attested",
                   "agent_id": agent(&format!("/jwt/bootstrap/{sub}")),
                   "selectors": base(sub, "blue", "eu-west-1"),
                   "aliases":["spiffe://example.org/pool/blue"]})
        );
    }
    assert_eq!(
        by_id("nokid-ok"),
        json!({"line":6,"id":"nokid-ok","type":"jwt","status":"attested",
               "agent_id": agent("/jwt/solo/a/node-6"),
               "selectors":["jwt:sub:node-6","jwt:zone:A"],
               "aliases":["spiffe://example.org/zone/a"]})
    );
    for (id, line) in [("hs256-ok", 7), ("hs256-reused", 8)] {
        let mut selectors = base("node-7", "blue", "eu-west-1");
        selectors[1] = "jwt:iss:https://shared.example.org".into();
        assert_eq!(
            by_id(id),
            json!({"line":line,"id":id,"type":"jwt","status":"attested",
                   "agent_id": agent("/jwt/shared/node-7"),
                   "selectors": selectors, "aliases":["spiffe://example.org/pool/blue"]})
        );
    }
    assert_eq!(
        by_id("join-ok"),
        json!({"line":9,"id":"join-ok","type":"join_token","status":"attested",
               "agent_id": agent("/join_token/jt-good"), "selectors":[], "aliases":[]})
    );
    assert_eq!(
        by_id("line-10"),
        json!({"line":10,"id":"line-10","type":"jwt","status":"attested",
               "agent_id": agent("/jwt/bootstrap/node-8"),
               "selectors": base("node-8", "blue", "eu-west-1"),
               "aliases":["spiffe://example.org/pool/blue"]})
    );
}

#[test]
fn summary_file_counts_by_code() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = output(verify_fleet(
        &data("jwt"),
        &[
            "--output",
            dir.path().join("out.jsonl").to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
            "--now",
            "2026-11-29T10:00:00Z",
            "--threads",
            "2",
        ],
    ));
    assert!(out.status.success());
    let s: Value = serde_json::from_str(&fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["records"], 40);
    assert_eq!(s["attested"], 10);
    assert_eq!(s["rejected"], 30);
    assert_eq!(s["by_code"]["replayed"], 2);
    assert_eq!(s["by_code"]["too_large"], 2);
    assert_eq!(s["threads"], 2);
    assert_eq!(s["now"], 1_795_946_400);
    assert!(s["elapsed_seconds"].is_number() && s["records_per_second"].is_number());
}

fn assert_one_error_line(out: &std::process::Output, status: i32, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(status), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in {stderr}");
    }
}

#[test]
fn fatal_errors_exit_1_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("jwt/evidence.jsonl");
    let cases: &[(&str, &[&str])] = &[
        ("trust_domain = \"example.org\"\nbogus = 1\n", &["line 2", "bogus"]),
        ("trust_domain = \"Example Org\"\n", &["trust_domain"]),
        (
            "trust_domain = \"td\"\n[[jwt_issuer]]\nname = \"x\"\nissuer = \"x\"\njwks_path = \"missing.json\"\naudiences = [\"a\"]\nalgorithms = [\"ES256\"]\n",
            &["jwt_issuer[0]", "jwks_path", "missing.json"],
        ),
        (
            "trust_domain = \"td\"\n[[jwt_issuer]]\nname = \"x\"\nissuer = \"x\"\njwks_path = \"k.json\"\naudiences = [\"a\"]\nalgorithms = [\"ES256\"]\nagent_path_template = \"/{{ title .Subject }}\"\n",
            &["agent_path_template", "title"],
        ),
        (
            "trust_domain = \"td\"\n[[jwt_issuer]]\nname = \"x\"\nissuer = \"x\"\njwks_path = \"k.json\"\naudiences = []\nalgorithms = [\"ES256\"]\n",
            &["audiences"],
        ),
        (
            "trust_domain = \"td\"\n[[jwt_issuer]]\nname = \"x\"\nissuer = \"x\"\njwks_path = \"k.json\"\naudiences = [\"a\"]\nalgorithms = [\"ES256\"]\n[jwt_issuer.claim_rules]\nr = { regex = \"(\" }\n",
            &["claim_rules.r.regex"],
        ),
        (
            "trust_domain = \"td\"\n[[jwt_issuer]]\nname = \"x\"\nissuer = \"x\"\njwks_path = \"k.json\"\naudiences = [\"a\"]\nalgorithms = [\"ES256\"]\nselector_claims = [\"sub\", \"k8s.ns\"]\n",
            &["selector_claims", "k8s.ns"],
        ),
    ];
    fs::write(
        dir.path().join("k.json"),
        fs::read_to_string(data("jwt/keys/solo.jwks.json")).unwrap(),
    )
    .unwrap();
    for (toml, needles) in cases {
        let config = dir.path().join("bad.toml");
        fs::write(&config, toml).unwrap();
        let out = output(verify_cmd(&config, &input, &[]));
        let mut all = vec!["bad.toml"];
        all.extend_from_slice(needles);
        assert_one_error_line(&out, 1, &all);
    }
    let config = data("jwt/fleet.toml");
    let out = output(verify_cmd(
        &config,
        Path::new("/nonexistent/evidence.jsonl"),
        &[],
    ));
    assert_one_error_line(&out, 1, &["/nonexistent/evidence.jsonl"]);
    let out = output(verify_cmd(
        &config,
        &input,
        &["--output", "/nonexistent/dir/out.jsonl"],
    ));
    assert_one_error_line(&out, 1, &["/nonexistent/dir/out.jsonl"]);
}

#[test]
fn output_to_a_device_works() {
    let out = output(verify_fleet(
        &data("jwt"),
        &["--output", "/dev/null", "--now", NOW],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_full_disk_is_a_fatal_error_naming_the_output() {
    let out = output(verify_fleet(
        &data("jwt"),
        &["--output", "/dev/full", "--now", NOW],
    ));
    assert_one_error_line(&out, 1, &["/dev/full", "No space left on device"]);
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(run(&["verify"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    let out = output(verify_fleet(&data("jwt"), &["--now", "yesterday"]));
    assert_eq!(out.status.code(), Some(2));
    let out = output(verify_fleet(&data("jwt"), &["--resume"]));
    assert_eq!(out.status.code(), Some(2), "--resume needs --output FILE");
    for shard in ["2/2", "0/0", "1", "a/b"] {
        let out = output(verify_fleet(&data("jwt"), &["--shard", shard]));
        assert_eq!(out.status.code(), Some(2), "--shard {shard}");
    }
    let out = output(verify_fleet(
        &data("jwt"),
        &[
            "--replay-state",
            "state.jsonl",
            "--replay-store",
            "redis://127.0.0.1:1/0",
        ],
    ));
    assert_eq!(out.status.code(), Some(2), "Redis is the state");
}

/// `--shard K/N` with the in-memory store: each process writes exactly its lines, numbered as
/// in the whole file, each as the whole run would have judged it unless its single-use key was
/// consumed by an earlier line of another shard (single use then holds within the shard only).
#[test]
fn shards_take_their_lines_and_keep_whole_file_numbers() {
    let (all, _) = verify_fixture("2");
    let mut seen = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = output(verify_fleet(
            &data("jwt"),
            &["--now", NOW, "--no-progress", "--shard", &shard],
        ));
        assert!(out.status.success());
        for result in json_lines(&out.stdout) {
            let line = result["line"].as_u64().unwrap();
            assert_eq!((line - 1) % 3, k, "{result}");
            let whole = all.iter().find(|r| r["line"] == line).unwrap();
            if whole["error"]["code"] == "replayed" {
                // Its first copy may be in another shard: then this one attests here.
                let replayed = result["error"]["code"] == "replayed";
                assert!(replayed || result["status"] == "attested", "{result}");
            } else {
                assert_eq!(&result, whole);
            }
            seen.push(line);
        }
    }
    seen.sort_unstable();
    let all_lines: Vec<u64> = all.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(
        seen, all_lines,
        "the shards together cover every record once"
    );
}

/// The median of `values` as `bench` takes it.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// SPEC §1: `bench` ends with `bench ALG threads=N engine=X/s ceiling=Y/s ratio=R`; the ratio is
/// the median of the per-round ratios it prints above that line.
#[test]
fn bench_ends_with_the_engine_ceiling_and_ratio_line() {
    for alg in ["ES256", "x509pop"] {
        let out = run(&[
            "bench",
            "--alg",
            alg,
            "--nodes",
            "40",
            "--rounds",
            "3",
            "--threads",
            "2",
        ]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = stdout.lines().last().unwrap();
        let fields: Vec<&str> = last.split(' ').collect();
        assert_eq!(fields.len(), 6, "{last}");
        assert_eq!(&fields[..3], &["bench", alg, "threads=2"], "{last}");
        let number = |field: &str, key: &str, unit: &str| -> f64 {
            let value = field.strip_prefix(key).and_then(|v| v.strip_suffix(unit));
            value
                .unwrap_or_else(|| panic!("{field:?} in {last}"))
                .parse()
                .unwrap()
        };
        let engine = number(fields[3], "engine=", "/s");
        let ceiling = number(fields[4], "ceiling=", "/s");
        let ratio = number(fields[5], "ratio=", "");
        assert!(engine > 0.0 && ceiling > 0.0 && ratio > 0.0, "{last}");
        let mut rounds: Vec<f64> = stdout
            .lines()
            .find_map(|l| l.strip_prefix("ratio rounds (engine/ceiling): "))
            .unwrap_or_else(|| panic!("no per-round ratios in {stdout}"))
            .split(' ')
            .map(|r| r.parse().unwrap())
            .collect();
        assert_eq!(rounds.len(), 3);
        assert!((median(&mut rounds) - ratio).abs() < 0.0015, "{stdout}");
        assert!(
            stdout.contains("\ncpu per wall second (median): engine "),
            "{stdout}"
        );
    }
}

/// `bench` works in a private folder under the temp dir and removes it however the run ends:
/// after a run, and after one that fails once the fleet is written (an unreachable store).
#[test]
fn bench_leaves_nothing_in_the_temp_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let bench = |extra: &[&str]| {
        let mut cmd = bin();
        cmd.env("TMPDIR", tmp.path())
            .args(["bench", "--alg", "ES256", "--nodes", "10", "--rounds", "1"])
            .args(extra);
        output(cmd)
    };
    let ok = bench(&[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("\nmedians over 1 round of each side\n"),
        "{text}"
    );
    let note = String::from_utf8_lossy(&ok.stderr);
    assert!(note.contains("note: medians over 1 round only;"), "{note}");
    let failed = bench(&["--replay-store", "redis://127.0.0.1:1"]);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bench_json_holds_every_round_and_bad_algs_are_usage_errors() {
    let out = run(&[
        "bench", "--alg", "EdDSA", "--nodes", "30", "--rounds", "2", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["alg"], "EdDSA");
    assert_eq!(result["nodes"], 30);
    assert_eq!(result["rounds"], 2);
    // Two rounds make a thin median, and bench says so.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: medians over 2 rounds only;") && stderr.contains("--rounds 7"),
        "{stderr}"
    );
    let rounds = |key: &str| -> Vec<f64> {
        let values = result[key].as_array().unwrap();
        values.iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let (engine, ceiling) = (rounds("engine_rounds"), rounds("ceiling_rounds"));
    assert_eq!((engine.len(), ceiling.len()), (2, 2));
    let mut ratios: Vec<f64> = engine.iter().zip(&ceiling).map(|(e, c)| e / c).collect();
    let ratio = result["ratio"].as_f64().unwrap();
    assert!((median(&mut ratios) - ratio).abs() < 1e-9);
    // getrusage is there on every Unix: each side's CPU per wall second is reported.
    for key in ["engine_cpu_per_wall", "ceiling_cpu_per_wall"] {
        let cpu = result[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {result}"));
        assert!(cpu.is_finite() && cpu > 0.0, "{key} {cpu}");
    }

    for args in [&["--alg", "XX256"][..], &["--nodes", "0"][..]] {
        let mut all = vec!["bench"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
}

/// Input that is plainly not evidence still gets one result per line, and one warning.
#[test]
fn input_that_is_not_evidence_warns_once_and_keeps_one_result_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = data("jwt").join("fleet.toml");
    let verify = |name: &str, text: &str| {
        let input = dir.path().join(name);
        fs::write(&input, text).unwrap();
        let out = output(verify_cmd(
            &config,
            &input,
            &["--now", NOW, "--no-progress"],
        ));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        let warnings: Vec<String> = stderr
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .map(str::to_owned)
            .collect();
        (json_lines(&out.stdout).len(), warnings)
    };
    let evidence_question = "is this a JSON-lines evidence file, one record or token per line?";

    let (results, warnings) = verify(
        "notes.txt",
        "Dear operator,\nhere are the tokens.\n\nBest\n",
    );
    assert_eq!(results, 3);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("notes.txt: all 3 of its records could not be read"),
        "{warnings:?}"
    );
    assert!(warnings[0].ends_with(evidence_question), "{warnings:?}");

    let array =
        "[\n  {\"id\": \"a\", \"type\": \"jwt\", \"token\": \"x\"},\n  {\"id\": \"b\"}\n]\n";
    let (results, warnings) = verify("array.json", array);
    assert_eq!(results, 4);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].ends_with(evidence_question));

    let (results, warnings) = verify(
        "one-line.json",
        "[{\"id\":\"a\",\"type\":\"jwt\",\"token\":\"x\"}]",
    );
    assert_eq!(results, 1);
    assert!(
        warnings[0].contains("its only record could not be read"),
        "{warnings:?}"
    );

    let long: String = (0..20).map(|i| format!("line {i}\n")).collect();
    let (results, warnings) = verify("long.txt", &long);
    assert_eq!(results, 20);
    assert!(
        warnings[0].contains("its first 8 records could not be read"),
        "{warnings:?}"
    );

    let (results, warnings) = verify("empty.jsonl", "");
    assert_eq!(results, 0);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("empty.jsonl holds no records"),
        "{warnings:?}"
    );
    let (_, warnings) = verify("blank.jsonl", "\n\n\r\n");
    assert!(warnings[0].contains("holds no records"), "{warnings:?}");

    // Real evidence, even with a malformed record among the first: no warning.
    let mut fixture = fs::read_to_string(data("jwt").join("evidence.jsonl")).unwrap();
    fixture.insert_str(0, "garbage\n");
    let (_, warnings) = verify("evidence.jsonl", &fixture);
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// After a key is retired, the summary names the key that failed and counts it apart.
#[test]
fn the_summary_names_the_issuer_and_key_of_each_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let summary = dir.path().join("summary.json");
    let results = dir.path().join("results.jsonl");
    let out = output(verify_cmd(
        &demo.join("rotated/fleet.toml"),
        &demo.join("evidence.jsonl"),
        &[
            "--now",
            "2026-11-29T00:00:00Z",
            "--no-progress",
            "--summary",
            summary.to_str().unwrap(),
            "--output",
            results.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success());
    let s: Value = serde_json::from_str(&fs::read_to_string(&summary).unwrap()).unwrap();
    let rows = s["outcomes"].as_array().unwrap();
    let sum = |field: &str| rows.iter().map(|r| r[field].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("attested"), s["attested"].as_u64().unwrap());
    assert_eq!(sum("rejected"), s["rejected"].as_u64().unwrap());
    // The results themselves say how many tokens named the retired key.
    let results = json_lines(&fs::read(&results).unwrap());
    let retired = results
        .iter()
        .filter(|r| {
            r["error"]["code"] == "unknown_key"
                && r["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("\"es256-b\"")
        })
        .count() as u64;
    assert!(retired > 50, "{retired}");
    let row = rows
        .iter()
        .find(|r| r["key"] == "es256-b")
        .unwrap_or_else(|| panic!("no es256-b row: {s}"));
    assert_eq!(row["key_known"], false);
    assert_eq!(row["type"], "jwt");
    assert_eq!(row["issuer"], Value::Null);
    assert_eq!(row["rejected"].as_u64().unwrap(), retired);
    assert_eq!(row["by_code"]["unknown_key"].as_u64().unwrap(), retired);
    let kept = rows
        .iter()
        .find(|r| r["key"] == "es256-a")
        .unwrap_or_else(|| panic!("no es256-a row: {s}"));
    assert_eq!(
        (kept["issuer"].as_str(), kept["key_known"].as_bool()),
        (Some("bootstrap-es256"), Some(true))
    );
    let x509pop = results.iter().filter(|r| r["type"] == "x509pop").count() as u64;
    assert_eq!(
        s["by_type"]["x509pop"]["rejected"].as_u64().unwrap(),
        x509pop,
        "every leaf is under the old CA"
    );
    // The stderr table has the same row.
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("es256-b (not configured)"))
        .unwrap();
    assert!(
        line.trim_end().ends_with(&format!("unknown_key {retired}")),
        "{line}"
    );
}
