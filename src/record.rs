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

/// The envelope of JWT and join-token records as tools write them, read without serde: an object
/// of the members `id`, `type` and `token` only (`type` required, none twice), each value a
/// string with no escape sequence. Anything else (another member, an escape, a number, a
/// duplicate, trailing bytes) is `None` and goes to serde_json, so this only ever reads what the
/// typed parse would read, and reads it the same (property test
/// `plain_envelopes_read_as_serde_json_reads_them`). Why: serde_json's scan of the envelope was
/// a fifth of the engine's own work on a JWT record; here the long token is found with `memchr`.
struct PlainRecord<'a> {
    id: Option<&'a str>,
    kind: &'a str,
    token: Option<&'a str>,
}

impl<'a> PlainRecord<'a> {
    fn parse(line: &'a [u8]) -> Option<PlainRecord<'a>> {
        let mut cursor = Cursor { bytes: line, at: 0 };
        if !cursor.eat(b'{') {
            return None;
        }
        let (mut id, mut kind, mut token) = (None, None, None);
        loop {
            let slot = match cursor.member_name()? {
                b"id" => &mut id,
                b"type" => &mut kind,
                b"token" => &mut token,
                _ => return None,
            };
            if !cursor.eat(b':') {
                return None;
            }
            let value = cursor.plain_str()?;
            if slot.replace(value).is_some() {
                return None;
            }
            if cursor.eat(b'}') {
                break;
            }
            if !cursor.eat(b',') {
                return None;
            }
        }
        cursor.skip_whitespace();
        if cursor.at != line.len() {
            return None; // trailing bytes
        }
        Some(PlainRecord {
            id,
            kind: kind?,
            token,
        })
    }
}

/// A position in a line, for [`PlainRecord::parse`].
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Skips JSON whitespace.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Takes `byte` (after whitespace) if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let next = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(next);
        next
    }

    /// Takes the name `"id"`, `"type"` or `"token"`, written plainly.
    fn member_name(&mut self) -> Option<&'static [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let rest = self.bytes.get(self.at..)?;
        let name = [&b"id"[..], b"type", b"token"]
            .into_iter()
            .find(|name| rest.starts_with(name) && rest.get(name.len()) == Some(&b'"'))?;
        self.at += name.len() + 1;
        Some(name)
    }

    /// Takes a string with no escape sequence and no control character; `None` for anything
    /// else, including strings serde_json would accept.
    fn plain_str(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let rest = self.bytes.get(self.at..)?;
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        let text = rest.get(..len)?;
        // A fold rather than `any`: no early exit, so the compiler vectorizes it.
        let control = text.iter().fold(false, |seen, &b| seen | (b < 0x20));
        if rest.get(len) != Some(&b'"') || control {
            return None;
        }
        self.at += len + 1;
        simdutf8::basic::from_utf8(text).ok()
    }
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
            // SPEC §3: a record starts with `{` at the first byte; anything else is a bare token.
            // A record indented by mistake is still judged as a token, but said plainly.
            let indented = line
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|&b| b == b'{');
            return Record {
                id: None,
                kind: Some(Cow::Borrowed("jwt")),
                evidence: match std::str::from_utf8(line) {
                    Ok(_) if indented => Err(Rejection::MalformedToken {
                        reason:
                            "the line starts with whitespace before `{`; a JSON record must start \
                                 with `{` as its first byte, so the line was read as a bare token"
                                .into(),
                    }),
                    Ok(token) => Ok(Evidence::Jwt(Cow::Borrowed(token))),
                    Err(_) => Err(Rejection::MalformedToken {
                        reason: "the line is not UTF-8".into(),
                    }),
                },
            };
        }
        if let Some(plain) = PlainRecord::parse(line) {
            return Record {
                id: plain.id.filter(|id| !id.is_empty()).map(Cow::Borrowed),
                kind: Some(Cow::Borrowed(plain.kind)),
                evidence: evidence(
                    plain.id,
                    plain.kind,
                    plain.token.map(Cow::Borrowed),
                    None,
                    None,
                    None,
                ),
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
    use proptest::prelude::*;

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
        // Indented: a bare token by SPEC §3 (decode stage), with a message that says why.
        let indented = Record::parse(br#"  {"type":"jwt","token":"a.b.c"}"#);
        assert_eq!(indented.kind.as_deref(), Some("jwt"));
        let rejection = indented.evidence.err().unwrap();
        assert_eq!(rejection.code(), "malformed_token");
        assert!(
            rejection.to_string().contains("must start with `{`"),
            "{rejection}"
        );
        assert_eq!(
            code(r#"{"id":3,"type":"jwt","token":"a"}"#),
            "malformed_record"
        );
    }

    #[test]
    fn plain_envelopes_take_the_short_way() {
        for line in [
            r#"{"id":"node-0","token":"a.b.c","type":"jwt"}"#,
            r#"{ "type" : "join_token" , "token" : "t" }"#,
            r#"{"type":"jwt","id":"nöde"}"#,
        ] {
            assert!(PlainRecord::parse(line.as_bytes()).is_some(), "{line}");
        }
        for line in [
            r#"{"id":"n\u00f6de","token":"a.b.c","type":"jwt"}"#,
            r#"{"id":"n","token":"a.b.c"}"#,
            r#"{"type":"jwt","type":"jwt"}"#,
            r#"{"type":"jwt","token":7}"#,
            r#"{"type":"jwt","other":"x"}"#,
            r#"{"type":"jwt"} x"#,
            "{\"type\":\"jw\u{1}t\"}",
        ] {
            assert!(PlainRecord::parse(line.as_bytes()).is_none(), "{line}");
        }
    }

    /// A member name as it is written in the line.
    fn json_name() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => prop::sample::select(vec!["id", "type", "token"]),
            1 => prop::sample::select(vec!["payload", "x", "typ\\u0065", "", "i\\d", "ids", "tokens"]),
        ]
        .prop_map(|name| format!("\"{name}\""))
    }

    /// A member value as it is written in the line (not always valid JSON).
    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z0-9._é-]{0,10}".prop_map(|text| format!("\"{text}\"")),
            1 => "[ -~é\u{0}-\u{1f}]{0,6}".prop_map(|raw| format!("\"{raw}\"")),
            1 => any::<String>().prop_map(|text| serde_json::to_string(&text).unwrap_or_default()),
            1 => prop::sample::select(vec!["7", "null", "{}", "[\"a\"]", "\"a", "\"\\\""])
                .prop_map(str::to_owned),
        ]
    }

    /// Members: any names, or each of `type` and maybe `id` and `token` once, in any order.
    fn json_members() -> impl Strategy<Value = Vec<(String, String, String)>> {
        let member = (json_name(), whitespace(), json_value());
        let shaped = (
            prop::collection::vec((whitespace(), json_value()), 3),
            any::<(bool, bool)>(),
            0..3usize,
        )
            .prop_map(|(values, (id, token), turn)| {
                let mut names = vec!["type"];
                names.extend(id.then_some("id"));
                names.extend(token.then_some("token"));
                let len = names.len();
                names.rotate_left(turn % len);
                names
                    .into_iter()
                    .zip(values)
                    .map(|(name, (gap, value))| (format!("\"{name}\""), gap, value))
                    .collect()
            });
        prop_oneof![prop::collection::vec(member, 0..5), shaped]
    }

    fn whitespace() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(String::new()),
            1 => "[ \t\r\n]{1,2}",
            1 => "[ x,:}]",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        #[test]
        fn plain_envelopes_read_as_serde_json_reads_them(
            members in json_members(),
            gaps in prop::collection::vec(whitespace(), 2),
        ) {
            let mut line = format!("{{{}", gaps[0]);
            for (i, (name, gap, value)) in members.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&format!("{name}{gap}:{value}"));
            }
            line.push_str(&format!("}}{}", gaps[1]));
            if let Some(plain) = PlainRecord::parse(line.as_bytes()) {
                let typed = serde_json::from_slice::<TypedRecord<'_>>(line.as_bytes());
                prop_assert!(typed.is_ok(), "{line}: the short way read what serde_json refuses");
                let Ok(typed) = typed else { unreachable!() };
                prop_assert_eq!(typed.id.as_deref(), plain.id);
                prop_assert_eq!(typed.kind.as_ref(), plain.kind);
                prop_assert_eq!(typed.token.as_deref(), plain.token);
                prop_assert!(typed.payload.is_none() && typed.challenge.is_none());
                prop_assert!(typed.response.is_none());
            }
        }
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
