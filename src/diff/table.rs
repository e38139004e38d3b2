//! The terminal table of a diff: each kind of change with its record count, its largest groups
//! (a rejection code, a selector, an alias) with example ids, and the before × after matrix.
//! Every number in it is one of [`Totals`]'s, which `--json` prints too.

use std::fmt::Write as _;

use super::changes::Kind;
use super::totals::{Presence, Totals};
use crate::text::{count, printable, thousands};

/// Groups shown per kind of change.
pub const TOP_GROUPS: usize = 5;

/// Narrowest first column.
const LABEL: usize = 28;

fn group_label(key: &str) -> String {
    if key.is_empty() {
        "    (all)".to_owned()
    } else {
        format!("    {}", printable(key))
    }
}

/// The table, ready to print.
pub fn render(totals: &Totals) -> String {
    let mut out = String::new();
    let side = |s: &super::totals::SideTotals| {
        format!(
            "{} ({} attested, {} rejected)",
            count(s.records, "result"),
            thousands(s.attested),
            thousands(s.rejected)
        )
    };
    let _ = writeln!(
        out,
        "fleet-attest diff: {} → {}",
        printable(&totals.before.file),
        printable(&totals.after.file)
    );
    let _ = writeln!(out, "  before: {}", side(&totals.before));
    let _ = writeln!(out, "  after:  {}", side(&totals.after));
    let _ = writeln!(
        out,
        "  {} in both files, {} in before only, {} in after only; {} changed",
        count(totals.matched, "record"),
        thousands(totals.kind(Kind::OnlyBefore).records),
        thousands(totals.kind(Kind::OnlyAfter).records),
        thousands(totals.changed),
    );
    let _ = writeln!(out);
    let width = Kind::ALL
        .iter()
        .flat_map(|&kind| {
            let shown: Vec<usize> = totals
                .kind(kind)
                .groups()
                .iter()
                .take(TOP_GROUPS)
                .map(|g| group_label(&g.key).chars().count())
                .collect();
            shown.into_iter().chain([kind.title().len()])
        })
        .chain([LABEL])
        .max()
        .unwrap_or(LABEL)
        + 2;
    let _ = writeln!(out, "{:<width$}{:>10}  examples", "change", "records");
    for kind in Kind::ALL {
        let t = totals.kind(kind);
        let _ = writeln!(out, "{:<width$}{:>10}", kind.title(), thousands(t.records));
        if t.records == 0 {
            continue;
        }
        let groups = t.groups();
        if !kind.grouped_by().is_empty() {
            let _ = writeln!(out, "  {}:", kind.grouped_by());
        }
        for group in groups.iter().take(TOP_GROUPS) {
            let examples: Vec<String> = group.examples.iter().map(|id| printable(id)).collect();
            let label = group_label(&group.key);
            let pad = width.saturating_sub(label.chars().count());
            let _ = writeln!(
                out,
                "{label}{:pad$}{:>10}  {}",
                "",
                thousands(group.records),
                examples.join(", ")
            );
        }
        if groups.len() > TOP_GROUPS {
            let rest: u64 = groups[TOP_GROUPS..].iter().map(|g| g.records).sum();
            let _ = writeln!(
                out,
                "    … and {} more ({}; `--json` lists them all)",
                count((groups.len() - TOP_GROUPS) as u64, "group"),
                count(rest, "record")
            );
        }
        if t.untracked > 0 {
            let _ = writeln!(
                out,
                "    … and {} in groups beyond the first {} (not counted one by one)",
                count(t.untracked, "record"),
                super::totals::MAX_GROUPS
            );
        }
    }
    let _ = writeln!(out);
    let _ = write!(out, "{:<20}", "before ↓  after →");
    for a in Presence::ALL {
        let _ = write!(out, "{:>10}", a.name());
    }
    let _ = writeln!(out);
    for b in Presence::ALL {
        let _ = write!(out, "{:<20}", b.name());
        for a in Presence::ALL {
            let _ = write!(
                out,
                "{:>10}",
                thousands(totals.matrix[b as usize][a as usize])
            );
        }
        let _ = writeln!(out);
    }
    out
}
