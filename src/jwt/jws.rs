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
    let bytes = token.as_bytes();
    let first = memchr::memchr(b'.', bytes).ok_or_else(|| malformed("no \".\" separators"))?;
    let rest = &token[first + 1..];
    let second = memchr::memchr(b'.', rest.as_bytes())
        .ok_or_else(|| malformed("2 parts; a compact JWS has 3 (header.payload.signature)"))?;
    let signature = &rest[second + 1..];
    if memchr::memchr(b'.', signature.as_bytes()).is_some() {
        return Err(malformed(
            "more than 3 parts; a compact JWS has 3 (JWE and JSON serializations are not accepted)",
        ));
    }
    let header = &token[..first];
    if header.is_empty() {
        return Err(malformed("the header is empty"));
    }
    // An empty signature is refused once the header is read (`check_signature_present`), so
    // that `alg: none`, whose tokens have one, is named first.
    Ok(Compact {
        header,
        payload: &rest[..second],
        signature,
        signing_input: &token.as_bytes()[..first + 1 + second],
    })
}

/// Refuses an empty signature part; called after the header, so that `alg: none` (whose tokens
/// carry an empty signature) is `decode/unsupported_alg`, as SPEC §5 names it before anything
/// about the signature.
pub fn check_signature_present(compact: &Compact<'_>) -> Result<(), Rejection> {
    if compact.signature.is_empty() {
        return Err(Rejection::MalformedToken {
            reason: "the signature is empty".into(),
        });
    }
    Ok(())
}

/// Checks that `part` is canonical base64url (as [`decode_b64url`] would accept it) without
/// decoding it: the payload's encoding is checked before the signature, its decoding waits
/// until the signature verifies.
pub fn check_b64url(part: &str, what: &str) -> Result<(), Rejection> {
    if base64_simd::URL_SAFE_NO_PAD.check(part.as_bytes()).is_ok() {
        return Ok(());
    }
    decode_b64url(part, what, &mut Vec::new())
}

/// Decodes canonical base64url (no padding, no whitespace, zero unused bits) into `out`.
///
/// base64-simd decodes (strict unless asked to be forgiving: unused bits must be zero); on
/// failure the `base64` crate, equally strict, is asked again only to say what is wrong.
pub fn decode_b64url(part: &str, what: &str, out: &mut Vec<u8>) -> Result<(), Rejection> {
    out.clear();
    append_b64url(part, what, out)
}

/// [`decode_b64url`], appending to `out` (left as it was on failure).
pub fn append_b64url(part: &str, what: &str, out: &mut Vec<u8>) -> Result<(), Rejection> {
    use base64_simd::{AsOut as _, URL_SAFE_NO_PAD};
    let start = out.len();
    out.resize(
        start + URL_SAFE_NO_PAD.estimated_decoded_length(part.len()),
        0,
    );
    let decoded = out.get_mut(start..).map(|free| {
        URL_SAFE_NO_PAD
            .decode(part.as_bytes(), free.as_out())
            .map(|d| d.len())
    });
    match decoded {
        Some(Ok(len)) => {
            out.truncate(start + len);
            Ok(())
        }
        _ => {
            out.truncate(start);
            let why = match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part) {
                Err(err) => err.to_string(),
                Ok(_) => "invalid".to_owned(),
            };
            Err(Rejection::MalformedToken {
                reason: format!("the {what} is not canonical base64url: {why}"),
            })
        }
    }
}

/// What the protected header says, with the `kid` still borrowed from the header buffer.
pub struct Header<'h> {
    /// The algorithm.
    pub alg: Alg,
    /// The key ID, if any.
    pub kid: Option<&'h str>,
}

/// Decodes and parses the protected header (base64url `encoded`, into `buf`, or `spare` when
/// it needs the exact reading) and applies the header rules of SPEC §5. `jku`, `x5u`, `jwk`
/// and `x5c` are ignored: keys come only from configuration.
pub fn parse_header<'h>(
    encoded: &str,
    buf: &'h mut Vec<u8>,
    spare: &'h mut Vec<u8>,
    json: &mut JsonBuffers,
) -> Result<Header<'h>, Rejection> {
    let malformed = |reason: String| Rejection::MalformedToken { reason };
    check_b64url(encoded, "header")?;
    let fill = |out: &mut Vec<u8>| {
        // Checked just above; an impossible failure leaves `out` empty, which is not JSON.
        let _ = decode_b64url(encoded, "header", out);
    };
    let tape = json
        .parse(fill, buf, spare)
        .map_err(|err| malformed(err.describe("header")))?;
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
    let members = read_header_members(root, &mut alg, &mut kid);
    json.recycle(tape);
    members?;
    let alg = alg.ok_or_else(|| Rejection::BadHeader {
        reason: "alg is missing".into(),
    })?;
    let alg = Alg::parse(alg).ok_or_else(|| Rejection::UnsupportedAlg { alg: clip(alg) })?;
    Ok(Header { alg, kid })
}

/// Reads `alg` and `kid`, refusing `crit` and `b64`.
fn read_header_members<'h>(
    root: Json<'_, 'h>,
    alg: &mut Option<&'h str>,
    kid: &mut Option<&'h str>,
) -> Result<(), Rejection> {
    for (name, value) in root.members() {
        match name {
            "crit" | "b64" => {
                return Err(Rejection::BadHeader {
                    reason: format!("{name:?} is not supported"),
                })
            }
            "alg" => {
                *alg = Some(value.as_str().ok_or_else(|| Rejection::BadHeader {
                    reason: "alg is not a string".into(),
                })?)
            }
            "kid" => {
                *kid = Some(value.as_str().ok_or_else(|| Rejection::BadHeader {
                    reason: "kid is not a string".into(),
                })?)
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn splits_three_parts_only() {
        let c = split("aGk.cGF5.c2ln").unwrap();
        assert_eq!((c.header, c.payload, c.signature), ("aGk", "cGF5", "c2ln"));
        assert_eq!(c.signing_input, b"aGk.cGF5");
        assert!(split("aGk.c2ln").is_err());
        assert!(split("a.b.c.d.e").is_err());
        assert!(
            split("a.b.").is_ok(),
            "an empty signature is refused after the header is read"
        );
        assert!(split(".b.c").is_err());
        assert!(split("a..c").is_ok(), "an empty payload is well-formed");
    }

    #[test]
    fn base64url_must_be_canonical() {
        let mut out = Vec::new();
        decode_b64url("Zm9v", "payload", &mut out).unwrap();
        assert_eq!(out, b"foo");
        for bad in [
            "Zm9v=", "Zm9v==", "Zm9 v", "Zm9v\n", "Zm+v", "Zh", "Zm9vYh", "Zm9vYmF", "Zm9vY",
        ] {
            assert!(decode_b64url(bad, "payload", &mut out).is_err(), "{bad:?}");
            assert!(check_b64url(bad, "payload").is_err(), "{bad:?}");
        }
        for good in ["", "Zm9v", "Zm9vYg", "Zm9vYmE"] {
            check_b64url(good, "payload").unwrap();
        }
        decode_b64url("Zm9vYg", "payload", &mut out).unwrap();
        assert_eq!(out, b"foob");
        // Long enough for the SIMD path: one bad byte anywhere is refused, with its offset.
        use base64::Engine as _;
        let long = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xa5u8; 300]);
        decode_b64url(&long, "payload", &mut out).unwrap();
        assert_eq!(out, [0xa5u8; 300]);
        for (at, byte) in [(0, '+'), (77, '/'), (150, '='), (399, '.'), (200, ' ')] {
            let mut bad = long.clone().into_bytes();
            bad[at] = byte as u8;
            let bad = String::from_utf8(bad).unwrap();
            assert!(check_b64url(&bad, "payload").is_err(), "{at}");
            let err = decode_b64url(&bad, "payload", &mut out).unwrap_err();
            assert!(
                err.message().contains(&format!("offset {at}")),
                "{}",
                err.message()
            );
        }
    }

    fn header(text: &str) -> Result<(Alg, Option<String>), Rejection> {
        let encoded = URL_SAFE_NO_PAD.encode(text);
        let (mut buf, mut spare) = (Vec::new(), Vec::new());
        let mut json = JsonBuffers::default();
        parse_header(&encoded, &mut buf, &mut spare, &mut json)
            .map(|h| (h.alg, h.kid.map(String::from)))
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
        // Unpaired surrogates, named; numbers of any size read.
        let err = header(r#"{"alg":"ES256","kid":"k\ud800"}"#).unwrap_err();
        assert_eq!(err.code(), "malformed_token");
        assert!(
            err.message().contains(r#"the header's member "kid""#),
            "{}",
            err.message()
        );
        assert_eq!(
            header(r#"{"alg":"ES256","x":[123456789012345678901234567890,1e-7,1e4294967297]}"#)
                .unwrap_err()
                .message(),
            "token is not a compact JWS: the header's member \"x[2]\" is the number \
             1e4294967297, beyond the range of a 64-bit float (about ±1.8e308)"
        );
        assert!(header(r#"{"alg":"ES256","x":123456789012345678901234567890}"#).is_ok());
    }
}
