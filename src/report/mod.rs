//! The HTML reports of `verify --report` and `diff --report`: one self-contained file each,
//! to open in a browser or print.
//!
//! Self-contained means no network at all: no scripts, no fonts, no images but inline SVG
//! charts, one `<style>` element. Pages are askama templates (`templates/report/`), which escape
//! everything they are given; every string from an input file reaches the page through them.
//! Figures that a test (or a person) compares with the JSON carry a `data-total` (or
//! `data-matrix`) attribute naming the JSON member.

pub mod charts;
pub mod tally;

use std::path::Path;

use askama::Template;

use crate::diff::changes::Kind;
use crate::diff::totals::{Presence, Totals};
use crate::pipeline::RunStats;
use crate::text::{count, thousands};
use crate::verifier::Verifier;
use tally::Tally;

/// Messages listed in a run's report.
const TOP_MESSAGES: usize = 15;
/// Groups listed per kind of change in a diff's report.
const GROUPS_PER_KIND: usize = 10;
/// Bars in a chart of groups.
const CHART_BARS: usize = 20;

/// A figure at the top of a page.
pub struct Card {
    /// The JSON member it equals (`data-total`).
    pub name: &'static str,
    /// What it counts.
    pub label: String,
    /// The figure.
    pub value: String,
    /// CSS class.
    pub class: &'static str,
}

/// A label and a value.
pub struct Fact {
    /// The label.
    pub label: String,
    /// The value.
    pub value: String,
}

fn fact(label: &str, value: impl Into<String>) -> Fact {
    Fact {
        label: label.to_owned(),
        value: value.into(),
    }
}

/// A row of outcomes by record type, issuer and key.
pub struct OutcomeRow {
    /// Record type.
    pub kind: String,
    /// Issuer name or `-`.
    pub issuer: String,
    /// Key or `-`.
    pub key: String,
    /// Attested.
    pub attested: String,
    /// Rejected.
    pub rejected: String,
    /// Codes with counts.
    pub codes: String,
}

/// A JWT issuer as configured.
pub struct IssuerRow {
    /// `name`.
    pub name: String,
    /// `issuer`.
    pub issuer: String,
    /// `algorithms`.
    pub algorithms: String,
    /// The keys' `kid`s.
    pub keys: String,
}

/// A rejection message and its count.
pub struct MessageRow {
    /// `stage/code`.
    pub rejection: String,
    /// Records.
    pub records: String,
    /// The message.
    pub message: String,
    /// An example id.
    pub example: String,
}

/// The page of `verify --report`.
#[derive(Template)]
#[template(path = "report/run.html")]
pub struct RunPage {
    /// Page title.
    pub title: String,
    /// The run: files, `--now`, threads, time.
    pub facts: Vec<Fact>,
    /// Totals.
    pub cards: Vec<Card>,
    /// The config: trust domain, attestors, aliases.
    pub config: Vec<Fact>,
    /// JWT issuers.
    pub issuers: Vec<IssuerRow>,
    /// Outcomes by type, issuer and key (chart).
    pub outcomes_chart: String,
    /// The same as a table.
    pub outcomes: Vec<OutcomeRow>,
    /// Rejections by stage and code (chart), empty when none.
    pub rejections_chart: String,
    /// Rejected fraction along the input (chart).
    pub along_chart: String,
    /// What one column of it is.
    pub along_note: String,
    /// The most frequent rejection messages.
    pub messages: Vec<MessageRow>,
    /// Said under the messages, when some were not counted one by one.
    pub messages_note: String,
}

/// What `verify` tells the report about its run besides its counts.
pub struct RunInfo<'a> {
    /// `--config`.
    pub config: &'a Path,
    /// `--input`.
    pub input: &'a Path,
    /// `--output`.
    pub output: &'a Path,
    /// `--now`.
    pub now: i64,
    /// Worker threads.
    pub threads: usize,
    /// Results kept from an interrupted run (`--resume`).
    pub resumed: u64,
}

fn rfc3339(now: i64) -> String {
    crate::time::fmt_unix(now).map_or_else(|| now.to_string(), |t| format!("{t} ({now})"))
}

/// The report of a `verify` run.
pub fn run_page(
    info: &RunInfo<'_>,
    stats: &RunStats,
    verifier: &Verifier,
    tally: &Tally,
) -> String {
    let secs = stats.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        stats.records as f64 / secs
    } else {
        0.0
    };
    let mut facts = vec![
        fact("config", info.config.display().to_string()),
        fact("input", info.input.display().to_string()),
        fact("output", info.output.display().to_string()),
        fact("--now", rfc3339(info.now)),
        fact(
            "run",
            format!(
                "{:.2} s, {} records/s, {}",
                secs,
                thousands(rate.round() as u64),
                count(info.threads as u64, "thread")
            ),
        ),
    ];
    if info.resumed > 0 {
        facts.push(fact(
            "resumed",
            format!("after {} already written", count(info.resumed, "result")),
        ));
    }
    let cards = vec![
        Card {
            name: "records",
            label: "records".into(),
            value: thousands(stats.records),
            class: "neutral",
        },
        Card {
            name: "attested",
            label: "attested".into(),
            value: thousands(stats.attested),
            class: "attested",
        },
        Card {
            name: "rejected",
            label: "rejected".into(),
            value: thousands(stats.rejected),
            class: "rejected",
        },
    ];

    let mut config = vec![fact("trust domain", verifier.trust_domain().to_owned())];
    let issuers: Vec<IssuerRow> = verifier
        .jwt()
        .issuers()
        .iter()
        .map(|issuer| IssuerRow {
            name: issuer.name.to_string(),
            issuer: issuer.issuer.to_string(),
            algorithms: issuer
                .algorithms
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
            keys: issuer
                .keys
                .iter()
                .map(|k| {
                    k.kid()
                        .map_or_else(|| format!("({})", k.alg()), str::to_owned)
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    config.push(fact(
        "x509pop",
        match verifier.x509pop() {
            Some(x509pop) => {
                let anchors: Vec<String> = x509pop.anchor_fingerprints().collect();
                format!(
                    "{}: {}",
                    count(anchors.len() as u64, "trust anchor"),
                    anchors.join(", ")
                )
            }
            None => "not configured".into(),
        },
    ));
    config.push(fact(
        "join_token",
        verifier
            .join_token_count()
            .map_or_else(|| "not configured".into(), |n| count(n as u64, "token")),
    ));
    let aliases: Vec<&str> = verifier.aliases().ids().collect();
    config.push(fact(
        "node aliases",
        if aliases.is_empty() {
            "none".into()
        } else {
            aliases.join(", ")
        },
    ));

    let named = crate::summary::rows(stats, verifier);
    let label = |row: &crate::summary::Named<'_>| {
        let mut label = row.kind.to_owned();
        if let Some(issuer) = row.issuer {
            label.push(' ');
            label.push_str(issuer);
        }
        if row.key.is_some() || !row.key_known {
            label.push_str(" · ");
            label.push_str(&row.key_label());
        }
        label
    };
    let chart_rows: Vec<(String, Vec<(u64, &'static str)>)> = named
        .iter()
        .map(|row| {
            (
                label(row),
                vec![
                    (row.row.attested, "attested"),
                    (row.row.rejected, "rejected"),
                ],
            )
        })
        .collect();
    let outcomes_chart = charts::bars(
        "records by type, issuer and key: attested / rejected",
        &chart_rows,
    )
    .render()
    .unwrap_or_default();
    let outcomes = named
        .iter()
        .map(|row| OutcomeRow {
            kind: row.kind.to_owned(),
            issuer: row.issuer.unwrap_or("-").to_owned(),
            key: row.key_label(),
            attested: thousands(row.row.attested),
            rejected: thousands(row.row.rejected),
            codes: row
                .codes()
                .iter()
                .map(|(c, n)| format!("{c} {}", thousands(*n)))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();

    let mut rejections: Vec<(&(String, String), &u64)> = tally.by_rejection.iter().collect();
    rejections.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let rejection_rows: Vec<(String, Vec<(u64, &'static str)>)> = rejections
        .iter()
        .map(|((stage, code), n)| (format!("{stage}/{code}"), vec![(**n, "rejected")]))
        .collect();
    let rejections_chart = if rejection_rows.is_empty() {
        String::new()
    } else {
        charts::bars("rejections by stage and code", &rejection_rows)
            .render()
            .unwrap_or_default()
    };
    let slices = tally.slices();
    let along_note = match slices.first() {
        Some(s) => format!(
            "Each column is {} of the input ({} in all); its height is the share rejected.",
            count(s.last_line - s.first_line + 1, "line"),
            count(slices.len() as u64, "column")
        ),
        None => "No records.".into(),
    };
    let along_chart = charts::columns("rejected share along the input", &slices)
        .render()
        .unwrap_or_default();
    let messages = tally
        .top_messages(TOP_MESSAGES)
        .into_iter()
        .map(|m| MessageRow {
            rejection: m.rejection,
            records: thousands(m.records),
            message: m.message,
            example: m.example,
        })
        .collect();
    let messages_note = if tally.untracked_messages > 0 {
        format!(
            "{} carried messages beyond the first {} distinct ones and are not counted here.",
            count(tally.untracked_messages, "rejection"),
            tally::MAX_MESSAGES
        )
    } else {
        String::new()
    };
    RunPage {
        title: format!("fleet-attest verify: {}", info.input.display()),
        facts,
        cards,
        config,
        issuers,
        outcomes_chart,
        outcomes,
        rejections_chart,
        along_chart,
        along_note,
        messages,
        messages_note,
    }
    .render()
    .unwrap_or_default()
}

/// A cell of the before × after matrix.
pub struct MatrixCell {
    /// `before.after` (`data-matrix`), e.g. `attested.rejected`.
    pub key: String,
    /// The figure.
    pub value: String,
    /// CSS class (`same`, `lost`, `gained`, `other`, `none`).
    pub class: &'static str,
}

/// A row of the matrix.
pub struct MatrixRow {
    /// The before status.
    pub name: &'static str,
    /// Its cells, one per after status.
    pub cells: Vec<MatrixCell>,
}

/// A group of a kind of change.
pub struct GroupRow {
    /// What the group is.
    pub key: String,
    /// Records.
    pub records: String,
    /// Example ids.
    pub examples: String,
}

/// A record listed under a kind of change.
pub struct ListedRow {
    /// Its id.
    pub id: String,
    /// Its lines before → after.
    pub lines: String,
    /// What changed.
    pub summary: String,
}

/// A rejection's count before and after.
pub struct CodeRow {
    /// `stage/code`.
    pub rejection: String,
    /// Before.
    pub before: String,
    /// After.
    pub after: String,
    /// After − before.
    pub delta: String,
    /// CSS class for the change.
    pub class: &'static str,
}

/// One kind of change in the diff's report.
pub struct KindSection {
    /// JSON name (`data-total`).
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// Records.
    pub records: String,
    /// What the groups are.
    pub grouped_by: &'static str,
    /// The largest groups.
    pub groups: Vec<GroupRow>,
    /// Said when groups are left out.
    pub groups_note: String,
    /// The first records.
    pub listed: Vec<ListedRow>,
    /// Said when records are left out.
    pub listed_note: String,
}

/// The page of `diff --report`.
#[derive(Template)]
#[template(path = "report/diff.html")]
pub struct DiffPage {
    /// Page title.
    pub title: String,
    /// The answer in one sentence.
    pub headline: String,
    /// The files.
    pub facts: Vec<Fact>,
    /// Totals.
    pub cards: Vec<Card>,
    /// Column names of the matrix.
    pub matrix_columns: Vec<&'static str>,
    /// The before × after matrix.
    pub matrix: Vec<MatrixRow>,
    /// Records by kind of change (chart).
    pub kinds_chart: String,
    /// Lost attestation by new rejection (chart), empty when none lost.
    pub lost_chart: String,
    /// Rejections before and after.
    pub codes: Vec<CodeRow>,
    /// The kinds of change that occurred.
    pub sections: Vec<KindSection>,
}

/// The report of a diff.
pub fn diff_page(totals: &Totals) -> String {
    let side = |s: &crate::diff::totals::SideTotals| {
        format!(
            "{} — {} ({} attested, {} rejected)",
            s.file,
            count(s.records, "result"),
            thousands(s.attested),
            thousands(s.rejected)
        )
    };
    let facts = vec![
        fact("before", side(&totals.before)),
        fact("after", side(&totals.after)),
    ];
    let mut cards = vec![
        Card {
            name: "matched",
            label: "in both files".into(),
            value: thousands(totals.matched),
            class: "neutral",
        },
        Card {
            name: "changed",
            label: "changed".into(),
            value: thousands(totals.changed),
            class: if totals.changed > 0 {
                "rejected"
            } else {
                "attested"
            },
        },
    ];
    for kind in Kind::ALL {
        cards.push(Card {
            name: kind.name(),
            label: kind.title().into(),
            value: thousands(totals.kind(kind).records),
            class: match kind {
                Kind::Lost => "rejected",
                Kind::Gained => "attested",
                _ => "neutral",
            },
        });
    }
    let matrix = Presence::ALL
        .iter()
        .map(|&b| MatrixRow {
            name: b.name(),
            cells: Presence::ALL
                .iter()
                .map(|&a| MatrixCell {
                    key: format!("{}.{}", b.name(), a.name()),
                    value: thousands(totals.matrix[b as usize][a as usize]),
                    class: match (b, a) {
                        _ if b == a => "same",
                        _ if totals.matrix[b as usize][a as usize] == 0 => "none",
                        (Presence::Attested, Presence::Rejected) => "lost",
                        (Presence::Rejected, Presence::Attested) => "gained",
                        _ => "other",
                    },
                })
                .collect(),
        })
        .collect();
    let kind_rows: Vec<(String, Vec<(u64, &'static str)>)> = Kind::ALL
        .iter()
        .map(|&kind| {
            let class = match kind {
                Kind::Lost => "rejected",
                Kind::Gained => "attested",
                _ => "neutral",
            };
            (
                kind.title().to_owned(),
                vec![(totals.kind(kind).records, class)],
            )
        })
        .collect();
    let kinds_chart = charts::bars("records by kind of change", &kind_rows)
        .render()
        .unwrap_or_default();
    let lost = totals.kind(Kind::Lost);
    let lost_chart = if lost.records == 0 {
        String::new()
    } else {
        let rows: Vec<(String, Vec<(u64, &'static str)>)> = lost
            .groups()
            .iter()
            .take(CHART_BARS)
            .map(|g| (g.key.clone(), vec![(g.records, "rejected")]))
            .collect();
        charts::bars("lost attestation by new rejection", &rows)
            .render()
            .unwrap_or_default()
    };
    let mut rejections: Vec<&String> = totals
        .before
        .by_rejection
        .keys()
        .chain(totals.after.by_rejection.keys())
        .collect();
    rejections.sort();
    rejections.dedup();
    let codes = rejections
        .into_iter()
        .map(|r| {
            let b = totals.before.by_rejection.get(r).copied().unwrap_or(0);
            let a = totals.after.by_rejection.get(r).copied().unwrap_or(0);
            CodeRow {
                rejection: r.clone(),
                before: thousands(b),
                after: thousands(a),
                delta: match a.cmp(&b) {
                    std::cmp::Ordering::Greater => format!("+{}", thousands(a - b)),
                    std::cmp::Ordering::Less => format!("−{}", thousands(b - a)),
                    std::cmp::Ordering::Equal => "0".into(),
                },
                class: match a.cmp(&b) {
                    std::cmp::Ordering::Greater => "lost",
                    std::cmp::Ordering::Less => "gained",
                    std::cmp::Ordering::Equal => "same",
                },
            }
        })
        .collect();
    let sections = Kind::ALL
        .iter()
        .filter(|&&kind| totals.kind(kind).records > 0)
        .map(|&kind| kind_section(totals, kind))
        .collect();
    DiffPage {
        headline: headline(totals),
        title: format!(
            "fleet-attest diff: {} → {}",
            totals.before.file, totals.after.file
        ),
        facts,
        cards,
        matrix_columns: Presence::ALL.iter().map(|p| p.name()).collect(),
        matrix,
        kinds_chart,
        lost_chart,
        codes,
        sections,
    }
    .render()
    .unwrap_or_default()
}

/// "77 records would lose attestation (decode/unknown_key 77); 185 gained aliases; …".
fn headline(totals: &Totals) -> String {
    if totals.changed == 0 {
        return "Nothing changed: every record has the same outcome in both files.".into();
    }
    let mut parts = Vec::new();
    for kind in Kind::ALL {
        let t = totals.kind(kind);
        if t.records == 0 {
            continue;
        }
        let mut part = format!("{}: {}", kind.title(), thousands(t.records));
        if matches!(kind, Kind::Lost | Kind::Gained | Kind::RejectionChanged) {
            let groups: Vec<String> = t
                .groups()
                .iter()
                .take(3)
                .map(|g| format!("{} {}", g.key, thousands(g.records)))
                .collect();
            part.push_str(&format!(" ({})", groups.join(", ")));
        }
        parts.push(part);
    }
    format!(
        "{} changed — {}.",
        count(totals.changed, "record"),
        parts.join("; ")
    )
}

fn kind_section(totals: &Totals, kind: Kind) -> KindSection {
    let t = totals.kind(kind);
    let groups = t.groups();
    let mut groups_note = String::new();
    if groups.len() > GROUPS_PER_KIND {
        groups_note = format!(
            "… and {} more; `fleet-attest diff --json` lists them all.",
            count((groups.len() - GROUPS_PER_KIND) as u64, "group")
        );
    }
    if t.untracked > 0 {
        groups_note.push_str(&format!(
            " {} fell in groups beyond the first {}, not counted one by one.",
            count(t.untracked, "record"),
            crate::diff::totals::MAX_GROUPS
        ));
    }
    let line = |l: Option<u64>| l.map_or_else(|| "–".to_owned(), |l| l.to_string());
    KindSection {
        name: kind.name(),
        title: kind.title(),
        records: thousands(t.records),
        grouped_by: kind.grouped_by(),
        groups: groups
            .iter()
            .take(GROUPS_PER_KIND)
            .map(|g| GroupRow {
                key: if g.key.is_empty() {
                    "(all)".into()
                } else {
                    g.key.clone()
                },
                records: thousands(g.records),
                examples: g.examples.join(", "),
            })
            .collect(),
        groups_note,
        listed: t
            .listed
            .iter()
            .map(|l| ListedRow {
                id: l.id.clone(),
                lines: format!("{} → {}", line(l.line_before), line(l.line_after)),
                summary: l.summary.clone(),
            })
            .collect(),
        listed_note: if t.records > t.listed.len() as u64 {
            format!(
                "The first {} of {}; `fleet-attest diff --json` lists every record.",
                t.listed.len(),
                thousands(t.records)
            )
        } else {
            String::new()
        },
    }
}

/// Writes `html` to `path`, with an error naming the file.
pub fn write(path: &Path, html: &str) -> Result<(), String> {
    std::fs::write(path, html).map_err(|err| format!("{}: {err}", path.display()))
}
