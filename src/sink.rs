//! Result lines (SPEC §4), and the output file they go to.
//!
//! # Format
//! One JSON object per input record, one per line, in input order:
//!
//! ```text
//! {"line":N,"id":"…","type":"jwt"|"x509pop"|"join_token"|<as given>|null,
//!  "status":"attested","agent_id":"spiffe://…","selectors":[…],"aliases":[…]}
//! {"line":N,"id":"…","type":…,"status":"rejected",
//!  "error":{"stage":"…","code":"…","message":"…"}}
//! ```
//!
//! `line` is the 1-based input line; `id` is the record's `id` or `line-N`; `type` is `null` when
//! the record's type could not be read. Members appear in exactly this order, so outputs can be
//! compared byte for byte. Lines are written by hand (for speed, into one buffer per chunk) with
//! every string escaped by serde_json; tests parse them back with serde_json.
//!
//! A line is split in two at the end of the `type` member: the *prefix* is the same whatever
//! the verdict, which lets the ordered writer turn an attested line into a `replay/replayed`
//! rejection without re-serializing the record.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::error::Rejection;

/// Where the record's `id` comes from.
#[derive(Clone, Copy, Debug)]
pub enum RecordId<'a> {
    /// The record's own `id`.
    Given(&'a str),
    /// `line-N`.
    Line,
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings (ids, SPIFFE IDs, selectors) need no escaping: found out eight bytes at a
    // time, they are copied as they are.
    if needs_escape(bytes) {
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, s);
    } else {
        buf.reserve(bytes.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(bytes);
        buf.push(b'"');
    }
}

/// True when `bytes` hold a control character, `"` or `\\`. Eight bytes at a time, as serde_json
/// scans strings: `(w - 0x01…01 × n) & !w & 0x80…80` is non-zero exactly when some byte of `w` is
/// below `n` (borrows only run on from a byte that is), and a byte equal to `c` is a zero byte of
/// `w ^ 0x01…01 × c`. A tail shorter than eight bytes is covered by the last eight bytes, read
/// again where they overlap (the question is only whether any byte needs escaping).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH;
    let special = |word: &[u8]| {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
        below(word, 0x20)
            | below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
    };
    let Some(last) = bytes.len().checked_sub(8) else {
        return bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    };
    let mut words = bytes.chunks_exact(8);
    let mut found = (&mut words).fold(0, |found, word| found | special(word));
    if !words.remainder().is_empty() {
        found |= special(bytes.get(last..).unwrap_or_default());
    }
    found != 0
}

fn write_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Writes `{"line":N,"id":…,"type":…,` and returns nothing; the prefix ends where this stops.
pub fn write_prefix(buf: &mut Vec<u8>, line: u64, id: RecordId<'_>, kind: Option<&str>) {
    buf.extend_from_slice(b"{\"line\":");
    write_u64(buf, line);
    buf.extend_from_slice(b",\"id\":");
    match id {
        RecordId::Given(id) => write_str(buf, id),
        RecordId::Line => {
            buf.extend_from_slice(b"\"line-");
            write_u64(buf, line);
            buf.push(b'"');
        }
    }
    buf.extend_from_slice(b",\"type\":");
    match kind {
        // The types every record of a fleet has, written as they are.
        Some("jwt") => buf.extend_from_slice(b"\"jwt\""),
        Some("x509pop") => buf.extend_from_slice(b"\"x509pop\""),
        Some("join_token") => buf.extend_from_slice(b"\"join_token\""),
        Some(kind) => write_str(buf, kind),
        None => buf.extend_from_slice(b"null"),
    }
    buf.push(b',');
}

/// Writes the rest of an attested line, newline included.
pub fn write_attested<'a>(
    buf: &mut Vec<u8>,
    agent_id_prefix: &str,
    agent_path: &str,
    selectors: impl Iterator<Item = &'a str>,
    aliases: impl Iterator<Item = &'a str>,
) {
    buf.extend_from_slice(b"\"status\":\"attested\",\"agent_id\":\"");
    // The prefix and the path are validated SPIFFE text: nothing in them needs escaping.
    buf.extend_from_slice(agent_id_prefix.as_bytes());
    buf.extend_from_slice(agent_path.as_bytes());
    buf.extend_from_slice(b"\",\"selectors\":[");
    write_list(buf, selectors);
    buf.extend_from_slice(b"],\"aliases\":[");
    write_list(buf, aliases);
    buf.extend_from_slice(b"]}\n");
}

fn write_list<'a>(buf: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_str(buf, item);
    }
}

/// Writes the rest of a rejected line, newline included.
pub fn write_rejected(buf: &mut Vec<u8>, rejection: &Rejection) {
    buf.extend_from_slice(b"\"status\":\"rejected\",\"error\":{\"stage\":\"");
    buf.extend_from_slice(rejection.stage().as_str().as_bytes());
    buf.extend_from_slice(b"\",\"code\":\"");
    buf.extend_from_slice(rejection.code().as_bytes());
    buf.extend_from_slice(b"\",\"message\":");
    write_str(buf, &rejection.message());
    buf.extend_from_slice(b"}}\n");
}

/// The output: stdout or a file.
pub enum Output {
    /// Standard output.
    Stdout(io::Stdout),
    /// A file, synced before the replay state is saved.
    File(File),
}

impl Output {
    /// Creates (truncating) or, for `--resume`, appends to `path`.
    pub fn open(path: &Path, append: bool) -> io::Result<Output> {
        let file = if append {
            OpenOptions::new().append(true).open(path)?
        } else {
            File::create(path)?
        };
        Ok(Output::File(file))
    }

    /// Makes written lines durable: regular files are fsynced; devices and pipes
    /// (`/dev/null`, a FIFO) cannot be and need not be.
    pub fn sync(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File(file) if file.metadata()?.is_file() => file.sync_all(),
            Output::File(file) => file.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File(file) => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.write_all(buf),
            Output::File(file) => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File(file) => file.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            s in "\\PC*|[\\x00-\\x7f]{0,80}|[a-z/:.é]{0,20}[\\x00\\x1f\"\\\\][a-z]{0,20}",
        ) {
            let mut buf = Vec::new();
            write_str(&mut buf, &s);
            proptest::prop_assert_eq!(buf, serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn types_are_written_as_serde_json_writes_them() {
        for kind in [
            "jwt",
            "x509pop",
            "join_token",
            "tpm",
            "jwt\"",
            "x509pop ",
            "",
        ] {
            let mut buf = Vec::new();
            write_prefix(&mut buf, 1, RecordId::Line, Some(kind));
            let want = format!(
                r#"{{"line":1,"id":"line-1","type":{},"#,
                serde_json::json!(kind)
            );
            assert_eq!(String::from_utf8(buf).unwrap(), want);
        }
    }

    #[test]
    fn lines_parse_back_with_escapes_intact() {
        let mut buf = Vec::new();
        let id = "nöde\u{0}\"\\\n\u{1f}";
        write_prefix(&mut buf, 7, RecordId::Given(id), Some("jwt"));
        write_attested(
            &mut buf,
            "spiffe://td/spire/agent",
            "/jwt/x",
            ["jwt:a:\u{7f}\"", "jwt:b:✓"].into_iter(),
            std::iter::empty(),
        );
        let v: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["id"], id);
        assert_eq!(v["selectors"][0], "jwt:a:\u{7f}\"");
        assert_eq!(v["agent_id"], "spiffe://td/spire/agent/jwt/x");
        assert!(buf.ends_with(b"]}\n"));

        buf.clear();
        write_prefix(&mut buf, 3, RecordId::Line, None);
        write_rejected(&mut buf, &Rejection::UnknownToken);
        let v: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["id"], "line-3");
        assert_eq!(v["type"], Value::Null);
        assert_eq!(v["error"]["stage"], "join_token");
        assert_eq!(v["error"]["code"], "unknown_token");
    }
}
