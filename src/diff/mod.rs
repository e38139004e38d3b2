//! `fleet-attest diff BEFORE AFTER`: what changed between two runs of `verify` over the same
//! evidence (after a CA or key rotation, a policy edit, a new alias).
//!
//! # Matching
//! Records are matched by `id`; a record without one has `line-N` as its id, so it matches by
//! line. Records that share an id (the same node's evidence twice) are matched in the order
//! they appear, which for two runs of the same evidence is by line.
//!
//! # Streaming
//! Both files are read once, in step by `line`: at each step the side with the smaller line
//! number moves on (both, when equal). A record whose partner is not at the same place waits in
//! a table of unmatched records until its partner turns up; whatever is left at the end is in
//! one file only. Two outputs of `verify` are sorted by line (as it writes them), so for the same
//! evidence the table stays empty and memory is a few buffers, whatever the size of the files.
//! Files in another order still diff correctly, at the cost of keeping the records that are out
//! of place: beyond [`DiffOptions::max_unmatched`] of them at once, the diff stops with an error
//! rather than grow without bound (sort both files by line, or raise the bound).
//!
//! Changes are handed out as they are found (for `--json`), then the records in one file
//! only, each side by line; [`totals::Totals`] counts them all.

pub mod changes;
pub mod table;
pub mod totals;

use std::collections::HashMap;
use std::path::Path;

use crate::results::{Outcome, ResultReader};
use changes::Change;
use totals::Totals;

/// How a diff runs.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Most records kept waiting for their partner at once (see the module docs).
    pub max_unmatched: usize,
}

impl Default for DiffOptions {
    fn default() -> DiffOptions {
        DiffOptions {
            max_unmatched: 100_000,
        }
    }
}

/// Records of one side waiting for their partner, by id, in order of appearance.
#[derive(Default)]
struct Waiting {
    by_id: HashMap<String, Vec<Outcome<'static>>>,
    count: usize,
}

impl Waiting {
    fn take(&mut self, id: &str) -> Option<Outcome<'static>> {
        let list = self.by_id.get_mut(id)?;
        let first = list.remove(0);
        if list.is_empty() {
            self.by_id.remove(id);
        }
        self.count -= 1;
        Some(first)
    }

    fn put(&mut self, outcome: Outcome<'_>) {
        let outcome = outcome.into_owned();
        self.by_id
            .entry(outcome.id.to_string())
            .or_default()
            .push(outcome);
        self.count += 1;
    }

    fn holds(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// What is left, by line.
    fn into_sorted(self) -> Vec<Outcome<'static>> {
        let mut all: Vec<Outcome<'static>> = self.by_id.into_values().flatten().collect();
        all.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.id.cmp(&b.id)));
        all
    }
}

/// The state of a diff between steps.
struct Differ<'e> {
    before: Waiting,
    after: Waiting,
    totals: Totals,
    max_unmatched: usize,
    emit: &'e mut dyn FnMut(&Change<'_>) -> Result<(), String>,
}

impl Differ<'_> {
    fn pair(&mut self, before: &Outcome<'_>, after: &Outcome<'_>) -> Result<(), String> {
        let change = Change::between(before, after);
        self.totals.add_matched(before, after, change.as_ref());
        match change {
            Some(change) => (self.emit)(&change),
            None => Ok(()),
        }
    }

    fn step_before(&mut self, before: Outcome<'_>) -> Result<(), String> {
        match self.after.take(&before.id) {
            Some(after) => self.pair(&before, &after),
            None => {
                self.before.put(before);
                self.check_bound()
            }
        }
    }

    fn step_after(&mut self, after: Outcome<'_>) -> Result<(), String> {
        match self.before.take(&after.id) {
            Some(before) => self.pair(&before, &after),
            None => {
                self.after.put(after);
                self.check_bound()
            }
        }
    }

    fn step_both(&mut self, before: Outcome<'_>, after: Outcome<'_>) -> Result<(), String> {
        let waiting = self.before.holds(&before.id) || self.after.holds(&after.id);
        if before.id == after.id && !waiting {
            return self.pair(&before, &after);
        }
        self.step_before(before)?;
        self.step_after(after)
    }

    fn check_bound(&self) -> Result<(), String> {
        let waiting = self.before.count + self.after.count;
        if waiting > self.max_unmatched {
            return Err(format!(
                "more than {} {} waiting for a partner with the same id in the other \
                 file: the files are not in the same order (verify writes results by line; \
                 sort both by line: sort -t: -k2 -n), or not results of the same evidence; \
                 --max-unmatched N raises the bound, at about 1.6 KiB of memory per record",
                crate::text::count(self.max_unmatched as u64, "record"),
                if self.max_unmatched == 1 { "is" } else { "are" }
            ));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Totals, String> {
        let before = std::mem::take(&mut self.before).into_sorted();
        let after = std::mem::take(&mut self.after).into_sorted();
        for outcome in &before {
            let change = Change::only_before(outcome);
            self.totals.add_unmatched(&change);
            (self.emit)(&change)?;
        }
        for outcome in &after {
            let change = Change::only_after(outcome);
            self.totals.add_unmatched(&change);
            (self.emit)(&change)?;
        }
        Ok(self.totals)
    }
}

/// Diffs the results in `before` and `after`, handing each change to `emit` as it is found.
/// Errors (an unreadable file, a line that is not a result, too many records out of place, an
/// error from `emit`) name the file and line.
pub fn run(
    before: &Path,
    after: &Path,
    options: &DiffOptions,
    emit: &mut dyn FnMut(&Change<'_>) -> Result<(), String>,
) -> Result<Totals, String> {
    let mut before_reader = ResultReader::open(before)?;
    let mut after_reader = ResultReader::open(after)?;
    let mut differ = Differ {
        before: Waiting::default(),
        after: Waiting::default(),
        totals: Totals::new(before.display().to_string(), after.display().to_string()),
        max_unmatched: options.max_unmatched,
        emit,
    };
    let (mut before_text, mut after_text) = (String::new(), String::new());
    let mut before_more = before_reader.next_line(&mut before_text)?;
    let mut after_more = after_reader.next_line(&mut after_text)?;
    while before_more || after_more {
        // A side that waits for the other is parsed again at the next step: cheap, and only
        // where the files are not in step.
        let b = match before_more {
            true => Some(before_reader.parse(&before_text)?),
            false => None,
        };
        let a = match after_more {
            true => Some(after_reader.parse(&after_text)?),
            false => None,
        };
        let (take_before, take_after) = match (&b, &a) {
            (Some(b), Some(a)) => (b.line <= a.line, a.line <= b.line),
            (b, a) => (b.is_some(), a.is_some()),
        };
        match (b, a) {
            (Some(b), Some(a)) if take_before && take_after => differ.step_both(b, a)?,
            (Some(b), _) if take_before => differ.step_before(b)?,
            (_, Some(a)) => differ.step_after(a)?,
            _ => {}
        }
        if take_before {
            before_more = before_reader.next_line(&mut before_text)?;
        }
        if take_after {
            after_more = after_reader.next_line(&mut after_text)?;
        }
    }
    differ.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use changes::Kind;
    use std::io::Write;

    fn file(lines: &[String]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for line in lines {
            writeln!(f, "{line}").unwrap();
        }
        f
    }

    fn attested(line: u64, id: &str) -> String {
        format!(
            r#"{{"line":{line},"id":"{id}","type":"jwt","status":"attested","agent_id":"spiffe://td/{id}","selectors":["s"],"aliases":[]}}"#
        )
    }

    fn rejected(line: u64, id: &str, code: &str) -> String {
        format!(
            r#"{{"line":{line},"id":"{id}","type":"jwt","status":"rejected","error":{{"stage":"decode","code":"{code}","message":"m"}}}}"#
        )
    }

    fn diff(
        before: &[String],
        after: &[String],
        max: usize,
    ) -> Result<(Totals, Vec<String>), String> {
        let (b, a) = (file(before), file(after));
        let mut seen = Vec::new();
        let totals = run(
            b.path(),
            a.path(),
            &DiffOptions { max_unmatched: max },
            &mut |change| {
                seen.push(format!(
                    "{}:{}",
                    change.id,
                    change.kinds().map(Kind::name).collect::<Vec<_>>().join("+")
                ));
                Ok(())
            },
        )?;
        Ok((totals, seen))
    }

    #[test]
    fn same_evidence_in_step_needs_no_waiting_room() {
        let before: Vec<String> = (1..=50).map(|i| attested(i, &format!("n{i}"))).collect();
        let mut after = before.clone();
        after[9] = rejected(10, "n10", "unknown_key");
        let (totals, seen) = diff(&before, &after, 0).unwrap();
        assert_eq!(seen, ["n10:lost"]);
        assert_eq!(totals.matched, 50);
        assert_eq!(totals.kind(Kind::Lost).records, 1);
    }

    #[test]
    fn records_out_of_place_match_by_id_and_the_rest_is_one_sided() {
        let before = vec![attested(1, "a"), attested(2, "b"), attested(3, "c")];
        let after = vec![attested(1, "c"), attested(2, "a"), attested(5, "d")];
        let (totals, seen) = diff(&before, &after, 10).unwrap();
        assert_eq!(seen, ["b:only_before", "d:only_after"]);
        assert_eq!(totals.matched, 2);
        assert_eq!(totals.changed, 2);
        // Out of place beyond the bound: an error, not unbounded memory.
        let err = diff(&before, &after, 1).unwrap_err();
        assert!(err.contains("more than 1 record is waiting"), "{err}");
    }

    #[test]
    fn shared_ids_match_in_order_and_gaps_in_lines_keep_step() {
        // "x" twice (the same node's evidence twice); after lacks line 3.
        let before = vec![
            attested(1, "x"),
            rejected(2, "x", "replayed"),
            attested(3, "y"),
            attested(4, "z"),
        ];
        let after = vec![
            attested(1, "x"),
            rejected(2, "x", "unknown_key"),
            attested(4, "z"),
        ];
        let (totals, seen) = diff(&before, &after, 1).unwrap();
        assert_eq!(seen, ["x:rejection_changed", "y:only_before"]);
        assert_eq!(totals.matched, 3);
    }
}
