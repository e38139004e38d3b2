//! Compact JWS structure (RFC 7515 §7.1): splitting, canonical base64url, the protected header.

use base64::Engine as _;

use crate::error::{clip, Rejection};
use crate::json::{first_duplicate_key, Json, JsonBuffers, Kind};
use crate::keys::Alg;

/// The three parts of a compact JWS, still encoded.
pub struct Compact<'t> {
    /// The base64url header.
    pub header: &'t str,
    /// The base64url payload.
    pub payload: &'t str,
    /// The base64url signature.
    pub signature: &'t str,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'t [u8],
}

/// Splits a compact JWS into its three parts.
pub fn split(token: &str) -> Result<Compact<'_>, Rejection> {
    let malformed = |reason: &str| Rejection::MalformedToken {
        reason: reason.into(),
    };
    if token.is_empty() {
        return Err(malformed("the token is empty"));
    }
    let first = token
        .find('.')
        .ok_or_else(|| malformed("no \".\" separators"))?;
    let rest = &token[first + 1..];
    let second = rest
        .find('.')
        .ok_or_else(|| malformed("2 parts; a compact JWS has 3 (header.payload.signature)"))?;
    let signature = &rest[second + 1..];
    if signature.contains('.') {
        return Err(malformed(
            "more than 3 parts; a compact JWS has 3 (JWE and JSON serializations are not accepted)",
        ));
    }
    let header = &token[..first];
    if header.is_empty() {
        return Err(malformed("the header is empty"));
    }
    if signature.is_empty() {
        return Err(malformed("the signature is empty"));
    }
    Ok(Compact {
        header,
        payload: &rest[..second],
        signature,
        signing_input: &token.as_bytes()[..first + 1 + second],
    })
}

/// Decodes canonical base64url (no padding, no whitespace, zero unused bits) into `out`.
pub fn decode_b64url(part: &str, what: &str, out: &mut Vec<u8>) -> Result<(), Rejection> {
    out.clear();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode_vec(part, out)
        .map_err(|err| Rejection::MalformedToken {
            reason: format!("the {what} is not canonical base64url: {err}"),
        })
}

/// What the protected header says, with the `kid` still borrowed from the header buffer.
pub struct Header<'h> {
    /// The algorithm.
    pub alg: Alg,
    /// The key ID, if any.
    pub kid: Option<&'h str>,
}

/// Parses the decoded protected header (modified in place) and applies the header rules of
/// SPEC §5. `jku`, `x5u`, `jwk` and `x5c` are ignored: keys come only from configuration.
pub fn parse_header<'h>(
    bytes: &'h mut [u8],
    json: &mut JsonBuffers,
) -> Result<Header<'h>, Rejection> {
    let malformed = |reason: String| Rejection::MalformedToken { reason };
    let tape = json
        .parse(bytes)
        .map_err(|err| malformed(format!("the header is not JSON: {err}")))?;
    let root = Json::root(&tape);
    if root.kind() != Kind::Object {
        return Err(malformed("the header is not a JSON object".into()));
    }
    if let Some(key) = first_duplicate_key(&tape) {
        return Err(malformed(format!(
            "the header has member {:?} twice",
            clip(key)
        )));
    }
    let mut alg = None;
    let mut kid = None;
    for (name, value) in root.members() {
        match name {
            "crit" | "b64" => {
                return Err(Rejection::BadHeader {
                    reason: format!("{name:?} is not supported"),
                })
            }
            "alg" => {
                alg = Some(value.as_str().ok_or_else(|| Rejection::BadHeader {
                    reason: "alg is not a string".into(),
                })?)
            }
            "kid" => {
                kid = Some(value.as_str().ok_or_else(|| Rejection::BadHeader {
                    reason: "kid is not a string".into(),
                })?)
            }
            _ => {}
        }
    }
    let alg = alg.ok_or_else(|| Rejection::BadHeader {
        reason: "alg is missing".into(),
    })?;
    let alg = Alg::parse(alg).ok_or_else(|| Rejection::UnsupportedAlg { alg: clip(alg) })?;
    Ok(Header { alg, kid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_parts_only() {
        let c = split("aGk.cGF5.c2ln").unwrap();
        assert_eq!((c.header, c.payload, c.signature), ("aGk", "cGF5", "c2ln"));
        assert_eq!(c.signing_input, b"aGk.cGF5");
        assert!(split("aGk.c2ln").is_err());
        assert!(split("a.b.c.d.e").is_err());
        assert!(split("a.b.").is_err());
        assert!(split(".b.c").is_err());
        assert!(split("a..c").is_ok(), "an empty payload is well-formed");
    }

    #[test]
    fn base64url_must_be_canonical() {
        let mut out = Vec::new();
        decode_b64url("Zm9v", "payload", &mut out).unwrap();
        assert_eq!(out, b"foo");
        for bad in ["Zm9v=", "Zm9", "Zm9 v", "Zm9v\n", "Zm+v", "Zh"] {
            assert!(decode_b64url(bad, "payload", &mut out).is_err(), "{bad:?}");
        }
    }

    fn header(text: &str) -> Result<(Alg, Option<String>), Rejection> {
        let mut bytes = text.as_bytes().to_vec();
        let mut json = JsonBuffers::default();
        parse_header(&mut bytes, &mut json).map(|h| (h.alg, h.kid.map(String::from)))
    }

    #[test]
    fn header_rules() {
        assert_eq!(
            header(r#"{"alg":"ES256","kid":"k1","jku":"https://x"}"#).unwrap(),
            (Alg::ES256, Some("k1".into()))
        );
        let code = |text: &str| header(text).unwrap_err().code();
        assert_eq!(code(r#"{"alg":"none"}"#), "unsupported_alg");
        assert_eq!(code(r#"{"alg":"es256"}"#), "unsupported_alg");
        assert_eq!(code(r#"{"alg":"ES256","crit":[]}"#), "bad_header");
        assert_eq!(code(r#"{"alg":"ES256","b64":true}"#), "bad_header");
        assert_eq!(code(r#"{"alg":"ES256","kid":7}"#), "bad_header");
        assert_eq!(code(r#"{"alg":"ES256","alg":"ES256"}"#), "malformed_token");
        assert_eq!(code(r#"["ES256"]"#), "malformed_token");
        assert_eq!(code("{"), "malformed_token");
    }
}
