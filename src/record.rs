//! Evidence records (SPEC §3): a JSON object per line, or a bare compact JWT.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{clip, Rejection};

/// The record envelope, every member kept raw so that one bad member does not hide the others
/// (the `id` is still reported when the `token` is of the wrong type, say).
#[derive(Deserialize)]
struct RawRecord<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    token: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    challenge: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
}

/// The envelope as well-formed records have it: one pass, strings borrowed from the line.
#[derive(Deserialize)]
struct TypedRecord<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    challenge: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
}

/// The evidence a record carries.
pub enum Evidence<'a> {
    /// A compact JWT.
    Jwt(Cow<'a, str>),
    /// A join token.
    JoinToken(Cow<'a, str>),
    /// An x509pop transcript: payload, challenge, response, still raw JSON.
    X509Pop {
        /// `{"certificates":[…]}`.
        payload: &'a RawValue,
        /// The server's challenge.
        challenge: &'a RawValue,
        /// The agent's response.
        response: &'a RawValue,
    },
}

/// A parsed record: what is known of its identity, and its evidence or why it has none.
pub struct Record<'a> {
    /// The record's `id`, when it has a string one.
    pub id: Option<Cow<'a, str>>,
    /// The record's `type`, when it has a string one.
    pub kind: Option<Cow<'a, str>>,
    /// The evidence, or the input-stage rejection.
    pub evidence: Result<Evidence<'a>, Rejection>,
}

fn malformed(reason: impl Into<String>) -> Rejection {
    Rejection::MalformedRecord {
        reason: reason.into(),
    }
}

fn raw_str<'a>(raw: &'a RawValue, what: &str) -> Result<Cow<'a, str>, Rejection> {
    serde_json::from_str::<Cow<'a, str>>(raw.get())
        .map_err(|_| malformed(format!("{what} is not a string")))
}

impl<'a> Record<'a> {
    /// Parses one non-empty line (without its line terminator).
    pub fn parse(line: &'a [u8]) -> Record<'a> {
        if line.first() != Some(&b'{') {
            return Record {
                id: None,
                kind: Some(Cow::Borrowed("jwt")),
                evidence: match std::str::from_utf8(line) {
                    Ok(token) => Ok(Evidence::Jwt(Cow::Borrowed(token))),
                    Err(_) => Err(Rejection::MalformedToken {
                        reason: "the line is not UTF-8".into(),
                    }),
                },
            };
        }
        if let Ok(typed) = serde_json::from_slice::<TypedRecord<'a>>(line) {
            let evidence = evidence(
                typed.id.as_deref(),
                &typed.kind,
                typed.token,
                typed.payload,
                typed.challenge,
                typed.response,
            );
            return Record {
                id: typed.id.filter(|id| !id.is_empty()),
                kind: Some(typed.kind),
                evidence,
            };
        }
        // Slow path: read each member on its own, so the id survives another member's error.
        let raw: RawRecord<'a> = match serde_json::from_slice(line) {
            Ok(raw) => raw,
            Err(err) => {
                return Record {
                    id: None,
                    kind: None,
                    evidence: Err(malformed(format!("not a JSON object: {err}"))),
                }
            }
        };
        let id = raw.id.map(|v| raw_str(v, "id"));
        let kind = raw.kind.map(|v| raw_str(v, "type"));
        let evidence = (|| {
            let id = id.clone().transpose()?;
            if id.as_deref() == Some("") {
                return Err(malformed("id is empty"));
            }
            let kind = kind
                .clone()
                .transpose()?
                .ok_or_else(|| malformed("type is missing"))?;
            match kind.as_ref() {
                "jwt" => Ok(Evidence::Jwt(raw_str(
                    raw.token.ok_or_else(|| malformed("token is missing"))?,
                    "token",
                )?)),
                "join_token" => Ok(Evidence::JoinToken(raw_str(
                    raw.token.ok_or_else(|| malformed("token is missing"))?,
                    "token",
                )?)),
                "x509pop" => Ok(Evidence::X509Pop {
                    payload: raw.payload.ok_or_else(|| malformed("payload is missing"))?,
                    challenge: raw
                        .challenge
                        .ok_or_else(|| malformed("challenge is missing"))?,
                    response: raw
                        .response
                        .ok_or_else(|| malformed("response is missing"))?,
                }),
                // The verifier fills in which types its configuration verifies.
                other => Err(Rejection::UnknownType {
                    kind: clip(other),
                    enabled: String::new(),
                }),
            }
        })();
        Record {
            id: id.and_then(Result::ok).filter(|id| !id.is_empty()),
            kind: kind.and_then(Result::ok),
            evidence,
        }
    }
}

/// The evidence of a record whose members were read.
fn evidence<'a>(
    id: Option<&str>,
    kind: &str,
    token: Option<Cow<'a, str>>,
    payload: Option<&'a RawValue>,
    challenge: Option<&'a RawValue>,
    response: Option<&'a RawValue>,
) -> Result<Evidence<'a>, Rejection> {
    if id == Some("") {
        return Err(malformed("id is empty"));
    }
    match kind {
        "jwt" => Ok(Evidence::Jwt(
            token.ok_or_else(|| malformed("token is missing"))?,
        )),
        "join_token" => Ok(Evidence::JoinToken(
            token.ok_or_else(|| malformed("token is missing"))?,
        )),
        "x509pop" => Ok(Evidence::X509Pop {
            payload: payload.ok_or_else(|| malformed("payload is missing"))?,
            challenge: challenge.ok_or_else(|| malformed("challenge is missing"))?,
            response: response.ok_or_else(|| malformed("response is missing"))?,
        }),
        // The verifier fills in which types its configuration verifies.
        other => Err(Rejection::UnknownType {
            kind: clip(other),
            enabled: String::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> &'static str {
        match Record::parse(line.as_bytes()).evidence {
            Ok(_) => "ok",
            Err(r) => r.code(),
        }
    }

    #[test]
    fn envelope_rules() {
        assert_eq!(code("eyJ.a.b"), "ok");
        assert_eq!(code(r#"{"type":"jwt","token":"a.b.c"}"#), "ok");
        assert_eq!(code(r#"{"type":"join_token","token":"t"}"#), "ok");
        assert_eq!(code(r#"{"type":"jwt"}"#), "malformed_record");
        assert_eq!(code(r#"{"type":"jwt","token":5}"#), "malformed_record");
        assert_eq!(code(r#"{"token":"a"}"#), "malformed_record");
        assert_eq!(code(r#"{"type":"tpm","token":"a"}"#), "unknown_type");
        assert_eq!(
            code(r#"{"type":"jwt","type":"jwt","token":"a"}"#),
            "malformed_record"
        );
        assert_eq!(code("{not json"), "malformed_record");
        assert_eq!(
            code(r#"{"id":3,"type":"jwt","token":"a"}"#),
            "malformed_record"
        );
    }

    #[test]
    fn id_and_type_survive_other_errors() {
        let r = Record::parse(br#"{"id":"n\u00f6de-1","type":"jwt","token":7}"#);
        assert_eq!(r.id.as_deref(), Some("nöde-1"));
        assert_eq!(r.kind.as_deref(), Some("jwt"));
        assert!(r.evidence.is_err());
        let r = Record::parse(br#"{"id":7,"type":"jwt","token":"a"}"#);
        assert_eq!(r.id, None);
    }
}
