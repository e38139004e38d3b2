//! Hostile input: every line still gets exactly one result, nothing panics, memory stays bounded.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use fleet_attest::input::Input;
use fleet_attest::pipeline::{self, RunOptions};
use fleet_attest::replay::{ReplayStore, SingleUse};
use fleet_attest::shard::Shard;
use serde_json::Value;

use crate::support::{data, json_lines, verify_cmd};

const NOW: i64 = 1_795_946_400;

/// Runs the library pipeline over `bytes` (as a file) with the JWT fixture config.
fn verify_bytes(bytes: &[u8]) -> Vec<Value> {
    let verifier = fleet_attest::config::load(&data("jwt/fleet.toml")).unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    let input = Input::open(file.path()).unwrap();
    let mut out = Vec::new();
    let options = RunOptions {
        threads: 2,
        now: NOW,
        skip_records: 0,
        progress: false,
        shard: Shard::ALL,
        ..RunOptions::default()
    };
    pipeline::run(
        &verifier,
        &input,
        &mut out,
        &mut SingleUse::Memory(ReplayStore::new()),
        &options,
    )
    .unwrap();
    json_lines(&out)
}

/// An HS256 token signed with the fixture's shared key, with the given payload text.
fn shared_token(payload: &str) -> String {
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(data("jwt/keys/shared.jwks.json")).unwrap())
            .unwrap();
    let secret = B64.decode(jwks["keys"][0]["k"].as_str().unwrap()).unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let signing_input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"HS256","kid":"hs-1"}"#),
        B64.encode(payload)
    );
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(tag.as_ref()))
}

fn code(result: &Value) -> &str {
    result["error"]["code"].as_str().unwrap_or("attested")
}

#[test]
fn deep_nesting_is_rejected_not_overflowing_the_stack() {
    let deep_record = format!(
        r#"{{"id":"deep","type":"jwt","token":"a.b.c","x":{}{}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let deep_claims = format!(
        r#"{{"iss":"https://shared.example.org","sub":"n","aud":"spire-server","exp":{},"x":{}1{}}}"#,
        NOW + 60,
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let input = format!("{deep_record}\n{}\n", shared_token(&deep_claims));
    let results = verify_bytes(input.as_bytes());
    assert_eq!(results.len(), 2);
    // The record is over the line limit or too deep for the envelope parser: input stage.
    assert_eq!(results[0]["error"]["stage"], "input", "{}", results[0]);
    assert_eq!(code(&results[1]), "too_large", "{}", results[1]);
    // Within the size limits, depth beyond 32 is invalid_claims.
    let nested = format!(
        r#"{{"iss":"https://shared.example.org","sub":"n","aud":"spire-server","exp":{},"x":{}1{}}}"#,
        NOW + 60,
        "[".repeat(200),
        "]".repeat(200)
    );
    let results = verify_bytes(format!("{}\n", shared_token(&nested)).as_bytes());
    assert_eq!(code(&results[0]), "invalid_claims", "{}", results[0]);
}

#[test]
fn huge_numbers_invalid_utf8_and_nul_bytes() {
    let claims = |exp: &str| {
        format!(
            r#"{{"iss":"https://shared.example.org","sub":"n","aud":"spire-server","exp":{exp}}}"#
        )
    };
    let mut input = Vec::new();
    for exp in [
        "1e400",
        "123456789012345678901234567890",
        "-1e308",
        "18446744073709551616",
    ] {
        input.extend_from_slice(shared_token(&claims(exp)).as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(b"\xff\xfe\xfd\n");
    input.extend_from_slice(b"{\"id\":\"\xff\",\"type\":\"jwt\",\"token\":\"a\"}\n");
    input.extend_from_slice(b"\0\0\0\n");
    input.extend_from_slice(
        b"{\"id\":\"nul\\u0000id\",\"type\":\"jwt\",\"token\":\"a\\u0000b.c.d\"}\n",
    );
    let results = verify_bytes(&input);
    assert_eq!(results.len(), 8);
    for r in &results[..4] {
        assert_eq!(r["status"], "rejected", "{r}");
        assert_eq!(r["error"]["stage"], "claims", "{r}");
    }
    assert_eq!(code(&results[4]), "malformed_token");
    assert_eq!(code(&results[5]), "malformed_record");
    assert_eq!(code(&results[6]), "malformed_token");
    assert_eq!(results[7]["id"], "nul\u{0}id", "NUL survives JSON escaping");
    assert_eq!(code(&results[7]), "malformed_token");
}

#[test]
fn one_megabyte_lines_crlf_and_no_final_newline() {
    let big = "x".repeat(1 << 20);
    let ok = std::fs::read_to_string(data("jwt/evidence.jsonl")).unwrap();
    let first = ok.lines().next().unwrap();
    let input = format!("{big}\r\n{first}\r\n\r\n{{\"id\":\"{big}\"}}\r\n{first}");
    let results = verify_bytes(input.as_bytes());
    assert_eq!(results.len(), 4);
    assert_eq!(code(&results[0]), "too_large");
    assert_eq!(
        results[1]["status"], "attested",
        "CRLF is stripped: {}",
        results[1]
    );
    assert_eq!(results[1]["line"], 2);
    assert_eq!(code(&results[2]), "too_large");
    assert_eq!(results[2]["line"], 4);
    assert_eq!(
        code(&results[3]),
        "replayed",
        "the last line, without newline, is judged"
    );
    // The same through stdin, where long lines are cut while reading.
    let config = data("jwt/fleet.toml");
    let mut child = verify_cmd(&config, Path::new("-"), &["--now", "1795946400"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = input.clone();
    let writer = std::thread::spawn(move || stdin.write_all(feed.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let piped = json_lines(&out.stdout);
    assert_eq!(piped, results);
}

/// A file saved with a UTF-8 byte order mark: the mark is dropped at the start of the input
/// (the first record is judged as without it) and nowhere else.
#[test]
fn a_byte_order_mark_at_the_start_is_ignored() {
    let ok = std::fs::read_to_string(data("jwt/evidence.jsonl")).unwrap();
    let mut lines = ok.lines();
    let (first, second) = (lines.next().unwrap(), lines.next().unwrap());
    let plain = verify_bytes(format!("{first}\n{second}\n").as_bytes());
    let marked = verify_bytes(format!("\u{feff}{first}\n\u{feff}{second}\n").as_bytes());
    assert_eq!(plain[0]["status"], "attested", "{}", plain[0]);
    assert_eq!(marked[0], plain[0]);
    assert_eq!(plain[1]["status"], "attested", "{}", plain[1]);
    assert_eq!(marked[1]["status"], "rejected", "{}", marked[1]);
}

#[test]
fn a_million_tiny_lines() {
    let input = "a\n".repeat(1_000_000);
    let results = verify_bytes(input.as_bytes());
    assert_eq!(results.len(), 1_000_000);
    assert_eq!(results[999_999]["line"], 1_000_000);
    assert!(results.iter().all(|r| code(r) == "malformed_token"));
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn stdin_stream_keeps_memory_bounded() {
    // 1.5 million records (~90 MB) through a pipe; none is single use, so nothing should grow.
    const RECORDS: usize = 1_500_000;
    const BOUND_KIB: u64 = 96 * 1024;
    let config = data("jwt/fleet.toml");
    let mut child = verify_cmd(
        &config,
        Path::new("-"),
        &["--now", "1795946400", "--threads", "2"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut block = String::with_capacity(1 << 20);
        for i in 0..RECORDS {
            block.push_str(&format!(
                "{{\"id\":\"n{i}\",\"type\":\"join_token\",\"token\":\"t{i}\"}}\n"
            ));
            if block.len() > (1 << 20) - 100 {
                stdin.write_all(block.as_bytes()).unwrap();
                block.clear();
            }
        }
        stdin.write_all(block.as_bytes()).unwrap();
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut lines = 0usize;
    let mut peak = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        if let Some(hwm) = vm_hwm_kib(pid) {
            peak = peak.max(hwm);
        }
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines, RECORDS);
    assert!(peak > 0, "VmHWM was read");
    assert!(peak < BOUND_KIB, "peak RSS {peak} KiB over {BOUND_KIB} KiB");
}

#[test]
fn mapped_file_keeps_memory_bounded() {
    // 2.5 million records (~150 MB) from a file: the writer releases mapped pages behind it,
    // so resident memory stays flat (one page per 256-line chunk kept would add ~40 MB here).
    const RECORDS: usize = 2_500_000;
    const BOUND_KIB: u64 = 40 * 1024;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        for i in 0..RECORDS {
            writeln!(
                out,
                "{{\"id\":\"n{i}\",\"type\":\"join_token\",\"token\":\"t{i}\"}}"
            )
            .unwrap();
        }
    }
    let mut child = verify_cmd(
        &data("jwt/fleet.toml"),
        file.path(),
        &[
            "--now",
            "1795946400",
            "--threads",
            "2",
            "--output",
            "/dev/null",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let pid = child.id();
    let mut peak = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Some(hwm) = vm_hwm_kib(pid) {
            peak = peak.max(hwm);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(peak > 0, "VmHWM was read");
    assert!(peak < BOUND_KIB, "peak RSS {peak} KiB over {BOUND_KIB} KiB");
}

/// Claim rules find their claims in the same pass as the registered claims for the first few
/// rules and by lookup after that; either way the first failing rule in configuration order is
/// the one reported, registered claims can carry rules, and required claims are found.
#[test]
fn many_claim_rules_are_checked_in_order() {
    let mut toml = String::from(
        "trust_domain = \"example.org\"\n[[jwt_issuer]]\nname = \"shared\"\n\
         issuer = \"https://shared.example.org\"\njwks_path = \"keys/shared.jwks.json\"\n\
         audiences = [\"spire-server\"]\nalgorithms = [\"HS256\"]\nsingle_use = false\n\
         required_claims = [\"sub\", \"c0\"]\n[jwt_issuer.claim_rules]\n\
         aud = { one_of = [\"spire-server\"] }\niss = { regex = \"^https://\" }\n\
         sub = { regex = \"^node-\" }\n",
    );
    for i in 0..10 {
        toml.push_str(&format!("c{i} = {{ one_of = [\"ok\"] }}\n"));
    }
    let verifier = crate::support::verifier(&toml, &data("jwt")).unwrap();
    let judge = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut claims = serde_json::json!({
            "iss": "https://shared.example.org", "aud": ["spire-server"], "sub": "node-1",
            "exp": NOW + 600,
        });
        let map = claims.as_object_mut().unwrap();
        for i in 0..10 {
            map.insert(format!("c{i}"), "ok".into());
        }
        edit(map);
        let result = crate::support::judge(&verifier, &shared_token(&claims.to_string()), NOW);
        let claim = result["error"]["message"]
            .as_str()
            .map(|m| m.split_whitespace().nth(1).unwrap_or("").to_owned());
        (code(&result).to_owned(), claim)
    };
    assert_eq!(judge(&|_| {}), ("attested".to_owned(), None));
    for (edit, want) in [
        ("c6", "c6"), // the last rule found in the pass (aud is rule 0)
        ("c7", "c7"), // the first found by lookup
        ("c9", "c9"),
    ] {
        let got = judge(&|m| {
            m.insert(edit.into(), "bad".into());
        });
        assert_eq!(got.0, "claim_rule_failed", "{edit}");
        assert!(got.1.unwrap().contains(want), "{edit}");
        let got = judge(&|m| {
            m.remove(edit);
        });
        assert_eq!(got.0, "claim_rule_failed", "{edit} missing");
    }
    let got = judge(&|m| {
        m.insert("c2".into(), "bad".into());
        m.insert("c9".into(), "bad".into());
    });
    assert!(
        got.1.unwrap().contains("c2"),
        "the first failing rule is reported"
    );
    let got = judge(&|m| {
        m.insert("sub".into(), "host-1".into());
    });
    assert!(
        got.1.unwrap().contains("sub"),
        "a rule on a registered claim"
    );
    let got = judge(&|m| {
        m.insert("aud".into(), serde_json::json!(["spire-server", "other"]));
    });
    assert!(
        got.1.unwrap().contains("aud"),
        "every element of an array is checked"
    );
    let got = judge(&|m| {
        m.remove("c0");
    });
    assert_eq!(got.0, "missing_claim", "required claims come before rules");
}
