//! Rejections: the one flat enum every verification stage reports through.
//!
//! Each variant carries typed context so tests can assert exact rejections, and maps to the
//! stable `stage` and `code` names of SPEC §5. The human message is rendered in one place
//! ([`Rejection::message`]). Context that comes from untrusted input is clipped with [`clip`]
//! so that a hostile record cannot make its own result line arbitrarily large.

use std::fmt;

use crate::replay::ConsumedBy;
use crate::time::fmt_numeric_date;

pub use crate::text::clip;

/// The stage of verification a rejection comes from (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The record envelope.
    Input,
    /// JWS structure, header and key selection.
    Decode,
    /// The JWS signature.
    Signature,
    /// JWT claims.
    Claims,
    /// x509pop certificate chain.
    Chain,
    /// x509pop proof of possession.
    Pop,
    /// Join tokens.
    JoinToken,
    /// Single use.
    Replay,
    /// Agent ID and selector policy.
    Policy,
}

impl Stage {
    /// The stable name written in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Decode => "decode",
            Stage::Signature => "signature",
            Stage::Claims => "claims",
            Stage::Chain => "chain",
            Stage::Pop => "pop",
            Stage::JoinToken => "join_token",
            Stage::Replay => "replay",
            Stage::Policy => "policy",
        }
    }
}

/// Why a record was not attested. One variant per SPEC §5 code (some codes have several
/// variants where the context differs).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Rejection {
    /// The line is not a readable record.
    MalformedRecord {
        /// What is wrong with it.
        reason: String,
    },
    /// The record's `type` is not one this configuration verifies.
    UnknownType {
        /// The type given (clipped).
        kind: String,
        /// The types the configuration verifies, for the message.
        enabled: String,
    },
    /// The line is longer than `limits.max_record_bytes`.
    RecordTooLarge {
        /// The limit.
        max: usize,
    },
    /// The token is not a well-formed compact JWS.
    MalformedToken {
        /// What is wrong with it.
        reason: String,
    },
    /// The token is longer than `limits.max_token_bytes`.
    TokenTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header's `alg` is `none` or not a JWS algorithm this engine implements.
    UnsupportedAlg {
        /// The `alg` given (clipped).
        alg: String,
    },
    /// The `alg` is not allowed for the issuer, or differs from the selected key's algorithm.
    AlgNotAllowed {
        /// The `alg` given.
        alg: String,
        /// Why it is refused.
        reason: String,
    },
    /// A header parameter this engine refuses (`crit`, `b64`) or one of the wrong type.
    BadHeader {
        /// What is wrong.
        reason: String,
    },
    /// No configured issuer matches the token.
    UnknownIssuer {
        /// What was looked for.
        reason: String,
    },
    /// No configured key matches the token.
    UnknownKey {
        /// What was looked for.
        reason: String,
    },
    /// The signature does not verify under the selected key.
    BadSignature {
        /// The algorithm used.
        alg: &'static str,
        /// The key it was checked against.
        key: String,
    },
    /// The claims are not a JSON object of the expected shape.
    InvalidClaims {
        /// What is wrong.
        reason: String,
    },
    /// A required claim is absent.
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// `exp` is in the past (with leeway).
    Expired {
        /// The token's `exp`.
        exp: f64,
        /// The evaluation time.
        now: i64,
        /// The leeway in seconds.
        leeway: i64,
    },
    /// `nbf` is in the future (with leeway).
    NotYetValid {
        /// The token's `nbf`.
        nbf: f64,
        /// The evaluation time.
        now: i64,
        /// The leeway in seconds.
        leeway: i64,
    },
    /// `iat` is in the future (with leeway).
    IssuedInFuture {
        /// The token's `iat`.
        iat: f64,
        /// The evaluation time.
        now: i64,
        /// The leeway in seconds.
        leeway: i64,
    },
    /// `exp - iat` exceeds `max_lifetime_seconds`.
    LifetimeTooLong {
        /// `exp - iat`.
        lifetime: f64,
        /// The limit.
        max: i64,
    },
    /// `iss` differs from the issuer selected by `kid`.
    WrongIssuer {
        /// The `iss` given (clipped).
        got: String,
        /// The issuer expected.
        want: String,
    },
    /// No `aud` value is among the issuer's audiences.
    AudienceMismatch {
        /// The audiences given (clipped).
        got: String,
        /// The audiences accepted.
        want: String,
    },
    /// A claim fails its `claim_rules` entry.
    ClaimRuleFailed {
        /// The claim's name.
        claim: String,
        /// What the rule requires, and what was found.
        reason: String,
    },
    /// An x509pop certificate could not be parsed.
    MalformedCertificate {
        /// What is wrong.
        reason: String,
    },
    /// More intermediates than `max_intermediates`.
    TooManyIntermediates {
        /// Intermediates given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An RSA key larger than `max_rsa_key_size`.
    KeyTooLarge {
        /// Which certificate.
        which: String,
        /// Its size in bits.
        bits: usize,
        /// The limit.
        max: usize,
    },
    /// The chain does not lead to a trusted root at the evaluation time.
    UntrustedChain {
        /// Why path validation failed.
        reason: String,
    },
    /// SPIFFE mode: the leaf has no `spiffe://` URI SAN.
    NotAnSvid,
    /// SPIFFE mode: the leaf's SPIFFE ID path is not under `spiffe_prefix`.
    SvidPrefixMismatch {
        /// The leaf's escaped SPIFFE ID path.
        path: String,
        /// The prefix required.
        prefix: String,
    },
    /// The leaf lacks the digitalSignature key usage.
    BadKeyUsage {
        /// What is wrong.
        reason: String,
    },
    /// The challenge or response is malformed.
    MalformedChallenge {
        /// What is wrong.
        reason: String,
    },
    /// The proof of possession does not verify.
    BadProof {
        /// What is wrong.
        reason: String,
    },
    /// A join token not in `tokens_path`.
    UnknownToken,
    /// A join token that cannot be a SPIFFE ID path segment (SPIRE fails to make its agent ID).
    InvalidToken {
        /// Why.
        reason: String,
    },
    /// A join token past its expiry.
    TokenExpired {
        /// Its expiry.
        expires_at: i64,
        /// The evaluation time.
        now: i64,
    },
    /// The single-use key was consumed by an earlier record.
    Replayed {
        /// What the key is, for the message.
        what: String,
        /// Who consumed it.
        by: ConsumedBy,
    },
    /// The single-use check could not complete (the shared store was lost): never attested.
    StoreUnavailable {
        /// What the key is, for the message.
        what: String,
        /// The store's address.
        store: String,
    },
    /// The agent path template failed to render a valid SPIFFE path.
    TemplateError {
        /// What is wrong.
        reason: String,
    },
    /// A selector SPIRE could not store (not UTF-8).
    InvalidSelector {
        /// Which selector, and why.
        reason: String,
    },
    /// More selectors than `limits.max_selectors`.
    TooManySelectors {
        /// How many the record produced.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The agent ID was produced earlier in the run by another attestor
    /// (`--strict-namespaces`).
    AgentIdCollision {
        /// The attestor of this record.
        attestor: String,
        /// The attestor that produced the ID first.
        first: String,
        /// The line that produced it first.
        first_line: u64,
    },
}

impl Rejection {
    /// The stage name (SPEC §5).
    pub fn stage(&self) -> Stage {
        use Rejection::*;
        match self {
            MalformedRecord { .. } | UnknownType { .. } | RecordTooLarge { .. } => Stage::Input,
            MalformedToken { .. }
            | TokenTooLarge { .. }
            | UnsupportedAlg { .. }
            | AlgNotAllowed { .. }
            | BadHeader { .. }
            | UnknownIssuer { .. }
            | UnknownKey { .. } => Stage::Decode,
            BadSignature { .. } => Stage::Signature,
            InvalidClaims { .. }
            | MissingClaim { .. }
            | Expired { .. }
            | NotYetValid { .. }
            | IssuedInFuture { .. }
            | LifetimeTooLong { .. }
            | WrongIssuer { .. }
            | AudienceMismatch { .. }
            | ClaimRuleFailed { .. } => Stage::Claims,
            MalformedCertificate { .. }
            | TooManyIntermediates { .. }
            | KeyTooLarge { .. }
            | UntrustedChain { .. }
            | NotAnSvid
            | SvidPrefixMismatch { .. }
            | BadKeyUsage { .. } => Stage::Chain,
            MalformedChallenge { .. } | BadProof { .. } => Stage::Pop,
            UnknownToken | InvalidToken { .. } | TokenExpired { .. } => Stage::JoinToken,
            Replayed { .. } | StoreUnavailable { .. } => Stage::Replay,
            TemplateError { .. }
            | InvalidSelector { .. }
            | TooManySelectors { .. }
            | AgentIdCollision { .. } => Stage::Policy,
        }
    }

    /// The code name (SPEC §5).
    pub fn code(&self) -> &'static str {
        use Rejection::*;
        match self {
            MalformedRecord { .. } => "malformed_record",
            UnknownType { .. } => "unknown_type",
            RecordTooLarge { .. } | TokenTooLarge { .. } => "too_large",
            MalformedToken { .. } => "malformed_token",
            UnsupportedAlg { .. } => "unsupported_alg",
            AlgNotAllowed { .. } => "alg_not_allowed",
            BadHeader { .. } => "bad_header",
            UnknownIssuer { .. } => "unknown_issuer",
            UnknownKey { .. } => "unknown_key",
            BadSignature { .. } => "bad_signature",
            InvalidClaims { .. } => "invalid_claims",
            MissingClaim { .. } => "missing_claim",
            Expired { .. } => "expired",
            NotYetValid { .. } => "not_yet_valid",
            IssuedInFuture { .. } => "issued_in_future",
            LifetimeTooLong { .. } => "lifetime_too_long",
            WrongIssuer { .. } => "wrong_issuer",
            AudienceMismatch { .. } => "audience_mismatch",
            ClaimRuleFailed { .. } => "claim_rule_failed",
            MalformedCertificate { .. } => "malformed_certificate",
            TooManyIntermediates { .. } => "too_many_intermediates",
            KeyTooLarge { .. } => "key_too_large",
            UntrustedChain { .. } => "untrusted_chain",
            NotAnSvid => "not_an_svid",
            SvidPrefixMismatch { .. } => "svid_prefix_mismatch",
            BadKeyUsage { .. } => "bad_key_usage",
            MalformedChallenge { .. } => "malformed_challenge",
            BadProof { .. } => "bad_proof",
            UnknownToken => "unknown_token",
            InvalidToken { .. } => "invalid_token",
            TokenExpired { .. } => "token_expired",
            Replayed { .. } => "replayed",
            StoreUnavailable { .. } => "store_unavailable",
            TemplateError { .. } => "template_error",
            InvalidSelector { .. } => "invalid_selector",
            TooManySelectors { .. } => "too_many_selectors",
            AgentIdCollision { .. } => "agent_id_collision",
        }
    }

    /// True for the join-token rejections SPIRE makes after it has deleted the token: the
    /// token is consumed although nothing attested.
    pub fn consumes_join_token(&self) -> bool {
        matches!(
            self,
            Rejection::TokenExpired { .. } | Rejection::InvalidToken { .. }
        )
    }

    /// The message a person reads: what failed and, where it helps, what was expected.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Rejection::*;
        match self {
            MalformedRecord { reason } => write!(f, "record is not readable: {reason}"),
            UnknownType { kind, enabled } => write!(
                f,
                "record type {kind:?} is not verified here; this configuration verifies {enabled}"
            ),
            RecordTooLarge { max } => {
                write!(f, "record is longer than limits.max_record_bytes = {max}")
            }
            MalformedToken { reason } => write!(f, "token is not a compact JWS: {reason}"),
            TokenTooLarge { len, max } => write!(
                f,
                "token is {len} bytes, over limits.max_token_bytes = {max}"
            ),
            UnsupportedAlg { alg } => write!(f, "alg {alg:?} is not a supported JWS algorithm"),
            AlgNotAllowed { alg, reason } => write!(f, "alg {alg:?} is not allowed: {reason}"),
            BadHeader { reason } => write!(f, "header refused: {reason}"),
            UnknownIssuer { reason } => write!(f, "no configured issuer matches: {reason}"),
            UnknownKey { reason } => write!(f, "no configured key matches: {reason}"),
            BadSignature { alg, key } => write!(f, "{alg} signature does not verify with {key}"),
            InvalidClaims { reason } => write!(f, "claims are invalid: {reason}"),
            MissingClaim { claim } => write!(f, "required claim {claim:?} is missing"),
            Expired { exp, now, leeway } => write!(
                f,
                "exp {} is before now {} less {leeway}s leeway",
                fmt_numeric_date(*exp),
                fmt_numeric_date(*now as f64)
            ),
            NotYetValid { nbf, now, leeway } => write!(
                f,
                "nbf {} is after now {} plus {leeway}s leeway",
                fmt_numeric_date(*nbf),
                fmt_numeric_date(*now as f64)
            ),
            IssuedInFuture { iat, now, leeway } => write!(
                f,
                "iat {} is after now {} plus {leeway}s leeway",
                fmt_numeric_date(*iat),
                fmt_numeric_date(*now as f64)
            ),
            LifetimeTooLong { lifetime, max } => write!(
                f,
                "exp - iat is {lifetime}s, over max_lifetime_seconds = {max}"
            ),
            WrongIssuer { got, want } => write!(f, "iss {got:?} is not the issuer {want:?}"),
            AudienceMismatch { got, want } => {
                write!(
                    f,
                    "aud {got} contains none of the accepted audiences {want}"
                )
            }
            ClaimRuleFailed { claim, reason } => write!(f, "claim {claim:?} {reason}"),
            MalformedCertificate { reason } => write!(f, "certificate is malformed: {reason}"),
            TooManyIntermediates { count, max } => {
                write!(f, "{count} intermediates, over max_intermediates = {max}")
            }
            KeyTooLarge { which, bits, max } => write!(
                f,
                "{which} has a {bits}-bit RSA key, over max_rsa_key_size = {max}"
            ),
            UntrustedChain { reason } => write!(f, "chain is not trusted: {reason}"),
            NotAnSvid => write!(
                f,
                "valid SVID x509 cert not found: the leaf has no spiffe:// URI SAN (mode = \"spiffe\")"
            ),
            SvidPrefixMismatch { path, prefix } => write!(
                f,
                "x509 cert doesn't match SVID prefix: path {:?} is not under spiffe_prefix {prefix:?}",
                clip(path)
            ),
            BadKeyUsage { reason } => write!(f, "leaf key usage: {reason}"),
            MalformedChallenge { reason } => write!(f, "challenge is malformed: {reason}"),
            BadProof { reason } => write!(f, "proof of possession fails: {reason}"),
            UnknownToken => write!(f, "join token is not in tokens_path"),
            InvalidToken { reason } => write!(
                f,
                "failed to create join token ID: {reason} (SPIRE consumes the token all the same)"
            ),
            TokenExpired { expires_at, now } => write!(
                f,
                "join token expired at {}, before now {}",
                fmt_numeric_date(*expires_at as f64),
                fmt_numeric_date(*now as f64)
            ),
            Replayed { what, by } => match by {
                ConsumedBy::Line(line) => write!(f, "{what} was already consumed by line {line}"),
                ConsumedBy::EarlierRun => {
                    write!(f, "{what} was already consumed in an earlier run")
                }
                ConsumedBy::AnotherRun { line, shard } if shard.count > 1 => write!(
                    f,
                    "{what} was already consumed by line {line} of shard {shard} in another run"
                ),
                ConsumedBy::AnotherRun { line, .. } => {
                    write!(
                        f,
                        "{what} was already consumed by line {line} of another run"
                    )
                }
            },
            StoreUnavailable { what, store } => write!(
                f,
                "the single-use check of {what} could not complete: {store} was lost; not \
                 attested, rerun with --resume"
            ),
            TemplateError { reason } => write!(f, "agent path template: {reason}"),
            InvalidSelector { reason } => write!(f, "selector refused: {reason}"),
            TooManySelectors { count, max } => {
                write!(f, "{count} selectors, over limits.max_selectors = {max}")
            }
            AgentIdCollision {
                attestor,
                first,
                first_line,
            } => write!(
                f,
                "this agent ID was produced by line {first_line} ({first}) earlier in the run; \
                 {attestor} may not attest it too (--strict-namespaces)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_message_names_both_times_and_leeway() {
        let r = Rejection::Expired {
            exp: 1_764_410_400.0,
            now: 1_764_410_700,
            leeway: 60,
        };
        assert_eq!(r.stage(), Stage::Claims);
        assert_eq!(r.code(), "expired");
        assert_eq!(
            r.message(),
            "exp 2025-11-29T10:00:00Z is before now 2025-11-29T10:05:00Z less 60s leeway"
        );
    }
}
