//! Reading result lines back: the files `verify` writes (see [`crate::sink`] for the format),
//! for `diff` and the HTML reports.
//!
//! A line is parsed into an [`Outcome`] that borrows from it where it can. Members a line lacks
//! are `None`: `gen`'s `expected.jsonl` carries only `line`, `id`, `type`, `status` and
//! `error.stage`/`error.code`, and whoever compares outcomes decides what an absent member
//! means. Unknown members are ignored. A line that is not a result (not JSON, no `line`, `id` or
//! `status`, a status other than `attested`/`rejected`, a rejection without `error.code`) is an
//! error naming the file and the line.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Longest result line read back. `verify` writes lines far shorter (a record is at most
/// `max_record_bytes` of input and its selectors at most `max_selectors`); this only stops a
/// file that is not results from filling memory with one line.
pub const MAX_RESULT_LINE_BYTES: usize = 16 << 20;

/// Attested or rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// `"status":"attested"`.
    Attested,
    /// `"status":"rejected"`.
    Rejected,
}

impl Status {
    /// The name written in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Attested => "attested",
            Status::Rejected => "rejected",
        }
    }
}

/// One result line, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The record's `id`.
    pub id: Cow<'a, str>,
    /// The 1-based input line.
    pub line: u64,
    /// The record's `type` (`None` when null or absent).
    pub kind: Option<Cow<'a, str>>,
    /// Attested or rejected.
    pub status: Status,
    /// `error.stage` of a rejection, when given.
    pub stage: Option<Cow<'a, str>>,
    /// `error.code` of a rejection.
    pub code: Option<Cow<'a, str>>,
    /// `error.message` of a rejection, when given.
    pub message: Option<Cow<'a, str>>,
    /// The agent ID of an attested record, when given.
    pub agent_id: Option<Cow<'a, str>>,
    /// The selectors of an attested record, when given.
    pub selectors: Option<Vec<Cow<'a, str>>>,
    /// The node aliases of an attested record, when given.
    pub aliases: Option<Vec<Cow<'a, str>>>,
}

/// A string that borrows from the line unless it holds escapes (serde borrows a `Cow` only
/// where the field says so; inside a `Vec` it needs this wrapper).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct RawError<'a> {
    #[serde(borrow, default)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawResult<'a> {
    line: u64,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    selectors: Option<Vec<Text<'a>>>,
    #[serde(borrow, default)]
    aliases: Option<Vec<Text<'a>>>,
    #[serde(borrow, default)]
    error: Option<RawError<'a>>,
}

impl<'a> Outcome<'a> {
    /// Parses one result line.
    pub fn parse(text: &'a str) -> Result<Outcome<'a>, String> {
        let raw: RawResult<'a> = serde_json::from_str(text).map_err(|err| err.to_string())?;
        let status = match &*raw.status {
            "attested" => Status::Attested,
            "rejected" => Status::Rejected,
            other => {
                return Err(format!(
                    "status {:?} is neither \"attested\" nor \"rejected\"",
                    crate::error::clip(other)
                ))
            }
        };
        let (stage, code, message) = match raw.error {
            Some(error) => (error.stage, error.code, error.message),
            None => (None, None, None),
        };
        if status == Status::Rejected && code.is_none() {
            return Err("a rejected result without error.code".into());
        }
        let texts =
            |list: Option<Vec<Text<'a>>>| list.map(|l| l.into_iter().map(|t| t.0).collect());
        Ok(Outcome {
            id: raw.id,
            line: raw.line,
            kind: raw.kind,
            status,
            stage,
            code,
            message,
            agent_id: raw.agent_id,
            selectors: texts(raw.selectors),
            aliases: texts(raw.aliases),
        })
    }

    /// The same outcome, owning its strings (to keep it past its line).
    pub fn into_owned(self) -> Outcome<'static> {
        let own = |s: Option<Cow<'a, str>>| s.map(|s| Cow::Owned(s.into_owned()));
        let own_list = |l: Option<Vec<Cow<'a, str>>>| {
            l.map(|l| l.into_iter().map(|s| Cow::Owned(s.into_owned())).collect())
        };
        Outcome {
            id: Cow::Owned(self.id.into_owned()),
            line: self.line,
            kind: own(self.kind),
            status: self.status,
            stage: own(self.stage),
            code: own(self.code),
            message: own(self.message),
            agent_id: own(self.agent_id),
            selectors: own_list(self.selectors),
            aliases: own_list(self.aliases),
        }
    }

    /// `stage/code` of a rejection (`code` alone when the stage is not given), `None` when
    /// attested.
    pub fn rejection(&self) -> Option<String> {
        let code = self.code.as_deref()?;
        if self.status != Status::Rejected {
            return None;
        }
        Some(match self.stage.as_deref() {
            Some(stage) => format!("{stage}/{code}"),
            None => code.to_owned(),
        })
    }

    /// `attested`, or `rejected stage/code`.
    pub fn describe(&self) -> String {
        match self.rejection() {
            Some(rejection) => format!("rejected {rejection}"),
            None => "attested".into(),
        }
    }
}

/// A results file read line by line, in bounded memory. Empty lines are skipped.
pub struct ResultReader {
    path: PathBuf,
    reader: BufReader<File>,
    /// Physical lines read so far (for messages).
    file_line: u64,
    bytes: Vec<u8>,
}

impl ResultReader {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<ResultReader, String> {
        let file = File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(ResultReader {
            path: path.to_owned(),
            reader: BufReader::with_capacity(1 << 20, file),
            file_line: 0,
            bytes: Vec::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the next non-empty line into `text` (replacing it); false at the end.
    pub fn next_line(&mut self, text: &mut String) -> Result<bool, String> {
        loop {
            self.bytes.clear();
            let limit = MAX_RESULT_LINE_BYTES as u64 + 1;
            let n = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.bytes)
                .map_err(|err| self.error_io(err))?;
            if n == 0 {
                return Ok(false);
            }
            self.file_line += 1;
            if self.bytes.last() != Some(&b'\n') && n as u64 == limit {
                return Err(self.error(&format!(
                    "longer than {} MiB: not a result line",
                    MAX_RESULT_LINE_BYTES >> 20
                )));
            }
            while matches!(self.bytes.last(), Some(b'\n' | b'\r')) {
                self.bytes.pop();
            }
            if self.bytes.is_empty() {
                continue;
            }
            text.clear();
            match std::str::from_utf8(&self.bytes) {
                Ok(s) => text.push_str(s),
                Err(_) => return Err(self.error("not UTF-8")),
            }
            return Ok(true);
        }
    }

    /// An error about the line just read, naming the file and the line.
    pub fn error(&self, what: &str) -> String {
        format!("{}:{}: {what}", self.path.display(), self.file_line)
    }

    fn error_io(&self, err: io::Error) -> String {
        format!("{}: {err}", self.path.display())
    }

    /// Parses `text` (the line just read) as a result, with an error naming file and line.
    pub fn parse<'t>(&self, text: &'t str) -> Result<Outcome<'t>, String> {
        Outcome::parse(text).map_err(|err| self.error(&format!("not a result line: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attested_and_rejected_lines() {
        let attested = r#"{"line":1,"id":"n\"1","type":"jwt","status":"attested","agent_id":"spiffe://td/a","selectors":["jwt:a:1","jwt:b:\u00e9"],"aliases":[]}"#;
        let o = Outcome::parse(attested).unwrap();
        assert_eq!(o.id, "n\"1");
        assert_eq!(o.status, Status::Attested);
        assert_eq!(o.selectors.as_ref().unwrap()[1], "jwt:b:é");
        assert_eq!(o.rejection(), None);
        let rejected = r#"{"line":2,"id":"line-2","type":null,"status":"rejected","error":{"stage":"decode","code":"malformed_token","message":"m"}}"#;
        let o = Outcome::parse(rejected).unwrap();
        assert_eq!(o.kind, None);
        assert_eq!(o.rejection().as_deref(), Some("decode/malformed_token"));
        assert_eq!(o.describe(), "rejected decode/malformed_token");
        let expected = r#"{"line":3,"id":"node-3","status":"rejected","error":{"code":"expired"}}"#;
        assert_eq!(
            Outcome::parse(expected).unwrap().rejection().as_deref(),
            Some("expired")
        );
    }

    #[test]
    fn refuses_lines_that_are_not_results() {
        for bad in [
            "not json",
            "[1,2]",
            r#"{"id":"x","status":"attested"}"#,
            r#"{"line":1,"id":"x","status":"maybe"}"#,
            r#"{"line":1,"id":"x","status":"rejected"}"#,
            r#"{"line":-1,"id":"x","status":"attested"}"#,
        ] {
            assert!(Outcome::parse(bad).is_err(), "{bad}");
        }
    }
}
