//! The counts of a diff: per kind of change, its groups with a few example ids each, the first
//! records of each kind (for the HTML report), the before × after status matrix and each
//! file's outcomes. Everything here is bounded, whatever the size of the files: groups beyond
//! [`MAX_GROUPS`] per kind are counted together, not one by one.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::changes::{Change, Kind};
use crate::results::{Outcome, Status};

/// Distinct groups tracked per kind of change (and distinct rejections per file). A change of
/// every record's `sub` selector would otherwise make one group per record.
pub const MAX_GROUPS: usize = 1000;
/// Example ids kept per group.
pub const EXAMPLES_PER_GROUP: usize = 3;
/// Records listed per kind of change for the report.
pub const LISTED_PER_KIND: usize = 50;

/// One group of a kind of change.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Group {
    /// What the group is (a rejection, a selector, an alias, …).
    pub key: String,
    /// Records in it.
    pub records: u64,
    /// The first few records' ids.
    pub examples: Vec<String>,
}

/// A record listed under a kind of change in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// Its id.
    pub id: String,
    /// Its line in the first file, when there.
    pub line_before: Option<u64>,
    /// Its line in the second file, when there.
    pub line_after: Option<u64>,
    /// What it was and became, in words.
    pub summary: String,
}

/// The totals of one kind of change.
#[derive(Clone, Debug, Default)]
pub struct KindTotals {
    /// Records with this change.
    pub records: u64,
    groups: HashMap<String, Group>,
    /// Records counted under groups beyond [`MAX_GROUPS`] (a record may count in several).
    pub untracked: u64,
    /// The first [`LISTED_PER_KIND`] records.
    pub listed: Vec<Listed>,
}

impl KindTotals {
    /// The groups, the largest first (ties by key).
    pub fn groups(&self) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self.groups.values().collect();
        groups.sort_by(|a, b| b.records.cmp(&a.records).then_with(|| a.key.cmp(&b.key)));
        groups
    }

    fn add(&mut self, change: &Change<'_>, kind: Kind) {
        self.records += 1;
        for key in change.group_keys(kind) {
            let tracked = self.groups.len() < MAX_GROUPS || self.groups.contains_key(&key);
            if !tracked {
                self.untracked += 1;
                continue;
            }
            let group = self.groups.entry(key).or_insert_with_key(|key| Group {
                key: key.clone(),
                ..Group::default()
            });
            group.records += 1;
            if group.examples.len() < EXAMPLES_PER_GROUP {
                group.examples.push(change.id.to_owned());
            }
        }
        if self.listed.len() < LISTED_PER_KIND {
            self.listed.push(Listed {
                id: change.id.to_owned(),
                line_before: change.before.map(|o| o.line),
                line_after: change.after.map(|o| o.line),
                summary: change.summary(),
            });
        }
    }
}

/// One file's outcomes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SideTotals {
    /// Its path, as given.
    pub file: String,
    /// Results in it.
    pub records: u64,
    /// Attested results.
    pub attested: u64,
    /// Rejected results.
    pub rejected: u64,
    /// Rejections by `stage/code` (the first [`MAX_GROUPS`] distinct ones).
    pub by_rejection: BTreeMap<String, u64>,
    /// Results by record type (`null` types as `-`; the first [`MAX_GROUPS`] distinct ones).
    pub by_type: BTreeMap<String, u64>,
}

impl SideTotals {
    fn add(&mut self, outcome: &Outcome<'_>) {
        self.records += 1;
        match outcome.status {
            Status::Attested => self.attested += 1,
            Status::Rejected => self.rejected += 1,
        }
        if let Some(rejection) = outcome.rejection() {
            bump_bounded(&mut self.by_rejection, rejection);
        }
        bump_bounded(
            &mut self.by_type,
            outcome.kind.as_deref().unwrap_or("-").to_owned(),
        );
    }
}

fn bump_bounded(map: &mut BTreeMap<String, u64>, key: String) {
    if map.len() < MAX_GROUPS || map.contains_key(&key) {
        *map.entry(key).or_default() += 1;
    } else {
        *map.entry("(other)".into()).or_default() += 1;
    }
}

/// Row or column of the status matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Attested in that file.
    Attested,
    /// Rejected in that file.
    Rejected,
    /// Not in that file.
    Absent,
}

impl Presence {
    /// Rows and columns, in order.
    pub const ALL: [Presence; 3] = [Presence::Attested, Presence::Rejected, Presence::Absent];

    /// The name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Presence::Attested => "attested",
            Presence::Rejected => "rejected",
            Presence::Absent => "absent",
        }
    }

    fn of(outcome: Option<&Outcome<'_>>) -> Presence {
        match outcome.map(|o| o.status) {
            Some(Status::Attested) => Presence::Attested,
            Some(Status::Rejected) => Presence::Rejected,
            None => Presence::Absent,
        }
    }
}

/// Everything a diff counted.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// The first file's outcomes.
    pub before: SideTotals,
    /// The second file's outcomes.
    pub after: SideTotals,
    /// Records found in both files.
    pub matched: u64,
    /// Records with at least one change (those in one file only included).
    pub changed: u64,
    kinds: [KindTotals; Kind::ALL.len()],
    /// Records by before presence × after presence (`[before][after]`, in [`Presence::ALL`]
    /// order).
    pub matrix: [[u64; 3]; 3],
}

impl Totals {
    /// Totals for a diff of `before` and `after` (paths as given).
    pub fn new(before: String, after: String) -> Totals {
        Totals {
            before: SideTotals {
                file: before,
                ..SideTotals::default()
            },
            after: SideTotals {
                file: after,
                ..SideTotals::default()
            },
            ..Totals::default()
        }
    }

    /// Counts a record found in both files; `change` is its change, if any.
    pub fn add_matched(
        &mut self,
        before: &Outcome<'_>,
        after: &Outcome<'_>,
        change: Option<&Change<'_>>,
    ) {
        self.matched += 1;
        self.before.add(before);
        self.after.add(after);
        self.matrix[Presence::of(Some(before)) as usize][Presence::of(Some(after)) as usize] += 1;
        if let Some(change) = change {
            self.add_change(change);
        }
    }

    /// Counts a record found in one file only.
    pub fn add_unmatched(&mut self, change: &Change<'_>) {
        if let Some(before) = change.before {
            self.before.add(before);
        }
        if let Some(after) = change.after {
            self.after.add(after);
        }
        self.matrix[Presence::of(change.before) as usize][Presence::of(change.after) as usize] += 1;
        self.add_change(change);
    }

    fn add_change(&mut self, change: &Change<'_>) {
        self.changed += 1;
        for kind in change.kinds() {
            self.kinds[kind as usize].add(change, kind);
        }
    }

    /// The totals of one kind of change.
    pub fn kind(&self, kind: Kind) -> &KindTotals {
        &self.kinds[kind as usize]
    }

    /// The JSON `totals` object of `diff --json`.
    pub fn to_json(&self) -> serde_json::Value {
        let kinds: serde_json::Map<String, serde_json::Value> = Kind::ALL
            .iter()
            .map(|&kind| {
                let t = self.kind(kind);
                (
                    kind.name().to_owned(),
                    serde_json::json!({
                        "records": t.records,
                        "groups": t.groups(),
                        "untracked_group_records": t.untracked,
                    }),
                )
            })
            .collect();
        let matrix: serde_json::Map<String, serde_json::Value> = Presence::ALL
            .iter()
            .map(|&b| {
                let row: serde_json::Map<String, serde_json::Value> = Presence::ALL
                    .iter()
                    .map(|&a| {
                        (
                            a.name().to_owned(),
                            self.matrix[b as usize][a as usize].into(),
                        )
                    })
                    .collect();
                (b.name().to_owned(), row.into())
            })
            .collect();
        serde_json::json!({
            "before": self.before,
            "after": self.after,
            "matched": self.matched,
            "changed": self.changed,
            "kinds": kinds,
            "matrix": matrix,
        })
    }
}
