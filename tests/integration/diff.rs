//! `fleet-attest diff` on hand-built result files: every kind of change, the exit codes, and
//! the JSON form's totals against the table's figures.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::support::{json_lines, run};

fn attested(line: u64, id: &str, agent: &str, selectors: &[&str], aliases: &[&str]) -> Value {
    json!({"line": line, "id": id, "type": "jwt", "status": "attested",
           "agent_id": format!("spiffe://example.org/spire/agent/{agent}"),
           "selectors": selectors, "aliases": aliases})
}

fn rejected(line: u64, id: &str, stage: &str, code: &str, message: &str) -> Value {
    json!({"line": line, "id": id, "type": "jwt", "status": "rejected",
           "error": {"stage": stage, "code": code, "message": message}})
}

/// Each record's id and the kinds of change it must show.
type Kinds = Vec<(&'static str, Vec<&'static str>)>;

/// Before and after, one record per kind of change, and the kinds each record must show.
fn every_kind() -> (Vec<Value>, Vec<Value>, Kinds) {
    let s = ["jwt:pool:blue", "jwt:sub:n"];
    let before = vec![
        attested(1, "lost", "a", &s, &["spiffe://example.org/pool/blue"]),
        rejected(2, "gained", "claims", "expired", "exp is before now"),
        rejected(3, "recoded", "claims", "expired", "exp is before now"),
        attested(4, "moved", "jwt/old/n", &s, &[]),
        attested(5, "more-selectors", "e", &s[..1], &[]),
        attested(6, "fewer-selectors", "f", &s, &[]),
        attested(7, "joined", "g", &s, &[]),
        attested(8, "left", "h", &s, &["spiffe://example.org/pool/blue"]),
        attested(9, "gone", "i", &s, &[]),
        attested(10, "same", "j", &s, &[]),
        rejected(11, "same-code", "claims", "expired", "at 10:00"),
    ];
    let after = vec![
        rejected(
            1,
            "lost",
            "decode",
            "unknown_key",
            "kid \"es256-b\" is not in any configured JWK Set",
        ),
        attested(2, "gained", "b", &s, &[]),
        rejected(3, "recoded", "replay", "replayed", "consumed by line 2"),
        attested(4, "moved", "jwt/new/n", &s, &[]),
        attested(5, "more-selectors", "e", &s, &[]),
        attested(6, "fewer-selectors", "f", &s[..1], &[]),
        attested(7, "joined", "g", &s, &["spiffe://example.org/pool/blue"]),
        attested(8, "left", "h", &s, &[]),
        attested(10, "same", "j", &s, &[]),
        // The message alone changed: not a change.
        rejected(11, "same-code", "claims", "expired", "at 10:05"),
        attested(12, "new", "k", &s, &[]),
    ];
    let kinds = vec![
        ("lost", vec!["lost"]),
        ("gained", vec!["gained"]),
        ("recoded", vec!["rejection_changed"]),
        ("moved", vec!["agent_id_changed"]),
        ("more-selectors", vec!["selectors_gained"]),
        ("fewer-selectors", vec!["selectors_lost"]),
        ("joined", vec!["aliases_gained"]),
        ("left", vec!["aliases_lost"]),
        ("gone", vec!["only_before"]),
        ("new", vec!["only_after"]),
    ];
    (before, after, kinds)
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
    fs::write(path, text).unwrap();
}

fn diff(dir: &Path, extra: &[&str]) -> std::process::Output {
    let (b, a) = (dir.join("before.jsonl"), dir.join("after.jsonl"));
    let mut args = vec!["diff", b.to_str().unwrap(), a.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn every_kind_of_change_is_found_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after, kinds) = every_kind();
    write_lines(&dir.path().join("before.jsonl"), &before);
    write_lines(&dir.path().join("after.jsonl"), &after);
    let out = diff(dir.path(), &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let (totals, changes) = lines.split_last().unwrap();
    let found: BTreeMap<&str, Vec<&str>> = changes
        .iter()
        .map(|c| {
            let kinds = c["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap());
            (c["id"].as_str().unwrap(), kinds.collect())
        })
        .collect();
    let want: BTreeMap<&str, Vec<&str>> = kinds.into_iter().collect();
    assert_eq!(found, want);
    let by_id = |id: &str| changes.iter().find(|c| c["id"] == id).unwrap();
    assert_eq!(by_id("lost")["after"]["code"], "unknown_key");
    assert_eq!(by_id("lost")["before"]["status"], "attested");
    assert_eq!(
        by_id("more-selectors")["selectors_gained"],
        json!(["jwt:sub:n"])
    );
    assert_eq!(
        by_id("fewer-selectors")["selectors_lost"],
        json!(["jwt:sub:n"])
    );
    assert_eq!(
        by_id("left")["aliases_lost"],
        json!(["spiffe://example.org/pool/blue"])
    );
    assert_eq!(by_id("gone")["after"], Value::Null);
    assert_eq!(by_id("new")["before"], Value::Null);
    assert_eq!(by_id("new")["after"]["line"], 12);

    let t = &totals["totals"];
    assert_eq!(t["matched"], 10);
    assert_eq!(t["changed"], 10);
    for kind in want.keys() {
        let name = found[kind][0];
        assert_eq!(t["kinds"][name]["records"], 1, "{name}");
    }
    assert_eq!(t["matrix"]["attested"]["rejected"], 1);
    assert_eq!(t["matrix"]["rejected"]["attested"], 1);
    assert_eq!(t["matrix"]["attested"]["absent"], 1);
    assert_eq!(t["matrix"]["absent"]["attested"], 1);
    assert_eq!(t["matrix"]["attested"]["attested"], 6);
    assert_eq!(t["matrix"]["rejected"]["rejected"], 2);
    assert_eq!(t["before"]["records"], 11);
    assert_eq!(t["after"]["by_rejection"]["decode/unknown_key"], 1);
    assert_eq!(
        t["kinds"]["rejection_changed"]["groups"][0]["key"],
        "claims/expired → replay/replayed"
    );
}

/// Reads the table's figures: kind title → records, (kind title, group) → records, and the
/// matrix's cells.
struct Table {
    kinds: BTreeMap<String, u64>,
    groups: BTreeMap<(String, String), u64>,
    matrix: BTreeMap<(String, String), u64>,
    changed: u64,
}

fn number(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

fn read_table(text: &str, titles: &[&str]) -> Table {
    let mut table = Table {
        kinds: BTreeMap::new(),
        groups: BTreeMap::new(),
        matrix: BTreeMap::new(),
        changed: 0,
    };
    let mut kind = String::new();
    let mut columns: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("  ").filter(|r| r.contains(" changed")) {
            let figure = rest
                .rsplit("; ")
                .next()
                .unwrap()
                .trim_end_matches(" changed");
            table.changed = number(figure);
        }
        if let Some(title) = titles.iter().find(|t| line.starts_with(**t)) {
            kind = title.to_string();
            table
                .kinds
                .insert(kind.clone(), number(line[title.len()..].trim()));
        } else if let Some(rest) = line.strip_prefix("    ") {
            if rest.starts_with('…') {
                continue;
            }
            // "key   N  examples": the figure is the first all-digit field after the key.
            let fields: Vec<&str> = rest.split("  ").filter(|f| !f.is_empty()).collect();
            let key = fields[0].trim().to_owned();
            table
                .groups
                .insert((kind.clone(), key), number(fields[1].trim()));
        } else if line.starts_with("before ↓") {
            columns = line.split_whitespace().skip(4).map(str::to_owned).collect();
        } else if !columns.is_empty() {
            let mut fields = line.split_whitespace();
            let row = fields.next().unwrap().to_owned();
            for (column, value) in columns.iter().zip(fields) {
                table
                    .matrix
                    .insert((row.clone(), column.clone()), number(value));
            }
        }
    }
    table
}

#[test]
fn the_tables_figures_are_the_json_totals() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after, _) = every_kind();
    // More of some kinds, so that groups hold several records.
    let mut before = before;
    let mut after = after;
    for n in 0..7u64 {
        let id = format!("extra-{n}");
        before.push(attested(100 + n, &id, "x", &["jwt:a:1"], &[]));
        after.push(match n % 3 {
            0 => rejected(100 + n, &id, "decode", "unknown_key", "m"),
            1 => rejected(100 + n, &id, "chain", "untrusted_chain", "m"),
            _ => attested(100 + n, &id, "x", &["jwt:a:1", &format!("jwt:b:{n}")], &[]),
        });
    }
    write_lines(&dir.path().join("before.jsonl"), &before);
    write_lines(&dir.path().join("after.jsonl"), &after);
    let table_out = diff(dir.path(), &[]);
    assert_eq!(table_out.status.code(), Some(1));
    let json_out = diff(dir.path(), &["--json"]);
    let totals = json_lines(&json_out.stdout).pop().unwrap()["totals"].clone();

    let titles: Vec<&str> = [
        ("lost", "lost attestation"),
        ("gained", "gained attestation"),
        ("rejection_changed", "rejection changed"),
        ("agent_id_changed", "agent ID changed"),
        ("selectors_gained", "selectors gained"),
        ("selectors_lost", "selectors lost"),
        ("aliases_gained", "aliases gained"),
        ("aliases_lost", "aliases lost"),
        ("only_before", "only in before"),
        ("only_after", "only in after"),
    ]
    .iter()
    .map(|(_, t)| *t)
    .collect();
    let names = [
        "lost",
        "gained",
        "rejection_changed",
        "agent_id_changed",
        "selectors_gained",
        "selectors_lost",
        "aliases_gained",
        "aliases_lost",
        "only_before",
        "only_after",
    ];
    let text = String::from_utf8(table_out.stdout).unwrap();
    let table = read_table(&text, &titles);
    assert_eq!(table.kinds.len(), names.len(), "{text}");
    assert_eq!(table.changed, totals["changed"].as_u64().unwrap(), "{text}");
    for (name, title) in names.iter().zip(&titles) {
        let kind = &totals["kinds"][name];
        assert_eq!(
            table.kinds[*title],
            kind["records"].as_u64().unwrap(),
            "{title}\n{text}"
        );
        for group in kind["groups"].as_array().unwrap().iter().take(5) {
            let key = match group["key"].as_str().unwrap() {
                "" => "(all)",
                key => key,
            };
            assert_eq!(
                table
                    .groups
                    .get(&(title.to_string(), key.to_owned()))
                    .copied(),
                group["records"].as_u64(),
                "{title} / {key}\n{text}"
            );
        }
    }
    assert_eq!(table.kinds["lost attestation"], 6);
    assert_eq!(
        table.groups[&("lost attestation".into(), "decode/unknown_key".into())],
        4
    );
    assert_eq!(
        table.groups[&("lost attestation".into(), "chain/untrusted_chain".into())],
        2
    );
    let mut cells = 0;
    for (row, columns) in totals["matrix"].as_object().unwrap() {
        for (column, value) in columns.as_object().unwrap() {
            assert_eq!(
                table.matrix[&(row.clone(), column.clone())],
                value.as_u64().unwrap(),
                "{row} → {column}\n{text}"
            );
            cells += 1;
        }
    }
    assert_eq!(cells, 9);
}

#[test]
fn identical_results_exit_0_and_order_does_not_matter_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (before, _, _) = every_kind();
    write_lines(&dir.path().join("before.jsonl"), &before);
    let mut shuffled = before.clone();
    shuffled.reverse();
    write_lines(&dir.path().join("after.jsonl"), &shuffled);
    let out = diff(dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("11 records in both files, 0 in before only, 0 in after only; 0 changed"),
        "{text}"
    );
    // Out of order beyond --max-unmatched: trouble, exit 2, saying why.
    let out = diff(dir.path(), &["--max-unmatched", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: more than 3 records are waiting"),
        "{stderr}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (before, _, _) = every_kind();
    write_lines(&dir.path().join("before.jsonl"), &before);
    let after = dir.path().join("after.jsonl");
    fs::write(
        &after,
        format!(
            "{}\n\n{{\"line\":2,\"id\":\"x\",\"status\":\"maybe\"}}\n",
            before[0]
        ),
    )
    .unwrap();
    let out = diff(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: {}:3: not a result line: status \"maybe\"",
            after.display()
        )),
        "{stderr}"
    );
    fs::remove_file(&after).unwrap();
    let out = diff(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("after.jsonl: No such file"), "{stderr}");
    // An evidence file is not results.
    let evidence = crate::support::data("jwt").join("evidence.jsonl");
    let out = run(&[
        "diff",
        evidence.to_str().unwrap(),
        evidence.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // Usage errors are 2 as well.
    assert_eq!(run(&["diff", "only-one.jsonl"]).status.code(), Some(2));
}

#[test]
fn results_of_verify_diff_against_gens_expected_file() {
    // gen's expected.jsonl has a result line's shape without agent IDs, selectors or aliases:
    // what it lacks is not compared, so a fleet verified as expected shows no change.
    let dir = tempfile::tempdir().unwrap();
    crate::support::gen(
        dir.path(),
        &[
            "--nodes",
            "400",
            "--seed",
            "5",
            "--now",
            "1795910400",
            "--invalid-fraction",
            "0.3",
            "--x509pop-fraction",
            "0.2",
            "--jwt-algs",
            "ES256,EdDSA",
        ],
    );
    let results = dir.path().join("results.jsonl");
    let out = crate::support::output(crate::support::verify_fleet(
        dir.path(),
        &["--now", "1795910400", "--output", results.to_str().unwrap()],
    ));
    assert!(out.status.success());
    let expected = dir.path().join("expected.jsonl");
    let out = run(&[
        "diff",
        expected.to_str().unwrap(),
        results.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Verified at another time, the same fleet differs (tokens expire), and diff says so.
    let later = dir.path().join("later.jsonl");
    let out = crate::support::output(crate::support::verify_fleet(
        dir.path(),
        &["--now", "1795920400", "--output", later.to_str().unwrap()],
    ));
    assert!(out.status.success());
    let out = run(&[
        "diff",
        "--json",
        results.to_str().unwrap(),
        later.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let totals = json_lines(&out.stdout).pop().unwrap();
    let lost = &totals["totals"]["kinds"]["lost"];
    assert!(lost["records"].as_u64().unwrap() > 0, "{totals}");
    assert_eq!(lost["groups"][0]["key"], "claims/expired", "{totals}");
}
