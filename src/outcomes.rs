//! A run's outcomes by record type, JWT issuer, key and code: what the ordered writer counts,
//! record by record, so that the summary can say which issuer or key failed.
//!
//! Rows are keyed by places in the config (issuer and key indices), not names; names are put
//! on at the end ([`crate::summary`]). A `kid` that no configured JWK Set holds comes from the
//! token, so any number of them may turn up: the first [`MAX_UNKNOWN_KIDS`] get rows of their
//! own, the others share one.

use std::collections::BTreeMap;

use crate::verifier::{RecordKind, Source};

/// Distinct unknown `kid`s given rows of their own.
pub const MAX_UNKNOWN_KIDS: usize = 16;

/// The key part of a row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyRow {
    /// No key (not a JWT, or judged before its key was known).
    #[default]
    None,
    /// A configured key, by its place among its issuer's keys.
    Configured(u32),
    /// An unknown `kid`, by its place in [`Outcomes::unknown_kid`].
    Unknown(u8),
    /// One of the unknown `kid`s beyond the first [`MAX_UNKNOWN_KIDS`].
    OtherUnknown,
}

/// What a row counts: a record type, and for JWTs an issuer and a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    /// The record type.
    pub kind: RecordKind,
    /// The JWT issuer, by its place in the config.
    pub issuer: Option<u32>,
    /// The key.
    pub key: KeyRow,
}

/// The counts of a row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// Records attested.
    pub attested: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejections by code.
    pub by_code: BTreeMap<&'static str, u64>,
}

/// Outcomes by row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    rows: BTreeMap<RowKey, Row>,
    unknown_kids: Vec<String>,
}

impl Outcomes {
    /// Counts one record: its source, the unknown `kid` it named (when `source.unknown_kid`),
    /// and its rejection code (`None` when attested).
    pub fn count(&mut self, source: Source, unknown_kid: &str, code: Option<&'static str>) {
        let key = if source.unknown_kid {
            self.unknown_row(unknown_kid)
        } else {
            source.key.map_or(KeyRow::None, KeyRow::Configured)
        };
        let row = self
            .rows
            .entry(RowKey {
                kind: source.kind,
                issuer: source.issuer,
                key,
            })
            .or_default();
        match code {
            None => row.attested += 1,
            Some(code) => {
                row.rejected += 1;
                *row.by_code.entry(code).or_default() += 1;
            }
        }
    }

    fn unknown_row(&mut self, kid: &str) -> KeyRow {
        if let Some(at) = self.unknown_kids.iter().position(|k| k == kid) {
            return KeyRow::Unknown(at as u8);
        }
        if self.unknown_kids.len() < MAX_UNKNOWN_KIDS {
            self.unknown_kids.push(kid.to_owned());
            return KeyRow::Unknown((self.unknown_kids.len() - 1) as u8);
        }
        KeyRow::OtherUnknown
    }

    /// The rows, in order of type, issuer and key.
    pub fn rows(&self) -> impl Iterator<Item = (&RowKey, &Row)> {
        self.rows.iter()
    }

    /// The unknown `kid` of [`KeyRow::Unknown`]`(at)`.
    pub fn unknown_kid(&self, at: u8) -> &str {
        self.unknown_kids
            .get(usize::from(at))
            .map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_by_source_with_unknown_kids_bounded() {
        let mut outcomes = Outcomes::default();
        let jwt = Source {
            kind: RecordKind::Jwt,
            issuer: Some(1),
            key: Some(0),
            unknown_kid: false,
        };
        outcomes.count(jwt, "", None);
        outcomes.count(jwt, "", Some("expired"));
        outcomes.count(jwt, "", Some("expired"));
        let unknown = Source {
            kind: RecordKind::Jwt,
            unknown_kid: true,
            ..Source::default()
        };
        for i in 0..MAX_UNKNOWN_KIDS + 5 {
            outcomes.count(unknown, &format!("kid-{i}"), Some("unknown_key"));
        }
        outcomes.count(unknown, "kid-0", Some("unknown_key"));
        let rows: Vec<_> = outcomes.rows().collect();
        assert_eq!(rows.len(), 1 + MAX_UNKNOWN_KIDS + 1);
        let (key, row) = rows
            .iter()
            .find(|(k, _)| k.key == KeyRow::Configured(0))
            .unwrap();
        assert_eq!(key.issuer, Some(1));
        assert_eq!((row.attested, row.rejected), (1, 2));
        assert_eq!(row.by_code["expired"], 2);
        let first = rows
            .iter()
            .find(|(k, _)| k.key == KeyRow::Unknown(0))
            .unwrap();
        assert_eq!(first.1.rejected, 2);
        assert_eq!(outcomes.unknown_kid(0), "kid-0");
        let other = rows
            .iter()
            .find(|(k, _)| k.key == KeyRow::OtherUnknown)
            .unwrap();
        assert_eq!(other.1.rejected, 5);
    }
}
