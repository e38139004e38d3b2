//! `fleet-attest gen`: a synthetic fleet for load tests, demos and round-trip tests.
//!
//! Writes into `--out`: `fleet.toml` (a config `verify` accepts as is), one JWK Set per issuer
//! under `keys/`, `join_tokens.csv`, `evidence.jsonl` and `expected.jsonl`: one line per record
//! in the shape of `verify`'s results, less what only verifying can tell (agent IDs, selectors,
//! aliases, messages): `{"line","id","type","status"}`, and `"error":{"stage","code"}` when
//! rejected. Everything derives from `--seed` and `--now`, so the
//! same arguments give the same bytes: keys come from a seeded ChaCha stream (RSA keys from the
//! two fixed test keys in `src/gen/`, since RSA key generation is slow), and signatures are
//! deterministic (RFC 6979 ECDSA, Ed25519, PKCS#1 v1.5; PSS salts from the seeded stream).
//! The signers are RustCrypto's, not aws-lc's, so a round trip also checks the verifier against
//! an independent implementation.
//!
//! x509pop records use the certificates in `src/gen/x509pop/` (made once by
//! scripts/make-gen-x509pop.py, valid 2025..2045): 32 P-256 leaves under one intermediate,
//! cycled; each record gets fresh nonces and its own proof (RFC 6979 ECDSA over the digest, r and
//! s as Go's big.Int.Bytes()).
//!
//! `--invalid-fraction` mixes in a reject of every code of SPEC §5, in turn.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use clap::Args;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::failure::Failure;
use crate::keys::Alg;

/// Arguments of `gen`.
#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Output folder (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of records.
    #[arg(long, value_name = "N")]
    pub nodes: u64,
    /// Seed: the same seed and --now give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The time tokens are minted for (default: today 00:00 UTC). Verify with the same --now.
    #[arg(long, value_parser = crate::time::parse_now)]
    pub now: Option<i64>,
    /// JWT algorithms to mix, comma-separated (one issuer per algorithm).
    #[arg(long, value_delimiter = ',', default_value = "ES256")]
    pub jwt_algs: Vec<String>,
    /// Fraction of x509pop records.
    #[arg(long, default_value_t = 0.0)]
    pub x509pop_fraction: f64,
    /// Fraction of join-token records.
    #[arg(long, default_value_t = 0.05)]
    pub join_token_fraction: f64,
    /// Fraction of records that must be rejected, cycling through every code.
    #[arg(long, default_value_t = 0.0)]
    pub invalid_fraction: f64,
    /// A fleet for a running SPIRE server (`gen --live`, src/gen/live.rs).
    #[command(flatten)]
    pub live: live::LiveArgs,
}

/// Limits written into generated configs: small, so that oversized records stay cheap.
const GEN_MAX_RECORD_BYTES: usize = 8192;
const GEN_MAX_TOKEN_BYTES: usize = 4096;
const GEN_MAX_SELECTORS: usize = 64;
const GEN_MAX_LIFETIME: i64 = 86_400;
const TRUST_DOMAIN: &str = "example.org";
/// Nodes generated per parallel batch: bounds memory for million-record fleets.
const BATCH: u64 = 65_536;

/// What a record is made to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Jwt,
    JoinToken,
    X509Pop,
    Bad(Defect),
    /// A copy of the evidence of an earlier, valid node.
    ReplayOf(u64, ReplayOf),
}

/// What a replay copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplayOf {
    Jwt,
    X509Pop,
    JoinToken,
}

/// Rejects, one per code `gen` can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Defect {
    MalformedRecord,
    UnknownType,
    RecordTooLarge,
    MalformedToken,
    TokenTooLarge,
    UnsupportedAlg,
    AlgNotAllowed,
    BadHeader,
    UnknownIssuer,
    UnknownKey,
    BadSignature,
    InvalidClaims,
    MissingClaim,
    Expired,
    NotYetValid,
    IssuedInFuture,
    LifetimeTooLong,
    WrongIssuer,
    AudienceMismatch,
    ClaimRuleFailed,
    TemplateError,
    TooManySelectors,
    UnknownToken,
    TokenExpired,
    Replayed,
    MalformedCertificate,
    TooManyIntermediates,
    KeyTooLarge,
    ExpiredLeaf,
    UnknownRoot,
    BadKeyUsage,
    MalformedChallenge,
    BadProof,
    ReplayedChallenge,
    ReplayedJoinToken,
}

const BAD: [Defect; 35] = [
    Defect::MalformedRecord,
    Defect::UnknownType,
    Defect::RecordTooLarge,
    Defect::MalformedToken,
    Defect::TokenTooLarge,
    Defect::UnsupportedAlg,
    Defect::AlgNotAllowed,
    Defect::BadHeader,
    Defect::UnknownIssuer,
    Defect::UnknownKey,
    Defect::BadSignature,
    Defect::InvalidClaims,
    Defect::MissingClaim,
    Defect::Expired,
    Defect::NotYetValid,
    Defect::IssuedInFuture,
    Defect::LifetimeTooLong,
    Defect::WrongIssuer,
    Defect::AudienceMismatch,
    Defect::ClaimRuleFailed,
    Defect::TemplateError,
    Defect::TooManySelectors,
    Defect::UnknownToken,
    Defect::TokenExpired,
    Defect::Replayed,
    Defect::MalformedCertificate,
    Defect::TooManyIntermediates,
    Defect::KeyTooLarge,
    Defect::ExpiredLeaf,
    Defect::UnknownRoot,
    Defect::BadKeyUsage,
    Defect::MalformedChallenge,
    Defect::BadProof,
    Defect::ReplayedChallenge,
    Defect::ReplayedJoinToken,
];

impl Defect {
    /// True for the rejects `gen` makes as x509pop records.
    fn is_x509pop(self) -> bool {
        matches!(
            self,
            Defect::MalformedCertificate
                | Defect::TooManyIntermediates
                | Defect::KeyTooLarge
                | Defect::ExpiredLeaf
                | Defect::UnknownRoot
                | Defect::BadKeyUsage
                | Defect::MalformedChallenge
                | Defect::BadProof
        )
    }

    /// The stage of the rejection this defect is made to cause.
    fn stage(self) -> &'static str {
        match self {
            Defect::MalformedRecord | Defect::UnknownType | Defect::RecordTooLarge => "input",
            Defect::MalformedToken
            | Defect::TokenTooLarge
            | Defect::UnsupportedAlg
            | Defect::AlgNotAllowed
            | Defect::BadHeader
            | Defect::UnknownIssuer
            | Defect::UnknownKey => "decode",
            Defect::BadSignature => "signature",
            Defect::InvalidClaims
            | Defect::MissingClaim
            | Defect::Expired
            | Defect::NotYetValid
            | Defect::IssuedInFuture
            | Defect::LifetimeTooLong
            | Defect::WrongIssuer
            | Defect::AudienceMismatch
            | Defect::ClaimRuleFailed => "claims",
            Defect::TemplateError | Defect::TooManySelectors => "policy",
            Defect::UnknownToken | Defect::TokenExpired => "join_token",
            Defect::Replayed | Defect::ReplayedChallenge | Defect::ReplayedJoinToken => "replay",
            Defect::MalformedCertificate
            | Defect::TooManyIntermediates
            | Defect::KeyTooLarge
            | Defect::ExpiredLeaf
            | Defect::UnknownRoot
            | Defect::BadKeyUsage => "chain",
            Defect::MalformedChallenge | Defect::BadProof => "pop",
        }
    }

    /// The `type` the record of this defect carries, as its result shows it (`None`: the
    /// record is over the size limit, so its type is never read).
    fn record_type(self) -> Option<&'static str> {
        match self {
            Defect::RecordTooLarge => None,
            Defect::UnknownType => Some("tpm"),
            Defect::UnknownToken | Defect::TokenExpired | Defect::ReplayedJoinToken => {
                Some("join_token")
            }
            Defect::ReplayedChallenge => Some("x509pop"),
            d if d.is_x509pop() => Some("x509pop"),
            _ => Some("jwt"),
        }
    }

    fn code(self) -> &'static str {
        match self {
            Defect::MalformedRecord => "malformed_record",
            Defect::UnknownType => "unknown_type",
            Defect::RecordTooLarge | Defect::TokenTooLarge => "too_large",
            Defect::MalformedToken => "malformed_token",
            Defect::UnsupportedAlg => "unsupported_alg",
            Defect::AlgNotAllowed => "alg_not_allowed",
            Defect::BadHeader => "bad_header",
            Defect::UnknownIssuer => "unknown_issuer",
            Defect::UnknownKey => "unknown_key",
            Defect::BadSignature => "bad_signature",
            Defect::InvalidClaims => "invalid_claims",
            Defect::MissingClaim => "missing_claim",
            Defect::Expired => "expired",
            Defect::NotYetValid => "not_yet_valid",
            Defect::IssuedInFuture => "issued_in_future",
            Defect::LifetimeTooLong => "lifetime_too_long",
            Defect::WrongIssuer => "wrong_issuer",
            Defect::AudienceMismatch => "audience_mismatch",
            Defect::ClaimRuleFailed => "claim_rule_failed",
            Defect::TemplateError => "template_error",
            Defect::TooManySelectors => "too_many_selectors",
            Defect::UnknownToken => "unknown_token",
            Defect::TokenExpired => "token_expired",
            Defect::Replayed | Defect::ReplayedChallenge | Defect::ReplayedJoinToken => "replayed",
            Defect::MalformedCertificate => "malformed_certificate",
            Defect::TooManyIntermediates => "too_many_intermediates",
            Defect::KeyTooLarge => "key_too_large",
            Defect::ExpiredLeaf | Defect::UnknownRoot => "untrusted_chain",
            Defect::BadKeyUsage => "bad_key_usage",
            Defect::MalformedChallenge => "malformed_challenge",
            Defect::BadProof => "bad_proof",
        }
    }
}

mod ecdsa;
pub mod live;

use ecdsa::FixedNonceSigner;

/// A private signing key of one algorithm.
pub enum SigningKey {
    /// ES256: the key (for its JWK) and its fast deterministic signer.
    P256(p256::ecdsa::SigningKey, FixedNonceSigner),
    /// ES384: likewise.
    P384(p384::ecdsa::SigningKey, FixedNonceSigner),
    /// EdDSA.
    Ed25519(ed25519_dalek::SigningKey),
    /// RS* and PS*.
    Rsa(Alg, Box<rsa::RsaPrivateKey>),
    /// HS*.
    Hmac(Alg, Vec<u8>),
}

const RSA_KEYS: [&str; 2] = [include_str!("gen/rsa-a.pem"), include_str!("gen/rsa-b.pem")];

impl SigningKey {
    /// A key for `alg` derived from `rng` (RSA: fixed test key number `which`).
    pub fn derive(alg: Alg, which: usize, rng: &mut ChaCha20Rng) -> Result<SigningKey, String> {
        let mut seed = [0u8; 64];
        rng.fill_bytes(&mut seed);
        Ok(match alg {
            Alg::ES256 => {
                let key =
                    p256::ecdsa::SigningKey::from_slice(&seed[..32]).map_err(|e| e.to_string())?;
                let signer = FixedNonceSigner::new(&key.to_bytes()).ok_or("P-256 signer")?;
                SigningKey::P256(key, signer)
            }
            Alg::ES384 => {
                let key =
                    p384::ecdsa::SigningKey::from_slice(&seed[..48]).map_err(|e| e.to_string())?;
                let signer = FixedNonceSigner::new(&key.to_bytes()).ok_or("P-384 signer")?;
                SigningKey::P384(key, signer)
            }
            Alg::EdDSA => SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                seed[..32].try_into().map_err(|_| "seed")?,
            )),
            Alg::HS256 | Alg::HS384 | Alg::HS512 => SigningKey::Hmac(alg, seed.to_vec()),
            _ => {
                use rsa::pkcs8::DecodePrivateKey;
                let pem = RSA_KEYS[which % RSA_KEYS.len()];
                SigningKey::Rsa(
                    alg,
                    Box::new(rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?),
                )
            }
        })
    }

    /// The public JWK, with `kid` and `alg`.
    pub fn public_jwk(&self, kid: &str, alg: Alg) -> Value {
        match self {
            SigningKey::P256(key, _) => ec_jwk(
                "P-256",
                kid,
                alg,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            SigningKey::P384(key, _) => ec_jwk(
                "P-384",
                kid,
                alg,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            SigningKey::Ed25519(key) => {
                json!({"kty":"OKP","crv":"Ed25519","kid":kid,"alg":"EdDSA","use":"sig",
                       "x":B64.encode(key.verifying_key().as_bytes())})
            }
            SigningKey::Rsa(_, key) => {
                use rsa::traits::PublicKeyParts;
                json!({"kty":"RSA","kid":kid,"alg":alg.name(),"use":"sig",
                       "n":B64.encode(key.n().to_bytes_be()),"e":B64.encode(key.e().to_bytes_be())})
            }
            SigningKey::Hmac(_, secret) => {
                json!({"kty":"oct","kid":kid,"alg":alg.name(),"use":"sig","k":B64.encode(secret)})
            }
        }
    }

    /// Signs `msg`; `rng` supplies PSS salts.
    pub fn sign(&self, msg: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
        match self {
            SigningKey::P256(_, signer) => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, msg);
                signer.sign_digest(digest.as_ref()).unwrap_or_default()
            }
            SigningKey::P384(_, signer) => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, msg);
                signer.sign_digest(digest.as_ref()).unwrap_or_default()
            }
            SigningKey::Ed25519(key) => ed25519_dalek::Signer::sign(key, msg).to_bytes().to_vec(),
            SigningKey::Rsa(alg, key) => rsa_sign(*alg, key, msg, rng),
            SigningKey::Hmac(alg, secret) => {
                let algorithm = match alg {
                    Alg::HS384 => aws_lc_rs::hmac::HMAC_SHA384,
                    Alg::HS512 => aws_lc_rs::hmac::HMAC_SHA512,
                    _ => aws_lc_rs::hmac::HMAC_SHA256,
                };
                let key = aws_lc_rs::hmac::Key::new(algorithm, secret);
                aws_lc_rs::hmac::sign(&key, msg).as_ref().to_vec()
            }
        }
    }
}

/// An EC JWK from an uncompressed SEC 1 point (`04 || x || y`).
fn ec_jwk(crv: &str, kid: &str, alg: Alg, point: &[u8]) -> Value {
    let coords = point.get(1..).unwrap_or_default();
    let (x, y) = coords.split_at(coords.len() / 2);
    json!({"kty":"EC","crv":crv,"kid":kid,"alg":alg.name(),"use":"sig",
           "x":B64.encode(x),"y":B64.encode(y)})
}

fn rsa_sign(alg: Alg, key: &rsa::RsaPrivateKey, msg: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    use sha2::{Sha256, Sha384, Sha512};
    let key = key.clone();
    match alg {
        Alg::RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(key)
            .sign(msg)
            .to_vec(),
        Alg::RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(key)
            .sign(msg)
            .to_vec(),
        Alg::PS256 => rsa::pss::SigningKey::<Sha256>::new(key)
            .sign_with_rng(rng, msg)
            .to_vec(),
        Alg::PS384 => rsa::pss::SigningKey::<Sha384>::new(key)
            .sign_with_rng(rng, msg)
            .to_vec(),
        Alg::PS512 => rsa::pss::SigningKey::<Sha512>::new(key)
            .sign_with_rng(rng, msg)
            .to_vec(),
        _ => rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign(msg)
            .to_vec(),
    }
}

/// Encodes and signs a compact JWS from a header and claims.
pub fn sign_jws(header: &Value, claims: &str, key: &SigningKey, rng: &mut ChaCha20Rng) -> String {
    let mut token = B64.encode(header.to_string());
    token.push('.');
    token.push_str(&B64.encode(claims));
    let sig = key.sign(token.as_bytes(), rng);
    token.push('.');
    token.push_str(&B64.encode(sig));
    token
}

/// One generated issuer.
pub struct GenIssuer {
    /// Config name.
    pub name: String,
    /// `iss`.
    pub issuer: String,
    /// Its algorithm.
    pub alg: Alg,
    /// Its two keys, with kids.
    pub keys: Vec<(String, SigningKey)>,
}

/// Builds the issuers of a fleet, one per algorithm, deterministically from `seed`.
pub fn issuers(seed: u64, algs: &[Alg]) -> Result<Vec<GenIssuer>, String> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    algs.iter()
        .enumerate()
        .map(|(n, &alg)| {
            let lower = alg.name().to_lowercase();
            let keys = (0..2)
                .map(|k| {
                    let kid = format!("{lower}-{}", ["a", "b"][k]);
                    SigningKey::derive(alg, n + k, &mut rng).map(|key| (kid, key))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(GenIssuer {
                name: format!("bootstrap-{lower}"),
                issuer: format!("https://bootstrap-{lower}.example.org"),
                alg,
                keys,
            })
        })
        .collect()
}

/// The claims of a valid token for node `i`.
pub fn valid_claims(issuer: &GenIssuer, seed: u64, i: u64, now: i64) -> Value {
    let pools = ["blue", "green"];
    json!({
        "iss": issuer.issuer,
        "sub": format!("node-{i}"),
        "aud": ["spire-server"],
        "iat": now - 30,
        "nbf": now - 30,
        "exp": now + 3600,
        "jti": format!("{seed:x}-{i}"),
        "pool": pools[(i % 2) as usize],
        "region": format!("eu-west-{}", i % 3 + 1),
        "rack": i % 40,
    })
}

fn node_rng(seed: u64, i: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(i.wrapping_add(1));
    rng
}

fn fraction_hit(rng: &mut ChaCha20Rng, fraction: f64) -> bool {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= fraction && fraction > 0.0
}

/// A line of `expected.jsonl`: a result line's members in a result line's order.
#[derive(serde::Serialize)]
struct Expected<'a> {
    line: u64,
    id: &'a str,
    #[serde(rename = "type")]
    record_type: Option<&'a str>,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ExpectedError>,
}

#[derive(serde::Serialize)]
struct ExpectedError {
    stage: &'static str,
    code: &'static str,
}

impl Kind {
    /// The result `verify` must give this record, in the shape of a result line: its `type`,
    /// and `(stage, code)` when rejected.
    fn expected(self) -> (Option<&'static str>, Option<(&'static str, &'static str)>) {
        let replay = Some((Defect::Replayed.stage(), Defect::Replayed.code()));
        match self {
            Kind::Jwt => (Some("jwt"), None),
            Kind::X509Pop => (Some("x509pop"), None),
            Kind::JoinToken => (Some("join_token"), None),
            Kind::ReplayOf(_, ReplayOf::Jwt) => (Some("jwt"), replay),
            Kind::ReplayOf(_, ReplayOf::X509Pop) => (Some("x509pop"), replay),
            Kind::ReplayOf(_, ReplayOf::JoinToken) => (Some("join_token"), replay),
            Kind::Bad(defect) => (defect.record_type(), Some((defect.stage(), defect.code()))),
        }
    }
}

/// Decides every record's kind (cheap, sequential so replays can point back).
fn plan(args: &GenArgs) -> Vec<Kind> {
    let mut kinds = Vec::with_capacity(args.nodes as usize);
    let (mut last_jwt, mut last_x509pop, mut last_join) = (None, None, None);
    let mut next_bad = 0usize;
    let mut rng = ChaCha20Rng::seed_from_u64(args.seed ^ 0x05ee_d0ff_1ee7);
    for i in 0..args.nodes {
        let kind = if fraction_hit(&mut rng, args.invalid_fraction) {
            let bad = BAD[next_bad % BAD.len()];
            next_bad += 1;
            // A replay copies the latest valid record of its kind; with none yet, a valid one.
            match bad {
                Defect::Replayed => {
                    last_jwt.map_or(Kind::Jwt, |j| Kind::ReplayOf(j, ReplayOf::Jwt))
                }
                Defect::ReplayedChallenge => {
                    last_x509pop.map_or(Kind::X509Pop, |j| Kind::ReplayOf(j, ReplayOf::X509Pop))
                }
                Defect::ReplayedJoinToken => {
                    last_join.map_or(Kind::JoinToken, |j| Kind::ReplayOf(j, ReplayOf::JoinToken))
                }
                _ => Kind::Bad(bad),
            }
        } else if fraction_hit(&mut rng, args.x509pop_fraction) {
            Kind::X509Pop
        } else if fraction_hit(&mut rng, args.join_token_fraction) {
            Kind::JoinToken
        } else {
            Kind::Jwt
        };
        match kind {
            Kind::Jwt => last_jwt = Some(i),
            Kind::X509Pop => last_x509pop = Some(i),
            Kind::JoinToken => last_join = Some(i),
            _ => {}
        }
        kinds.push(kind);
    }
    kinds
}

struct Fleet<'a> {
    seed: u64,
    now: i64,
    issuers: &'a [GenIssuer],
    x509: &'a X509Material,
}

impl Fleet<'_> {
    fn issuer_for(&self, i: u64) -> &GenIssuer {
        &self.issuers[(i % self.issuers.len() as u64) as usize]
    }

    fn token(
        &self,
        i: u64,
        header_extra: &[(&str, Value)],
        claims: &str,
        rng: &mut ChaCha20Rng,
    ) -> String {
        let issuer = self.issuer_for(i);
        let (kid, key) = &issuer.keys[(i / self.issuers.len() as u64 % 2) as usize];
        let mut header = json!({"alg": issuer.alg.name(), "typ": "JWT", "kid": kid});
        for (name, value) in header_extra {
            header[*name] = value.clone();
        }
        sign_jws(&header, claims, key, rng)
    }

    fn valid_token(&self, i: u64) -> String {
        let mut rng = node_rng(self.seed, i);
        let claims = valid_claims(self.issuer_for(i), self.seed, i, self.now);
        self.token(i, &[], &claims.to_string(), &mut rng)
    }

    /// The evidence line and the expected `(status, code)` of node `i`.
    fn record(&self, i: u64, kind: Kind) -> (String, Option<&'static str>) {
        let id = format!("node-{i}");
        let mut rng = node_rng(self.seed, i);
        let jwt = |token: &str| json!({"id": id, "type": "jwt", "token": token}).to_string();
        let issuer = self.issuer_for(i);
        let claims = || valid_claims(issuer, self.seed, i, self.now);
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut c = claims();
            edit(&mut c);
            c.to_string()
        };
        if let Kind::Bad(bad) = kind {
            if bad.is_x509pop() {
                return (
                    self.x509.record(&id, i, Some(bad), &mut rng),
                    Some(bad.code()),
                );
            }
        }
        match kind {
            Kind::Jwt => (jwt(&self.valid_token(i)), None),
            Kind::ReplayOf(j, ReplayOf::Jwt) => {
                (jwt(&self.valid_token(j)), Some(Defect::Replayed.code()))
            }
            Kind::ReplayOf(j, ReplayOf::X509Pop) => {
                let mut rng = node_rng(self.seed, j);
                let record = self.x509.record(&id, j, None, &mut rng);
                (record, Some(Defect::Replayed.code()))
            }
            Kind::ReplayOf(j, ReplayOf::JoinToken) => (
                json!({"id": id, "type": "join_token", "token": join_token(self.seed, j)})
                    .to_string(),
                Some(Defect::Replayed.code()),
            ),
            Kind::X509Pop => (self.x509.record(&id, i, None, &mut rng), None),
            Kind::JoinToken => (
                json!({"id": id, "type": "join_token", "token": join_token(self.seed, i)})
                    .to_string(),
                None,
            ),
            Kind::Bad(bad) => {
                let mut tok = |extra: &[(&str, Value)], claims: String| {
                    jwt(&self.token(i, extra, &claims, &mut rng))
                };
                let line = match bad {
                    Defect::MalformedRecord => json!({"id": id, "type": "jwt"}).to_string(),
                    Defect::UnknownType => json!({"id": id, "type": "tpm", "token": "x"}).to_string(),
                    Defect::RecordTooLarge => {
                        let pad = "x".repeat(GEN_MAX_RECORD_BYTES);
                        json!({"id": id, "type": "jwt", "token": "a.b.c", "pad": pad}).to_string()
                    }
                    Defect::MalformedToken => jwt("not-a-jws"),
                    Defect::TokenTooLarge => tok(
                        &[],
                        with(&|c| c["pad"] = json!("p".repeat(GEN_MAX_TOKEN_BYTES))),
                    ),
                    Defect::UnsupportedAlg => {
                        let header = B64.encode(r#"{"alg":"none"}"#);
                        jwt(&format!("{header}.{}.AA", B64.encode(claims().to_string())))
                    }
                    Defect::AlgNotAllowed => {
                        let other = if issuer.alg == Alg::HS256 { "HS512" } else { "HS256" };
                        tok(&[("alg", json!(other))], claims().to_string())
                    }
                    Defect::BadHeader => tok(&[("crit", json!(["exp"]))], claims().to_string()),
                    Defect::UnknownIssuer => {
                        let mut c = claims();
                        c["iss"] = json!("https://unknown.example.org");
                        let (_, key) = &issuer.keys[0];
                        let header = json!({"alg": issuer.alg.name()});
                        jwt(&sign_jws(&header, &c.to_string(), key, &mut rng))
                    }
                    Defect::UnknownKey => tok(&[("kid", json!("no-such-kid"))], claims().to_string()),
                    Defect::BadSignature => {
                        let token = self.token(i, &[], &claims().to_string(), &mut rng);
                        let (signed, sig) = token.rsplit_once('.').unwrap_or((&token, ""));
                        let mut sig = B64.decode(sig).unwrap_or_default();
                        if let Some(b) = sig.first_mut() {
                            *b ^= 1;
                        }
                        jwt(&format!("{signed}.{}", B64.encode(sig)))
                    }
                    Defect::InvalidClaims => {
                        let c = claims().to_string();
                        let dup = format!("{},\"sub\":\"again\"}}", &c[..c.len() - 1]);
                        tok(&[], dup)
                    }
                    Defect::MissingClaim => tok(
                        &[],
                        with(&|c| {
                            if let Some(o) = c.as_object_mut() {
                                o.remove("sub");
                            }
                        }),
                    ),
                    Defect::Expired => tok(&[], with(&|c| c["exp"] = json!(self.now - 7200))),
                    Defect::NotYetValid => tok(&[], with(&|c| c["nbf"] = json!(self.now + 7200))),
                    Defect::IssuedInFuture => tok(&[], with(&|c| c["iat"] = json!(self.now + 7200))),
                    Defect::LifetimeTooLong => tok(
                        &[],
                        with(&|c| {
                            c["iat"] = json!(self.now);
                            c["exp"] = json!(self.now + GEN_MAX_LIFETIME + 10);
                        }),
                    ),
                    Defect::WrongIssuer => {
                        tok(&[], with(&|c| c["iss"] = json!("https://wrong.example.org")))
                    }
                    Defect::AudienceMismatch => tok(&[], with(&|c| c["aud"] = json!("someone-else"))),
                    Defect::ClaimRuleFailed => tok(&[], with(&|c| c["pool"] = json!("red"))),
                    Defect::TemplateError => tok(&[], with(&|c| c["sub"] = json!("bad subject!"))),
                    Defect::TooManySelectors => tok(
                        &[],
                        with(&|c| {
                            c["tags"] = json!((0..GEN_MAX_SELECTORS)
                                .map(|t| format!("t{t}"))
                                .collect::<Vec<_>>())
                        }),
                    ),
                    Defect::UnknownToken => {
                        json!({"id": id, "type": "join_token", "token": format!("unknown{i}")})
                            .to_string()
                    }
                    Defect::TokenExpired => {
                        json!({"id": id, "type": "join_token", "token": expired_token(self.seed, i)})
                            .to_string()
                    }
                    // Planned as ReplayOf or as x509pop cases above; kept total.
                    _ => jwt(&self.valid_token(i)),
                };
                (line, Some(bad.code()))
            }
        }
    }
}

fn join_token(seed: u64, i: u64) -> String {
    let mut rng = node_rng(seed ^ 0x70_6b_e1, i);
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    crate::hex::lower(&bytes)
}

fn expired_token(seed: u64, i: u64) -> String {
    format!("expired{}", &join_token(seed, i)[..16])
}

/// Start of the current UTC day: the default `--now`, stable for a day.
fn today() -> i64 {
    let now = crate::time::clock_now();
    now - now.rem_euclid(86_400)
}

/// Runs `gen`.
pub fn run(args: &GenArgs) -> Result<(), Failure> {
    if args.live.live {
        let now = args.now.unwrap_or_else(today);
        return live::run(&args.live, &args.out, args.nodes, args.seed, now);
    }
    for (name, f) in [
        ("--x509pop-fraction", args.x509pop_fraction),
        ("--join-token-fraction", args.join_token_fraction),
        ("--invalid-fraction", args.invalid_fraction),
    ] {
        if !(0.0..=1.0).contains(&f) {
            return Err(Failure::usage(format!("{name} must be within 0..=1")));
        }
    }
    let mut algs = Vec::new();
    for name in &args.jwt_algs {
        let alg = Alg::parse(name.trim())
            .ok_or_else(|| Failure::usage(format!("--jwt-algs: unknown algorithm {name:?}")))?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err(Failure::usage("--jwt-algs: give at least one algorithm"));
    }
    let now = args.now.unwrap_or_else(today);
    let fatal =
        |path: &Path, err: std::io::Error| Failure::fatal(format!("{}: {err}", path.display()));
    let out = &args.out;

    let issuers = issuers(args.seed, &algs).map_err(Failure::fatal)?;
    write_config_and_keys(out, &issuers).map_err(|(path, e)| fatal(&path, e))?;

    let kinds = plan(args);
    let mut tokens = String::from("# token,expires_at_unix_seconds\n");
    for (i, kind) in kinds.iter().enumerate() {
        match kind {
            Kind::JoinToken => {
                let _ = writeln!(
                    tokens,
                    "{},{}",
                    join_token(args.seed, i as u64),
                    now + 86_400
                );
            }
            Kind::Bad(Defect::TokenExpired) => {
                let _ = writeln!(
                    tokens,
                    "{},{}",
                    expired_token(args.seed, i as u64),
                    now - 60
                );
            }
            _ => {}
        }
    }
    let path = out.join("join_tokens.csv");
    fs::write(&path, tokens.as_bytes()).map_err(|e| fatal(&path, e))?;

    let x509 = X509Material::load().map_err(Failure::fatal)?;
    let fleet = Fleet {
        seed: args.seed,
        now,
        issuers: &issuers,
        x509: &x509,
    };
    let evidence_path = out.join("evidence.jsonl");
    let expected_path = out.join("expected.jsonl");
    let mut evidence =
        BufWriter::new(fs::File::create(&evidence_path).map_err(|e| fatal(&evidence_path, e))?);
    let mut expected =
        BufWriter::new(fs::File::create(&expected_path).map_err(|e| fatal(&expected_path, e))?);
    let mut start = 0u64;
    while start < args.nodes {
        let end = (start + BATCH).min(args.nodes);
        let lines: Vec<(String, Option<&str>)> = (start..end)
            .into_par_iter()
            .map(|i| fleet.record(i, kinds[i as usize]))
            .collect();
        for (offset, (line, code)) in lines.iter().enumerate() {
            let i = start + offset as u64;
            evidence
                .write_all(line.as_bytes())
                .and_then(|()| evidence.write_all(b"\n"))
                .map_err(|e| fatal(&evidence_path, e))?;
            let kind = kinds[i as usize];
            // A record over max_record_bytes is not parsed (bounded work), so its id is line-N.
            let id = if kind == Kind::Bad(Defect::RecordTooLarge) {
                format!("line-{}", i + 1)
            } else {
                format!("node-{i}")
            };
            let (record_type, rejection) = kind.expected();
            debug_assert_eq!(rejection.map(|(_, code)| code), *code);
            let want = Expected {
                line: i + 1,
                id: &id,
                record_type,
                status: if rejection.is_some() {
                    "rejected"
                } else {
                    "attested"
                },
                error: rejection.map(|(stage, code)| ExpectedError { stage, code }),
            };
            let want = serde_json::to_string(&want).unwrap_or_default();
            writeln!(expected, "{want}").map_err(|e| fatal(&expected_path, e))?;
        }
        start = end;
    }
    evidence.flush().map_err(|e| fatal(&evidence_path, e))?;
    expected.flush().map_err(|e| fatal(&expected_path, e))?;
    eprintln!(
        "fleet-attest gen: {} records in {} (seed {}, now {now}); verify with --now {now}",
        args.nodes,
        out.display(),
        args.seed
    );
    Ok(())
}

/// Writes `fleet.toml`, one JWK Set per issuer under `keys/` and the x509pop CA bundle
/// `ca/root.pem` into `out` (everything the config names but `join_tokens.csv`).
pub fn write_config_and_keys(
    out: &Path,
    issuers: &[GenIssuer],
) -> Result<(), (PathBuf, std::io::Error)> {
    let keys = out.join("keys");
    fs::create_dir_all(&keys).map_err(|e| (keys.clone(), e))?;
    let ca = out.join("ca");
    fs::create_dir_all(&ca).map_err(|e| (ca.clone(), e))?;
    let root = ca.join("root.pem");
    fs::write(&root, X509_ROOT.as_bytes()).map_err(|e| (root, e))?;
    let path = out.join("fleet.toml");
    fs::write(&path, fleet_config(issuers).as_bytes()).map_err(|e| (path, e))?;
    for issuer in issuers {
        let jwks = json!({"keys": issuer.keys.iter().map(|(kid, key)| key.public_jwk(kid, issuer.alg)).collect::<Vec<_>>()});
        let path = keys.join(format!("{}.jwks.json", issuer.name));
        fs::write(&path, format!("{jwks:#}\n").as_bytes()).map_err(|e| (path, e))?;
    }
    Ok(())
}

/// Valid JWT records (`{"id","type","token"}` lines, no newline) for nodes `range`, signed in
/// parallel on the current rayon pool.
pub fn valid_jwt_records(
    issuers: &[GenIssuer],
    seed: u64,
    now: i64,
    range: std::ops::Range<u64>,
) -> Vec<String> {
    let x509 = X509Material::load().unwrap_or_else(|err| panic!("bundled gen certificates: {err}"));
    let fleet = Fleet {
        seed,
        now,
        issuers,
        x509: &x509,
    };
    range
        .into_par_iter()
        .map(|i| fleet.record(i, Kind::Jwt).0)
        .collect()
}

/// Valid x509pop records (P-256 leaf, one intermediate) for nodes `range`, with the CA bundle
/// PEM they chain to.
pub fn valid_x509pop_records(
    seed: u64,
    range: std::ops::Range<u64>,
) -> Result<(Vec<String>, &'static str), String> {
    let x509 = X509Material::load()?;
    let records = range
        .into_par_iter()
        .map(|i| {
            let mut rng = node_rng(seed, i);
            x509.record(&format!("node-{i}"), i, None, &mut rng)
        })
        .collect();
    Ok((records, X509_ROOT))
}

/// The `fleet.toml` of a generated fleet.
pub fn fleet_config(issuers: &[GenIssuer]) -> String {
    let mut toml = format!(
        "# Generated by fleet-attest gen.\ntrust_domain = \"{TRUST_DOMAIN}\"\n\n[limits]\n\
         max_record_bytes = {GEN_MAX_RECORD_BYTES}\nmax_token_bytes = {GEN_MAX_TOKEN_BYTES}\n\
         max_selectors = {GEN_MAX_SELECTORS}\n"
    );
    for issuer in issuers {
        let _ = write!(
            toml,
            "\n[[jwt_issuer]]\nname = \"{}\"\nissuer = \"{}\"\njwks_path = \"keys/{}.jwks.json\"\n\
             audiences = [\"spire-server\"]\nalgorithms = [\"{}\"]\nmax_lifetime_seconds = {GEN_MAX_LIFETIME}\n\
             required_claims = [\"sub\"]\n\
             [jwt_issuer.claim_rules]\npool = {{ one_of = [\"blue\", \"green\"] }}\n\
             region = {{ regex = \"^eu-[a-z]+-[0-9]$\" }}\n",
            issuer.name, issuer.issuer, issuer.name, issuer.alg.name()
        );
    }
    toml.push_str(
        "\n[x509pop]\nca_bundle_paths = [\"ca/root.pem\"]\nmax_rsa_key_size = 2048\n\
         \n[[node_alias]]\nspiffe_id = \"spiffe://example.org/dc/dc-0\"\n\
         selectors = [\"x509pop:san:datacenter:dc-0\"]\n\
         \n[join_token]\ntokens_path = \"join_tokens.csv\"\n\n\
         [[node_alias]]\nspiffe_id = \"spiffe://example.org/pool/blue\"\nselectors = [\"jwt:pool:blue\"]\n\n\
         [[node_alias]]\nspiffe_id = \"spiffe://example.org/pool/green/eu-west-1\"\n\
         selectors = [\"jwt:pool:green\", \"jwt:region:eu-west-1\"]\n",
    );
    toml
}

/// The bundled root the generated x509pop leaves chain to.
const X509_ROOT: &str = include_str!("gen/x509pop/root.pem");

/// The certificates and keys `gen` builds x509pop records from.
struct X509Material {
    intermediate: String,
    leaves: Vec<(String, FixedNonceSigner)>,
    expired: (String, FixedNonceSigner),
    encipher: (String, FixedNonceSigner),
    stranger: (String, FixedNonceSigner),
    rsa3072: String,
}

/// Certificates of a PEM text as standard base64 DER, and its first private key.
fn pem_parts(pem: &str) -> Result<(Vec<String>, Option<String>), String> {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| {
            c.map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let key = pem
        .find("-----BEGIN PRIVATE KEY-----")
        .map(|at| pem[at..].to_owned());
    Ok((certs, key))
}

fn p256_key(pem: &str) -> Result<FixedNonceSigner, String> {
    use p256::pkcs8::DecodePrivateKey;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
    FixedNonceSigner::new(&key.to_bytes()).ok_or_else(|| "P-256 signer".into())
}

impl X509Material {
    fn load() -> Result<X509Material, String> {
        let one = |pem: &str| -> Result<(String, FixedNonceSigner), String> {
            let (certs, key) = pem_parts(pem)?;
            let cert = certs.into_iter().next().ok_or("no certificate")?;
            Ok((cert, p256_key(&key.ok_or("no key")?)?))
        };
        let (intermediate, _) = pem_parts(include_str!("gen/x509pop/intermediate.pem"))?;
        let (leaves, _) = pem_parts(include_str!("gen/x509pop/leaves.pem"))?;
        let keys_pem = include_str!("gen/x509pop/leaf-keys.pem");
        let keys = keys_pem
            .split_inclusive("-----END PRIVATE KEY-----")
            .filter(|k| k.contains("BEGIN"))
            .map(p256_key)
            .collect::<Result<Vec<_>, _>>()?;
        if leaves.len() != keys.len() || leaves.is_empty() {
            return Err("leaves.pem and leaf-keys.pem do not pair up".into());
        }
        let (rsa, _) = pem_parts(include_str!("gen/x509pop/rsa3072.pem"))?;
        Ok(X509Material {
            intermediate: intermediate.into_iter().next().ok_or("no intermediate")?,
            leaves: leaves.into_iter().zip(keys).collect(),
            expired: one(include_str!("gen/x509pop/expired.pem"))?,
            encipher: one(include_str!("gen/x509pop/encipher.pem"))?,
            stranger: one(include_str!("gen/x509pop/stranger.pem"))?,
            rsa3072: rsa.into_iter().next().ok_or("no RSA leaf")?,
        })
    }

    /// An x509pop record of node `n` in SPIRE's wire shapes: valid, or made to show `defect`
    /// (expired leaf, unknown root, no digitalSignature, oversized RSA key, too many
    /// intermediates, garbage DER, a 31-byte nonce, an altered proof).
    fn record(&self, id: &str, n: u64, defect: Option<Defect>, rng: &mut ChaCha20Rng) -> String {
        let std = base64::engine::general_purpose::STANDARD;
        let (leaf, key) = match defect {
            Some(Defect::ExpiredLeaf) => (self.expired.0.as_str(), &self.expired.1),
            Some(Defect::BadKeyUsage) => (self.encipher.0.as_str(), &self.encipher.1),
            Some(Defect::UnknownRoot) => (self.stranger.0.as_str(), &self.stranger.1),
            Some(Defect::KeyTooLarge) => (self.rsa3072.as_str(), &self.leaves[0].1),
            _ => {
                let (cert, key) = &self.leaves[(n % self.leaves.len() as u64) as usize];
                (cert.as_str(), key)
            }
        };
        let certificates: Vec<&str> = match defect {
            Some(Defect::MalformedCertificate) => vec!["MAMCAQA=", &self.intermediate],
            Some(Defect::TooManyIntermediates) => std::iter::once(leaf)
                .chain(std::iter::repeat_n(self.intermediate.as_str(), 5))
                .collect(),
            Some(Defect::UnknownRoot) => vec![leaf],
            _ => vec![leaf, &self.intermediate],
        };
        let mut challenge_nonce = vec![0u8; 32];
        let mut response_nonce = [0u8; 32];
        rng.fill_bytes(&mut challenge_nonce);
        rng.fill_bytes(&mut response_nonce);
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &[challenge_nonce.as_slice(), &response_nonce].concat(),
        );
        let Some(signature) = key.sign_digest(digest.as_ref()) else {
            return String::new(); // unreachable: a 32-byte digest always signs
        };
        let minimal = |b: &[u8]| std.encode(crate::keys::strip_leading_zeros(b));
        let (r, s) = signature.split_at(32);
        let mut s = s.to_vec();
        if defect == Some(Defect::BadProof) {
            if let Some(last) = s.last_mut() {
                *last ^= 1;
            }
        }
        if defect == Some(Defect::MalformedChallenge) {
            challenge_nonce.truncate(31);
        }
        json!({
            "id": id,
            "type": "x509pop",
            "payload": {"certificates": certificates},
            "challenge": {"rsa_signature": null, "ecdsa_signature": {"nonce": std.encode(&challenge_nonce)}},
            "response": {"rsa_signature": null, "ecdsa_signature": {
                "nonce": std.encode(response_nonce), "r": minimal(r), "s": minimal(&s)}},
        })
        .to_string()
    }
}
