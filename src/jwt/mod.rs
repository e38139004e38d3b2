//! JWT node attestation: the attestor SPIRE never shipped (spiffe/spire#5647).
//!
//! Order of checks (SPEC §5), so that nothing from the payload is trusted before the signature:
//! 1. size, structure, the protected header, a signature present, every part canonical
//!    base64url (`decode`);
//! 2. key selection: by `kid` when present (the payload is not even decoded yet); without a `kid`,
//!    the unverified `iss` picks the issuer, which must have exactly one key for `alg`;
//! 3. the signature (`signature`);
//! 4. claims, then selectors and the agent path (`claims`, `policy`).

mod claims;
pub mod jws;

use foldhash::{HashMap, HashMapExt};

use crate::error::{clip, Rejection};
use crate::json::{Json, JsonBuffers};
use crate::keys::{Alg, VerifyKey};
use crate::template::Template;

pub use claims::{separator_in, ClaimRule};

/// Which claims become selectors.
#[derive(Clone, Debug)]
pub enum SelectorClaims {
    /// Every claim but `exp`, `nbf`, `iat`, `jti`.
    All,
    /// Only the listed top-level claims.
    Listed(Vec<Box<str>>),
}

/// Whether each token may attest once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SingleUse {
    /// `jti` required; each `(issuer, jti)` attests once.
    Required,
    /// Tokens may be presented many times.
    Off,
}

/// One configured JWT issuer, compiled.
#[derive(Debug)]
pub struct Issuer {
    /// `name`: `[a-z0-9_-]+`, `.IssuerName` in templates.
    pub name: Box<str>,
    /// `issuer`: the exact `iss`.
    pub issuer: Box<str>,
    /// Accepted audiences.
    pub audiences: Vec<Box<str>>,
    /// Allowed algorithms.
    pub algorithms: Vec<Alg>,
    /// Leeway for `exp`, `nbf`, `iat`, in seconds.
    pub leeway: i64,
    /// Largest `exp - iat`.
    pub max_lifetime: Option<i64>,
    /// Single-use policy.
    pub single_use: SingleUse,
    /// Claims that must be present.
    pub required_claims: Vec<Box<str>>,
    /// Claims that become selectors.
    pub selector_claims: SelectorClaims,
    /// Rules claims must satisfy.
    pub claim_rules: Vec<(Box<str>, ClaimRule)>,
    /// The agent path template.
    pub template: Template,
    /// The issuer's keys.
    pub keys: Vec<VerifyKey>,
}

/// The template fields a JWT issuer provides.
pub const TEMPLATE_ROOTS: &[&str] = &[
    "PluginName",
    "IssuerName",
    "Issuer",
    "Subject",
    "TrustDomain",
    "Claims",
];

/// The default JWT agent path template.
pub const DEFAULT_TEMPLATE: &str = "/{{ .PluginName }}/{{ .IssuerName }}/{{ .Subject }}";

/// All JWT issuers, with their lookup tables.
#[derive(Debug, Default)]
pub struct JwtVerifier {
    issuers: Vec<Issuer>,
    by_kid: HashMap<Box<str>, (usize, usize)>,
    by_iss: HashMap<Box<str>, usize>,
}

/// Per-worker buffers for JWT verification.
#[derive(Default)]
pub struct JwtScratch {
    header: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    /// Where a header or payload is read again when it needs the exact reading
    /// ([`JsonBuffers::parse`]).
    exact: Vec<u8>,
    json: JsonBuffers,
    headers: HeaderMemos,
    /// Claim names and rendered values, built while checking rules and selectors.
    text: String,
    /// The index of the issuer of the last token that got as far as its claims.
    issuer: usize,
}

impl JwtScratch {
    /// The index (in [`JwtVerifier::issuers`]) of the issuer of the last token attested.
    pub fn issuer(&self) -> usize {
        self.issuer
    }
}

/// The last few protected headers that parsed, by their base64url text. Tokens of one key share
/// their header byte for byte, so most records skip its decoding and parsing; what is read is a
/// pure function of the text, so results are the same either way. A few entries, replaced in
/// turn, cover a fleet whose issuers rotate between keys. Headers that fail are not remembered.
#[derive(Default)]
struct HeaderMemos {
    entries: [Option<HeaderMemo>; 4],
    next: usize,
}

struct HeaderMemo {
    encoded: String,
    alg: Alg,
    kid: Option<String>,
}

impl HeaderMemos {
    /// The header's `alg` and `kid`, from memory or decoded and parsed (then remembered).
    fn read(
        &mut self,
        encoded: &str,
        buf: &mut Vec<u8>,
        spare: &mut Vec<u8>,
        json: &mut JsonBuffers,
    ) -> Result<(Alg, Option<&str>), Rejection> {
        let known = |e: &Option<HeaderMemo>| e.as_ref().is_some_and(|m| m.encoded == encoded);
        let at = match self.entries.iter().position(known) {
            Some(at) => at,
            None => {
                let parsed = jws::parse_header(encoded, buf, spare, json)?;
                let at = self.next % self.entries.len();
                self.next = at + 1;
                if let Some(slot) = self.entries.get_mut(at) {
                    *slot = Some(HeaderMemo {
                        encoded: encoded.to_owned(),
                        alg: parsed.alg,
                        kid: parsed.kid.map(str::to_owned),
                    });
                }
                at
            }
        };
        match self.entries.get(at) {
            Some(Some(memo)) => Ok((memo.alg, memo.kid.as_deref())),
            // Not reached: `at` was found or just filled.
            _ => Err(Rejection::BadHeader {
                reason: "the header could not be read".into(),
            }),
        }
    }
}

/// Which configured issuer and key a token was judged with, as far as its checks got: for the
/// run's summary ("which issuer failed"), never for a decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwtSource {
    /// The issuer, by its place in [`JwtVerifier::issuers`].
    pub issuer: Option<usize>,
    /// The key, by its place in that issuer's keys.
    pub key: Option<usize>,
    /// The header's `kid` when no configured JWK Set holds it (clipped), else empty.
    pub unknown_kid: String,
}

impl JwtSource {
    /// Forgets the last token's source, keeping the buffer.
    pub fn clear(&mut self) {
        self.issuer = None;
        self.key = None;
        self.unknown_kid.clear();
    }
}

/// What a verified JWT yields; the caller provides the buffers.
pub struct JwtOutput<'o> {
    /// Receives the selectors.
    pub selectors: &'o mut crate::selectors::SelectorSet,
    /// Receives the agent path (to append to `spiffe://<td>/spire/agent`).
    pub agent_path: &'o mut String,
    /// Receives the single-use key when the issuer is single use.
    pub replay_key: &'o mut String,
    /// Receives the issuer and key the token was judged with, as far as known.
    pub source: &'o mut JwtSource,
}

/// Limits that apply to JWTs.
#[derive(Clone, Copy, Debug)]
pub struct JwtLimits {
    /// Longest compact token, in bytes.
    pub max_token_bytes: usize,
    /// Most selectors one record may produce.
    pub max_selectors: usize,
}

impl JwtVerifier {
    /// Builds the lookup tables, and has each issuer's agent path template render the fields
    /// that are the same for all its tokens once, here. `kid`s must be unique across issuers,
    /// and `issuer` values too.
    pub fn new(mut issuers: Vec<Issuer>) -> Result<JwtVerifier, String> {
        for issuer in &mut issuers {
            let template = issuer
                .template
                .with_constants(|path| claims::constant_field(issuer, path));
            issuer.template = template;
        }
        let mut by_kid = HashMap::new();
        let mut by_iss = HashMap::new();
        for (i, issuer) in issuers.iter().enumerate() {
            if let Some(other) = by_iss.insert(issuer.issuer.clone(), i) {
                return Err(format!(
                    "jwt_issuer {:?} and {:?} have the same issuer {:?}",
                    issuers[other].name, issuer.name, issuer.issuer
                ));
            }
            for (k, key) in issuer.keys.iter().enumerate() {
                if let Some(kid) = key.kid() {
                    if let Some((other, _)) = by_kid.insert(kid.into(), (i, k)) {
                        return Err(format!(
                            "kid {kid:?} is in the keys of both jwt_issuer {:?} and {:?}; \
                             a kid must name one key",
                            issuers[other].name, issuer.name
                        ));
                    }
                }
            }
        }
        Ok(JwtVerifier {
            issuers,
            by_kid,
            by_iss,
        })
    }

    /// The configured issuers.
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// Verifies one compact JWT. On success, fills `out` and returns the issuer and the replay
    /// key's expiry (when single use).
    pub fn verify(
        &self,
        token: &str,
        now: i64,
        trust_domain: &str,
        limits: JwtLimits,
        scratch: &mut JwtScratch,
        out: JwtOutput<'_>,
    ) -> Result<Option<i64>, Rejection> {
        check_size(token, limits)?;
        let compact = jws::split(token)?;
        let JwtScratch {
            header,
            payload,
            signature,
            exact,
            json,
            headers,
            text,
            issuer: issuer_index,
        } = scratch;
        let (alg, kid) = headers.read(compact.header, header, exact, json)?;
        if let Some(kid) = kid {
            match self.by_kid.get(kid) {
                Some(&(i, k)) => (out.source.issuer, out.source.key) = (Some(i), Some(k)),
                None => out.source.unknown_kid.push_str(&clip(kid)),
            }
        }
        check_parts(&compact)?;

        // Key selection. With a kid the payload stays undecoded until the signature verifies.
        let (issuer, tape) = match kid {
            Some(kid) => {
                let (i, k) = self.key_for_kid(kid, alg)?;
                let issuer = &self.issuers[i];
                let key = &issuer.keys[k];
                verify_signature(issuer, key, alg, &compact, signature)?;
                *issuer_index = i;
                (
                    issuer,
                    parse_verified_payload(compact.payload, payload, exact, json)?,
                )
            }
            None => {
                let tape = json
                    .parse(fill_payload(compact.payload), payload, exact)
                    .map_err(|err| Rejection::MalformedToken {
                        reason: format!(
                            "{} (read for iss: the token has no kid)",
                            err.describe("payload")
                        ),
                    })?;
                let iss = Json::root(&tape).get("iss").and_then(|v| v.as_str());
                let iss = iss.ok_or_else(|| Rejection::UnknownIssuer {
                    reason: "the token has neither kid nor a string iss".into(),
                })?;
                let &i = self
                    .by_iss
                    .get(iss)
                    .ok_or_else(|| Rejection::UnknownIssuer {
                        reason: format!("iss {:?} is not a configured issuer", clip(iss)),
                    })?;
                let issuer = &self.issuers[i];
                out.source.issuer = Some(i);
                if !issuer.algorithms.contains(&alg) {
                    return Err(not_allowed_for_issuer(issuer, alg));
                }
                let mut candidates = issuer
                    .keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.alg() == alg);
                let key = match (candidates.next(), candidates.next()) {
                    (Some((k, key)), None) => {
                        out.source.key = Some(k);
                        key
                    }
                    (None, _) => {
                        return Err(Rejection::UnknownKey {
                            reason: format!("issuer {:?} has no {alg} key", issuer.name),
                        })
                    }
                    (Some(_), Some(_)) => {
                        return Err(Rejection::UnknownKey {
                            reason: format!(
                                "issuer {:?} has several {alg} keys; the token needs a kid",
                                issuer.name
                            ),
                        })
                    }
                };
                verify_signature(issuer, key, alg, &compact, signature)?;
                *issuer_index = i;
                (issuer, tape)
            }
        };
        let checked = claims::check(
            issuer,
            &tape,
            now,
            trust_domain,
            limits.max_selectors,
            text,
            out,
        );
        json.recycle(tape);
        checked
    }

    /// The first half of [`JwtVerifier::verify`] for a token with a `kid`: the checks before
    /// the signature (size, structure, header, key, algorithm), and its signature decoded onto
    /// the end of `signatures`. A batch stages several tokens, checks their signatures one after
    /// another ([`JwtVerifier::check_signature`]), then finishes each
    /// ([`JwtVerifier::finish_staged`]): the same checks in the same order as `verify`, with
    /// the signature math kept together. `None` when a check fails or the token has no `kid`:
    /// `verify` then judges the token whole, and says why.
    pub fn stage(
        &self,
        token: &str,
        limits: JwtLimits,
        scratch: &mut JwtScratch,
        signatures: &mut Vec<u8>,
    ) -> Option<StagedJwt> {
        check_size(token, limits).ok()?;
        let compact = jws::split(token).ok()?;
        let (alg, kid) = scratch
            .headers
            .read(
                compact.header,
                &mut scratch.header,
                &mut scratch.exact,
                &mut scratch.json,
            )
            .ok()?;
        check_parts(&compact).ok()?;
        let (issuer, key) = self.key_for_kid(kid?, alg).ok()?;
        let start = signatures.len();
        jws::append_b64url(compact.signature, "signature", signatures).ok()?;
        let payload_start = compact.header.len() + 1;
        Some(StagedJwt {
            issuer,
            key,
            alg,
            payload: payload_start..payload_start + compact.payload.len(),
            signature: start..signatures.len(),
        })
    }

    /// Checks the signature of a token staged by [`JwtVerifier::stage`] (the same `token` and
    /// `signatures`).
    pub fn check_signature(&self, staged: &StagedJwt, token: &str, signatures: &[u8]) -> bool {
        let (Some(signing_input), Some(signature)) = (
            token.as_bytes().get(..staged.payload.end),
            signatures.get(staged.signature.clone()),
        ) else {
            return false;
        };
        self.issuers[staged.issuer].keys[staged.key].verify(signing_input, signature)
    }

    /// The second half of [`JwtVerifier::verify`] for a staged token whose signature check gave
    /// `signature_ok`: the claims, then selectors and the agent path.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_staged(
        &self,
        staged: &StagedJwt,
        signature_ok: bool,
        token: &str,
        now: i64,
        trust_domain: &str,
        limits: JwtLimits,
        scratch: &mut JwtScratch,
        out: JwtOutput<'_>,
    ) -> Result<Option<i64>, Rejection> {
        let issuer = &self.issuers[staged.issuer];
        (out.source.issuer, out.source.key) = (Some(staged.issuer), Some(staged.key));
        if !signature_ok {
            return Err(bad_signature(issuer, &issuer.keys[staged.key], staged.alg));
        }
        scratch.issuer = staged.issuer;
        let payload = token.get(staged.payload.clone()).unwrap_or_default();
        let tape = parse_verified_payload(
            payload,
            &mut scratch.payload,
            &mut scratch.exact,
            &mut scratch.json,
        )?;
        let checked = claims::check(
            issuer,
            &tape,
            now,
            trust_domain,
            limits.max_selectors,
            &mut scratch.text,
            out,
        );
        scratch.json.recycle(tape);
        checked
    }

    /// The issuer and key a `kid` names, for a token signed with `alg`.
    fn key_for_kid(&self, kid: &str, alg: Alg) -> Result<(usize, usize), Rejection> {
        let &(i, k) = self.by_kid.get(kid).ok_or_else(|| Rejection::UnknownKey {
            reason: format!("kid {:?} is not in any configured JWK Set", clip(kid)),
        })?;
        check_alg(&self.issuers[i], &self.issuers[i].keys[k], alg)?;
        Ok((i, k))
    }
}

/// A token between [`JwtVerifier::stage`] and [`JwtVerifier::finish_staged`].
#[derive(Clone, Debug)]
pub struct StagedJwt {
    issuer: usize,
    key: usize,
    alg: Alg,
    /// Where the base64url payload is in the token; the signature covers the token up to its
    /// end.
    payload: std::ops::Range<usize>,
    /// Where the decoded signature is in the batch's signature buffer.
    signature: std::ops::Range<usize>,
}

/// The checks on the other parts that come before any key is looked up: a signature is
/// present, and the payload is canonical base64url (its decoding waits for the signature when
/// a `kid` picks the key).
fn check_parts(compact: &jws::Compact<'_>) -> Result<(), Rejection> {
    jws::check_signature_present(compact)?;
    jws::check_b64url(compact.payload, "payload")
}

fn check_size(token: &str, limits: JwtLimits) -> Result<(), Rejection> {
    if token.len() > limits.max_token_bytes {
        return Err(Rejection::TokenTooLarge {
            len: token.len(),
            max: limits.max_token_bytes,
        });
    }
    Ok(())
}

/// Writes the decoded payload into a buffer, for [`JsonBuffers::parse`]. The payload's
/// encoding is checked before ([`check_parts`]); were it not canonical, the buffer would stay
/// empty, which is not JSON.
fn fill_payload(encoded: &str) -> impl Fn(&mut Vec<u8>) + '_ {
    move |out| {
        let _ = jws::decode_b64url(encoded, "payload", out);
    }
}

/// Decodes and parses the payload of a token whose signature verified.
fn parse_verified_payload<'p>(
    encoded: &str,
    payload: &'p mut Vec<u8>,
    exact: &'p mut Vec<u8>,
    json: &mut JsonBuffers,
) -> Result<simd_json::Tape<'p>, Rejection> {
    json.parse(fill_payload(encoded), payload, exact)
        .map_err(|err| Rejection::InvalidClaims {
            reason: err.describe("payload"),
        })
}

/// Decodes the signature into `buf` and checks it over the signing input.
fn verify_signature(
    issuer: &Issuer,
    key: &VerifyKey,
    alg: Alg,
    compact: &jws::Compact<'_>,
    buf: &mut Vec<u8>,
) -> Result<(), Rejection> {
    jws::decode_b64url(compact.signature, "signature", buf)?;
    if key.verify(compact.signing_input, buf) {
        return Ok(());
    }
    Err(bad_signature(issuer, key, alg))
}

fn bad_signature(issuer: &Issuer, key: &VerifyKey, alg: Alg) -> Rejection {
    Rejection::BadSignature {
        alg: alg.name(),
        key: match key.kid() {
            Some(kid) => format!("key {kid:?} of issuer {:?}", issuer.name),
            None => format!("the {alg} key of issuer {:?}", issuer.name),
        },
    }
}

fn check_alg(issuer: &Issuer, key: &VerifyKey, alg: Alg) -> Result<(), Rejection> {
    if !issuer.algorithms.contains(&alg) {
        return Err(not_allowed_for_issuer(issuer, alg));
    }
    if key.alg() != alg {
        return Err(Rejection::AlgNotAllowed {
            alg: alg.name().into(),
            reason: format!(
                "key {:?} is bound to {}",
                key.kid().unwrap_or_default(),
                key.alg()
            ),
        });
    }
    Ok(())
}

fn not_allowed_for_issuer(issuer: &Issuer, alg: Alg) -> Rejection {
    Rejection::AlgNotAllowed {
        alg: alg.name().into(),
        reason: format!(
            "issuer {:?} allows {}",
            issuer.name,
            issuer
                .algorithms
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_headers_read_as_parsed_ones() {
        let mut memo = HeaderMemos::default();
        let (mut buf, mut spare, mut json) = (Vec::new(), Vec::new(), JsonBuffers::default());
        let mut read = |encoded: &str| {
            memo.read(encoded, &mut buf, &mut spare, &mut json)
                .map(|(alg, kid)| (alg, kid.map(str::to_owned)))
                .map_err(|err| err.code())
        };
        let es256_k1 = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0"; // {"alg":"ES256","kid":"k1"}
        let eddsa = "eyJhbGciOiJFZERTQSJ9"; // {"alg":"EdDSA"}
        let dup_kid = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwia2lkIjoiazIifQ";
        let es256_k2 = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsyIn0";
        let k1 = Ok((Alg::ES256, Some("k1".to_owned())));
        assert_eq!(read(es256_k1), k1);
        assert_eq!(read(es256_k1), k1, "from memory");
        assert_eq!(read(eddsa), Ok((Alg::EdDSA, None)));
        assert_eq!(read(es256_k2), Ok((Alg::ES256, Some("k2".to_owned()))));
        assert_eq!(read(dup_kid), Err("malformed_token"));
        assert_eq!(
            read(dup_kid),
            Err("malformed_token"),
            "failures are not remembered"
        );
        assert_eq!(read(es256_k1), k1);
        assert_eq!(read("e30"), Err("bad_header"), "{{}} has no alg");
        // More headers than entries: each still reads as itself.
        for _ in 0..3 {
            for (encoded, want) in [(es256_k1, k1.clone()), (eddsa, Ok((Alg::EdDSA, None)))] {
                assert_eq!(read(encoded), want);
            }
            assert_eq!(read(dup_kid), Err("malformed_token"));
            assert_eq!(read(es256_k2), Ok((Alg::ES256, Some("k2".to_owned()))));
            assert_eq!(read("e30"), Err("bad_header"));
        }
    }
}
