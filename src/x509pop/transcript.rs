//! The three JSON parts of an x509pop record (payload, challenge, response), read as Go's
//! `encoding/json` reads them into SPIRE's structs: field names matched case-insensitively
//! (an exact match is not required), a later duplicate member overriding an earlier one (and,
//! for an object, decoding into the same struct), unknown members ignored, `null` leaving a
//! field empty, and byte strings in standard, padded base64 with line breaks ignored and
//! unused bits not checked (Go's `base64.StdEncoding`, not its strict form).

use std::borrow::Cow;
use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Go's `base64.StdEncoding` for decoding.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// An object's members in order, or `None` for `null`.
type Members<'a> = Option<Vec<(Cow<'a, str>, &'a RawValue)>>;

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some((key, value)) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
            out.push((key, value));
        }
        Ok(Some(out))
    }
}

fn members(raw: &RawValue) -> Result<Members<'_>, String> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_any(MembersVisitor)
        .map_err(|_| format!("cannot unmarshal {} into an object", kind_of(raw)))
}

fn kind_of(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "string",
        Some(b'[') => "array",
        Some(b't' | b'f') => "bool",
        Some(b'{') => "object",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// Go's field-name match: exact, or equal under simple case folding (ASCII here: every
/// field name SPIRE uses is ASCII, and Go folds a non-ASCII key only onto a non-ASCII name,
/// except for the Kelvin sign and long s, which fold onto `k` and `s`).
fn name_matches(key: &str, field: &str) -> bool {
    if key == field {
        return true;
    }
    let mut k = key.chars();
    for f in field.chars() {
        match k.next() {
            Some(c) if c.eq_ignore_ascii_case(&f) => {}
            Some('\u{212a}') if f.eq_ignore_ascii_case(&'k') => {}
            Some('\u{017f}') if f.eq_ignore_ascii_case(&'s') => {}
            _ => return false,
        }
    }
    k.next().is_none()
}

/// A `[]byte` field: a base64 string, or `null` (nil).
fn bytes(raw: &RawValue, what: &str) -> Result<Option<Vec<u8>>, String> {
    if raw.get() == "null" {
        return Ok(None);
    }
    let text: Cow<'_, str> = serde_json::from_str(raw.get())
        .map_err(|_| format!("{what}: cannot unmarshal {} into []byte", kind_of(raw)))?;
    let text: Cow<'_, str> = if text.contains(['\r', '\n']) {
        text.chars()
            .filter(|c| !matches!(c, '\r' | '\n'))
            .collect::<String>()
            .into()
    } else {
        text
    };
    GO_STD
        .decode(text.as_bytes())
        .map(Some)
        .map_err(|err| format!("{what}: illegal base64 data: {err}"))
}

/// SPIRE's `AttestationData`: the DER certificates, leaf first (a `null` element is an
/// empty certificate).
pub fn payload(raw: &RawValue) -> Result<Vec<Vec<u8>>, String> {
    let mut certificates = Vec::new();
    for (key, value) in members(raw)?.unwrap_or_default() {
        if !name_matches(&key, "certificates") {
            continue;
        }
        certificates.clear();
        if value.get() == "null" {
            continue;
        }
        let items: Vec<&RawValue> = serde_json::from_str(value.get()).map_err(|_| {
            format!(
                "certificates: cannot unmarshal {} into [][]byte",
                kind_of(value)
            )
        })?;
        for (i, item) in items.iter().enumerate() {
            certificates.push(bytes(item, &format!("certificates[{i}]"))?.unwrap_or_default());
        }
    }
    Ok(certificates)
}

/// One branch of a challenge or response: the byte fields it names, as decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Branch {
    /// `nonce`.
    pub nonce: Option<Vec<u8>>,
    /// `signature` (RSA responses).
    pub signature: Option<Vec<u8>>,
    /// `r` (ECDSA responses).
    pub r: Option<Vec<u8>>,
    /// `s` (ECDSA responses).
    pub s: Option<Vec<u8>>,
}

/// SPIRE's `Challenge` or `Response`: the RSA and ECDSA branches, `None` when absent or null.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Branches {
    /// `rsa_signature`.
    pub rsa: Option<Branch>,
    /// `ecdsa_signature`.
    pub ecdsa: Option<Branch>,
}

fn branch(
    into: &mut Option<Branch>,
    raw: &RawValue,
    fields: &[&str],
    what: &str,
) -> Result<(), String> {
    let Some(members) = members(raw).map_err(|err| format!("{what}: {err}"))? else {
        *into = None;
        return Ok(());
    };
    // Go decodes into the struct a pointer already holds: a repeated member updates it.
    let b = into.get_or_insert_with(Branch::default);
    for (key, value) in members {
        for &field in fields {
            if !name_matches(&key, field) {
                continue;
            }
            let decoded = bytes(value, &format!("{what}.{field}"))?;
            match field {
                "nonce" => b.nonce = decoded,
                "signature" => b.signature = decoded,
                "r" => b.r = decoded,
                _ => b.s = decoded,
            }
        }
    }
    Ok(())
}

/// SPIRE's `Challenge` (`response == false`) or `Response`.
pub fn branches(raw: &RawValue, response: bool) -> Result<Branches, String> {
    let mut out = Branches::default();
    let (rsa_fields, ecdsa_fields): (&[&str], &[&str]) = if response {
        (&["nonce", "signature"], &["nonce", "r", "s"])
    } else {
        (&["nonce"], &["nonce"])
    };
    for (key, value) in members(raw)?.unwrap_or_default() {
        if name_matches(&key, "rsa_signature") {
            branch(&mut out.rsa, value, rsa_fields, "rsa_signature")?;
        } else if name_matches(&key, "ecdsa_signature") {
            branch(&mut out.ecdsa, value, ecdsa_fields, "ecdsa_signature")?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn payloads_read_as_go() {
        assert_eq!(
            payload(&raw(r#"{"certificates":["AAEC"]}"#)).unwrap(),
            [vec![0, 1, 2]]
        );
        assert_eq!(
            payload(&raw(r#"{"Certificates":["AAEC"]}"#)).unwrap(),
            [vec![0, 1, 2]]
        );
        assert_eq!(
            payload(&raw(r#"{"certificates":["AA=="],"certificates":["AAEC"]}"#)).unwrap(),
            [vec![0, 1, 2]]
        );
        assert_eq!(
            payload(&raw(r#"{"certificates":[null]}"#)).unwrap(),
            [Vec::<u8>::new()]
        );
        assert!(payload(&raw("null")).unwrap().is_empty());
        assert!(payload(&raw(r#"{"x":1}"#)).unwrap().is_empty());
        assert!(payload(&raw(r#""payload""#)).is_err());
        assert!(payload(&raw(r#"{"certificates":"AAEC"}"#)).is_err());
        // Padding is required; unused bits are not checked; line breaks are skipped.
        assert!(payload(&raw(r#"{"certificates":["AAE"]}"#)).is_err());
        assert_eq!(
            payload(&raw(r#"{"certificates":["AAF="]}"#)).unwrap(),
            [vec![0, 1]]
        );
        assert_eq!(
            payload(&raw(r#"{"certificates":["AA\nEC"]}"#)).unwrap(),
            [vec![0, 1, 2]]
        );
    }

    #[test]
    fn branches_merge_and_fold_as_go() {
        let b = branches(
            &raw(r#"{"ECDSA_Signature":{"nonce":"AA=="},"ecdsa_signature":{"r":"AQ=="}}"#),
            true,
        )
        .unwrap();
        let e = b.ecdsa.unwrap();
        assert_eq!(e.nonce, Some(vec![0]));
        assert_eq!(e.r, Some(vec![1]));
        assert!(b.rsa.is_none());
        let nulled = branches(
            &raw(r#"{"ecdsa_signature":{"nonce":"AA=="},"ecdsa_signature":null}"#),
            false,
        )
        .unwrap();
        assert!(nulled.ecdsa.is_none());
        assert!(branches(&raw("[]"), true).is_err());
    }
}
