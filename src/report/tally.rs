//! What a run's report shows that the run's counters do not hold, taken from its result lines
//! as they are written: rejections by stage and code, the rejected fraction along the input,
//! and the most frequent rejection messages. Bounded, whatever the size of the input.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use super::charts::Slice;
use crate::results::{Outcome, Status};

/// Columns of the "along the input" chart, at most (at least 91 once the input has 100 lines).
pub const SLICES: usize = 100;
/// Slices counted: ten times as many as shown, so that merging them into columns of equal
/// numbers of lines comes close to `SLICES` columns whatever the number of lines.
const FINE_SLICES: usize = 10 * SLICES;
/// Distinct rejection messages counted one by one.
pub const MAX_MESSAGES: usize = 500;
/// Distinct `stage/code` pairs counted one by one.
const MAX_REJECTIONS: usize = 1000;

/// A rejection message and how often it occurred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `stage/code`.
    pub rejection: String,
    /// The message.
    pub message: String,
    /// Records rejected with it.
    pub records: u64,
    /// The first record's id.
    pub example: String,
}

/// Counts over result lines.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Results seen.
    pub records: u64,
    /// Rejected results seen.
    pub rejected: u64,
    /// Rejections by `(stage, code)`.
    pub by_rejection: BTreeMap<(String, String), u64>,
    /// Lines per slice of `slices`.
    slice_lines: u64,
    /// `(records, rejected)` per slice of `slice_lines` lines.
    slices: Vec<(u64, u64)>,
    last_line: u64,
    messages: HashMap<(String, String), Message>,
    /// Rejections whose message was not among the first [`MAX_MESSAGES`] distinct ones.
    pub untracked_messages: u64,
    /// Lines that did not read as results (none, for `verify`'s own output).
    pub unreadable: u64,
}

impl Tally {
    /// Counts one result.
    pub fn add(&mut self, outcome: &Outcome<'_>) {
        self.records += 1;
        let rejected = outcome.status == Status::Rejected;
        self.rejected += u64::from(rejected);
        self.add_to_slice(outcome.line, rejected);
        if !rejected {
            return;
        }
        let stage = outcome.stage.as_deref().unwrap_or("-").to_owned();
        let code = outcome.code.as_deref().unwrap_or("-").to_owned();
        let key = (stage, code);
        if self.by_rejection.len() < MAX_REJECTIONS || self.by_rejection.contains_key(&key) {
            *self.by_rejection.entry(key.clone()).or_default() += 1;
        }
        let message = outcome.message.as_deref().unwrap_or_default();
        let rejection = format!("{}/{}", key.0, key.1);
        let message_key = (rejection, message.to_owned());
        let room = self.messages.len() < MAX_MESSAGES;
        match self.messages.get_mut(&message_key) {
            Some(m) => m.records += 1,
            None if room => {
                let m = Message {
                    rejection: message_key.0.clone(),
                    message: message_key.1.clone(),
                    records: 1,
                    example: outcome.id.to_string(),
                };
                self.messages.insert(message_key, m);
            }
            None => self.untracked_messages += 1,
        }
    }

    fn add_to_slice(&mut self, line: u64, rejected: bool) {
        let line = line.max(1);
        self.last_line = self.last_line.max(line);
        if self.slice_lines == 0 {
            self.slice_lines = 1;
        }
        let mut at = ((line - 1) / self.slice_lines) as usize;
        while at >= FINE_SLICES {
            // Twice as many lines per slice: neighbours merge.
            let merged: Vec<(u64, u64)> = self
                .slices
                .chunks(2)
                .map(|pair| pair.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)))
                .collect();
            self.slices = merged;
            self.slice_lines *= 2;
            at = ((line - 1) / self.slice_lines) as usize;
        }
        if self.slices.len() <= at {
            self.slices.resize(at + 1, (0, 0));
        }
        self.slices[at].0 += 1;
        self.slices[at].1 += u64::from(rejected);
    }

    /// The input in at most [`SLICES`] slices of equal numbers of lines (the last one may be
    /// shorter).
    pub fn slices(&self) -> Vec<Slice> {
        let merge = self.slices.len().div_ceil(SLICES).max(1);
        let lines = self.slice_lines * merge as u64;
        self.slices
            .chunks(merge)
            .enumerate()
            .map(|(i, group)| {
                let first_line = i as u64 * lines + 1;
                Slice {
                    first_line,
                    last_line: (first_line + lines - 1).min(self.last_line),
                    records: group.iter().map(|s| s.0).sum(),
                    rejected: group.iter().map(|s| s.1).sum(),
                }
            })
            .collect()
    }

    /// The `n` most frequent messages (ties: by rejection, then message).
    pub fn top_messages(&self, n: usize) -> Vec<Message> {
        let mut all: Vec<&Message> = self.messages.values().collect();
        all.sort_by(|a, b| {
            b.records
                .cmp(&a.records)
                .then_with(|| a.rejection.cmp(&b.rejection))
                .then_with(|| a.message.cmp(&b.message))
        });
        all.into_iter().take(n).cloned().collect()
    }

    /// Counts a result line (without its newline).
    pub fn add_line(&mut self, line: &[u8]) {
        let parsed = std::str::from_utf8(line)
            .ok()
            .and_then(|text| Outcome::parse(text).ok());
        match parsed {
            Some(outcome) => self.add(&outcome),
            None => self.unreadable += 1,
        }
    }
}

/// The tally of the first `lines` result lines of `path` (the results an interrupted run kept,
/// for a resumed run's report).
pub fn of_file(path: &std::path::Path, lines: u64) -> io::Result<Tally> {
    use std::io::BufRead;
    let mut tally = Tally::default();
    let reader = io::BufReader::new(std::fs::File::open(path)?);
    for line in reader
        .split(b'\n')
        .take(usize::try_from(lines).unwrap_or(usize::MAX))
    {
        tally.add_line(&line?);
    }
    Ok(tally)
}

/// A writer that passes everything on to `inner` and counts the result lines in it.
pub struct Tee<W> {
    inner: W,
    partial: Vec<u8>,
    /// The counts so far.
    pub tally: Tally,
}

impl<W: Write> Tee<W> {
    /// Counts what is written to `inner`, starting from `tally`.
    pub fn new(inner: W, tally: Tally) -> Tee<W> {
        Tee {
            inner,
            partial: Vec::new(),
            tally,
        }
    }

    fn count(&mut self, buf: &[u8]) {
        let mut rest = buf;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(end);
            if self.partial.is_empty() {
                self.tally.add_line(line);
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                self.tally.add_line(&whole);
                self.partial = whole;
                self.partial.clear();
            }
            rest = &tail[1..];
        }
        self.partial.extend_from_slice(rest);
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64, rejected: bool) -> String {
        if rejected {
            format!(
                r#"{{"line":{n},"id":"n{n}","type":"jwt","status":"rejected","error":{{"stage":"claims","code":"expired","message":"m{}"}}}}"#,
                n % 2
            )
        } else {
            format!(
                r#"{{"line":{n},"id":"n{n}","type":"jwt","status":"attested","agent_id":"a","selectors":[],"aliases":[]}}"#
            )
        }
    }

    #[test]
    fn slices_double_to_stay_within_bounds_and_keep_every_record() {
        let mut tally = Tally::default();
        for n in 1..=1000u64 {
            tally.add(&Outcome::parse(&line(n, n > 900)).unwrap());
        }
        let mut big = Tally::default();
        for n in 1..=12_345u64 {
            big.add(&Outcome::parse(&line(n, false)).unwrap());
        }
        let cols = big.slices();
        assert!((91..=100).contains(&cols.len()), "{}", cols.len());
        assert_eq!(cols.iter().map(|s| s.records).sum::<u64>(), 12_345);
        let slices = tally.slices();
        assert_eq!(slices.len(), 100);
        assert_eq!(slices[1].first_line, 11);
        assert_eq!(slices.iter().map(|s| s.records).sum::<u64>(), 1000);
        assert_eq!(slices.iter().map(|s| s.rejected).sum::<u64>(), 100);
        assert_eq!(slices[0].first_line, 1);
        assert_eq!(slices.last().unwrap().last_line, 1000);
        assert_eq!(
            slices.last().unwrap().rejected,
            slices.last().unwrap().records
        );
        assert_eq!(slices[0].rejected, 0);
        let top = tally.top_messages(5);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].records + top[1].records, 100);
        assert_eq!(
            tally.by_rejection[&("claims".into(), "expired".into())],
            100
        );
    }

    #[test]
    fn the_tee_counts_lines_split_across_writes() {
        let text: String = (1..=5).map(|n| line(n, n == 3) + "\n").collect();
        let mut out = Vec::new();
        let mut tee = Tee::new(&mut out, Tally::default());
        for piece in text.as_bytes().chunks(7) {
            tee.write_all(piece).unwrap();
        }
        assert_eq!(tee.tally.records, 5);
        assert_eq!(tee.tally.rejected, 1);
        assert_eq!(tee.tally.unreadable, 0);
        assert_eq!(out, text.as_bytes());
    }
}
