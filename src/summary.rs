//! The summary of a `verify` run: the `--summary` JSON object and the short table on stderr,
//! both answering the first question after a rotation — which record type, issuer or key
//! failed, and with which code.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::outcomes::{KeyRow, Row, RowKey};
use crate::pipeline::RunStats;
use crate::text::{count, printable, thousands};
use crate::verifier::Verifier;

/// Rows of the stderr table; the JSON has them all.
const TABLE_ROWS: usize = 24;
/// Codes named per row of the stderr table.
const TABLE_CODES: usize = 3;

/// A row of outcomes with its names put on.
pub struct Named<'a> {
    /// The record type.
    pub kind: &'static str,
    /// The JWT issuer's name.
    pub issuer: Option<&'a str>,
    /// The key's `kid` (or `key N (ALG)` for a key without one).
    pub key: Option<String>,
    /// False for a `kid` no configured JWK Set holds.
    pub key_known: bool,
    /// The counts.
    pub row: &'a Row,
}

impl Named<'_> {
    /// The key as tables show it.
    pub fn key_label(&self) -> String {
        match (&self.key, self.key_known) {
            (Some(key), true) => printable(key),
            (Some(key), false) => format!("{} (not configured)", printable(key)),
            (None, false) => "other unknown kids".to_owned(),
            (None, true) => "-".to_owned(),
        }
    }

    /// The row's codes, the most frequent first (ties by name).
    pub fn codes(&self) -> Vec<(&'static str, u64)> {
        let mut codes: Vec<(&'static str, u64)> =
            self.row.by_code.iter().map(|(c, n)| (*c, *n)).collect();
        codes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        codes
    }
}

fn named<'a>(key: &RowKey, row: &'a Row, stats: &'a RunStats, verifier: &'a Verifier) -> Named<'a> {
    let issuer = key
        .issuer
        .and_then(|i| verifier.jwt().issuers().get(i as usize));
    let (key_name, key_known) = match key.key {
        KeyRow::None => (None, true),
        KeyRow::Configured(k) => {
            let kid = issuer
                .and_then(|issuer| issuer.keys.get(k as usize))
                .map(|key| match key.kid() {
                    Some(kid) => kid.to_owned(),
                    None => format!("key {} ({})", k + 1, key.alg()),
                });
            (kid, true)
        }
        KeyRow::Unknown(at) => (Some(stats.outcomes.unknown_kid(at).to_owned()), false),
        KeyRow::OtherUnknown => (None, false),
    };
    Named {
        kind: key.kind.name(),
        issuer: issuer.map(|issuer| &*issuer.name),
        key: key_name,
        key_known,
        row,
    }
}

/// The rows of outcomes by record type, issuer and key, named.
pub fn rows<'a>(stats: &'a RunStats, verifier: &'a Verifier) -> Vec<Named<'a>> {
    stats
        .outcomes
        .rows()
        .map(|(key, row)| named(key, row, stats, verifier))
        .collect()
}

fn records_per_second(stats: &RunStats) -> f64 {
    let secs = stats.elapsed.as_secs_f64();
    if secs > 0.0 {
        stats.records as f64 / secs
    } else {
        0.0
    }
}

/// The `--summary` object: `records`, `attested`, `rejected`, `by_code`, `by_type` (type →
/// `{attested, rejected}`), `outcomes` (one object per record type, JWT issuer and key:
/// `type`, `issuer`, `key`, `key_known`, `attested`, `rejected`, `by_code`),
/// `elapsed_seconds`, `records_per_second`, `threads`, `now`.
pub fn json(stats: &RunStats, verifier: &Verifier, threads: usize, now: i64) -> String {
    let named = rows(stats, verifier);
    let mut by_type: Map<String, Value> = Map::new();
    for row in &named {
        let entry = by_type
            .entry(row.kind)
            .or_insert_with(|| json!({"attested": 0, "rejected": 0}));
        for (field, n) in [
            ("attested", row.row.attested),
            ("rejected", row.row.rejected),
        ] {
            entry[field] = json!(entry[field].as_u64().unwrap_or(0) + n);
        }
    }
    let outcomes: Vec<Value> = named
        .iter()
        .map(|row| {
            json!({
                "type": row.kind,
                "issuer": row.issuer,
                "key": row.key,
                "key_known": row.key_known,
                "attested": row.row.attested,
                "rejected": row.row.rejected,
                "by_code": row.row.by_code,
            })
        })
        .collect();
    json!({
        "records": stats.records,
        "attested": stats.attested,
        "rejected": stats.rejected,
        "by_code": stats.by_code,
        "by_type": by_type,
        "outcomes": outcomes,
        "elapsed_seconds": stats.elapsed.as_secs_f64(),
        "records_per_second": records_per_second(stats),
        "threads": threads,
        "now": now,
    })
    .to_string()
}

/// The summary printed on stderr at the end of a run: a line of totals, then a short table of
/// outcomes by record type, issuer and key with each row's most frequent codes.
pub fn table(stats: &RunStats, verifier: &Verifier, threads: usize, resumed: u64) -> String {
    let mut text = format!(
        "fleet-attest: {}: {} attested, {} rejected; {:.2} s, {} records/s, {}",
        count(stats.records, "record"),
        thousands(stats.attested),
        thousands(stats.rejected),
        stats.elapsed.as_secs_f64(),
        thousands(records_per_second(stats).round() as u64),
        count(threads as u64, "thread"),
    );
    if resumed > 0 {
        let _ = write!(
            text,
            "; resumed after {} already written",
            count(resumed, "result")
        );
    }
    text.push('\n');
    let named = rows(stats, verifier);
    if named.is_empty() {
        return text;
    }
    let cell = |s: Option<&str>| s.map_or_else(|| "-".to_owned(), printable);
    let keys: Vec<String> = named.iter().map(Named::key_label).collect();
    let issuer_width = named
        .iter()
        .map(|row| cell(row.issuer).chars().count())
        .chain([6])
        .max()
        .unwrap_or(6);
    let key_width = keys
        .iter()
        .map(|k| k.chars().count())
        .chain([3])
        .max()
        .unwrap_or(3);
    let _ = writeln!(
        text,
        "  {:<10}  {:<issuer_width$}  {:<key_width$}  {:>9}  {:>9}  rejections",
        "type", "issuer", "key", "attested", "rejected"
    );
    for (row, key) in named.iter().zip(&keys).take(TABLE_ROWS) {
        let codes = row.codes();
        let mut shown: Vec<String> = codes
            .iter()
            .take(TABLE_CODES)
            .map(|(code, n)| format!("{code} {}", thousands(*n)))
            .collect();
        if codes.len() > TABLE_CODES {
            shown.push(format!("+{} more", codes.len() - TABLE_CODES));
        }
        let line = format!(
            "  {:<10}  {:<issuer_width$}  {:<key_width$}  {:>9}  {:>9}  {}",
            row.kind,
            cell(row.issuer),
            key,
            thousands(row.row.attested),
            thousands(row.row.rejected),
            shown.join(", ")
        );
        let _ = writeln!(text, "{}", line.trim_end());
    }
    if named.len() > TABLE_ROWS {
        let _ = writeln!(
            text,
            "  … and {} more (every row is in --summary)",
            count((named.len() - TABLE_ROWS) as u64, "row")
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::{RecordKind, Source};

    #[test]
    fn the_table_counts_records_by_type_issuer_and_key_in_words() {
        let verifier = crate::config::from_str(
            "trust_domain = \"td\"\n[join_token]\ntokens_path = \"t.csv\"\n",
            &{
                let dir = std::env::temp_dir().join(format!("fa-summary-{}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("t.csv"), "tok,9999999999\n").unwrap();
                dir
            },
        )
        .unwrap();
        let mut stats = RunStats {
            records: 3,
            attested: 2,
            rejected: 1,
            ..RunStats::default()
        };
        stats.by_code.insert("replayed", 1);
        let join = Source {
            kind: RecordKind::JoinToken,
            ..Source::default()
        };
        stats.outcomes.count(join, "", None);
        stats.outcomes.count(join, "", None);
        stats.outcomes.count(join, "", Some("replayed"));
        let one = table(&stats, &verifier, 1, 0);
        let first = one.lines().next().unwrap();
        assert!(
            first.starts_with("fleet-attest: 3 records: 2 attested, 1 rejected; "),
            "{one}"
        );
        assert!(first.ends_with(" records/s, 1 thread"), "{one}");
        let row = one.lines().nth(2).unwrap();
        assert!(row.contains("join_token"), "{one}");
        assert!(row.ends_with("replayed 1"), "{one}");
        stats.records = 1;
        let two = table(&stats, &verifier, 2, 1);
        assert!(
            two.lines()
                .next()
                .unwrap()
                .ends_with(", 2 threads; resumed after 1 result already written"),
            "{two}"
        );
        assert!(two.starts_with("fleet-attest: 1 record: "), "{two}");
        let summary: Value = serde_json::from_str(&json(&stats, &verifier, 2, 7)).unwrap();
        assert_eq!(summary["by_type"]["join_token"]["attested"], 2);
        assert_eq!(summary["outcomes"][0]["by_code"]["replayed"], 1);
        assert_eq!(summary["outcomes"][0]["issuer"], Value::Null);
    }
}
