//! x509pop attestation, as SPIRE does it (pkg/server/plugin/nodeattestor/x509pop and
//! pkg/common/plugin/x509pop), with the challenge and response carried in the record.
//!
//! Checks in SPIRE's order: the number of intermediates (before any decoding), RSA key sizes of
//! the leaf and intermediates, the chain to the CA bundle at `--now` (rustls-webpki; any extended
//! key usage, as SPIRE asks Go for `ExtKeyUsageAny`), the leaf's digitalSignature key usage, the
//! proof of possession, then selectors and the agent ID.
//!
//! # Chain cache
//! A fleet's leaves share a handful of intermediates. The first leaf seen with a given list of
//! intermediates is verified in full; when that succeeds and no certificate above the leaf
//! carries name constraints, the leaf's issuer is remembered as a trust anchor for that list
//! (with the fingerprints of the verified path). A later leaf with the same list is then
//! verified by webpki against that issuer alone: one signature instead of the whole path. If that
//! fails for any reason the full verification runs and gives the verdict, so the cache can only
//! make a valid chain faster, never change a verdict: everything checked above the leaf was
//! checked at the same `--now`, the leaf sits at the same depth (path lengths agree), and name
//! constraints, the one check that looks through the path at the leaf, rule the cache out.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::{digest, signature};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use dashmap::DashMap;
use foldhash::fast::RandomState;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::Deserialize;
use serde_json::value::RawValue;
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::error::Rejection;
use crate::keys::{bit_len, strip_leading_zeros};
use crate::selectors::SelectorSet;
use crate::template::{Fields, Template};

/// The default agent path template, as SPIRE's.
pub const DEFAULT_TEMPLATE: &str = "/{{ .PluginName }}/{{ .Fingerprint }}";
/// Template fields an x509pop record provides.
pub const TEMPLATE_ROOTS: &[&str] = &[
    "PluginName",
    "Fingerprint",
    "SerialNumberHex",
    "Subject",
    "URISanSelectors",
    "TrustDomain",
];
/// SPIRE's default `max_intermediates`.
pub const DEFAULT_MAX_INTERMEDIATES: usize = 4;
/// SPIRE's default `max_rsa_key_size`.
pub const DEFAULT_MAX_RSA_KEY_SIZE: usize = 8192;
/// Nonce length of SPIRE's challenge and response.
const NONCE_LEN: usize = 32;
/// How long a consumed challenge nonce is remembered (SPEC §6).
const NONCE_LIFETIME: i64 = 86_400;

/// SPIRE accepts any extended key usage (Go's `ExtKeyUsageAny`).
struct AnyEku;

impl ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

struct Root {
    anchor: TrustAnchor<'static>,
    fingerprint: String,
}

struct CachedChain {
    issuer: [TrustAnchor<'static>; 1],
    fingerprints: Vec<String>,
}

/// Whether verified intermediate chains are reused (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainCache {
    /// Reuse verified chains (the default).
    On,
    /// Verify every path in full (for comparison in tests and benchmarks).
    Off,
}

/// The compiled `[x509pop]` section.
pub struct X509Pop {
    roots: Vec<Root>,
    anchors: Vec<TrustAnchor<'static>>,
    max_intermediates: usize,
    max_rsa_key_size: usize,
    template: Template,
    cache: ChainCache,
    chains: DashMap<[u8; 32], Arc<CachedChain>, RandomState>,
}

/// Per-worker buffers for x509pop.
#[derive(Default)]
pub struct X509PopScratch {
    ders: Vec<Vec<u8>>,
}

/// Outputs of a verified x509pop record.
pub struct X509PopOutput<'o> {
    /// Receives the selectors.
    pub selectors: &'o mut SelectorSet,
    /// Receives the agent path.
    pub agent_path: &'o mut String,
    /// Receives the challenge-nonce replay key.
    pub replay_key: &'o mut String,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    certificates: Vec<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct NonceOnly<'a> {
    #[serde(borrow, default)]
    nonce: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Challenge<'a> {
    #[serde(borrow, default)]
    rsa_signature: Option<NonceOnly<'a>>,
    #[serde(borrow, default)]
    ecdsa_signature: Option<NonceOnly<'a>>,
}

#[derive(Deserialize)]
struct RsaResponse<'a> {
    #[serde(borrow, default)]
    nonce: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct EcdsaResponse<'a> {
    #[serde(borrow, default)]
    nonce: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    r: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    s: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    rsa_signature: Option<RsaResponse<'a>>,
    #[serde(borrow, default)]
    ecdsa_signature: Option<EcdsaResponse<'a>>,
}

/// SHA-1 of a certificate's DER, lowercase hex: SPIRE's fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    crate::hex::lower(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

fn malformed_cert(reason: impl Into<String>) -> Rejection {
    Rejection::MalformedCertificate {
        reason: reason.into(),
    }
}

fn malformed_challenge(reason: impl Into<String>) -> Rejection {
    Rejection::MalformedChallenge {
        reason: reason.into(),
    }
}

fn bad_proof(reason: impl Into<String>) -> Rejection {
    Rejection::BadProof {
        reason: reason.into(),
    }
}

/// SPIRE's serial number form: lowercase hex of the magnitude, even length.
fn serial_hex(raw: &[u8]) -> String {
    let text = crate::hex::lower(strip_leading_zeros(raw));
    if text.is_empty() {
        "00".into()
    } else {
        text
    }
}

/// `(key, value)` of a leaf URI SAN `x509pop://<td>/<key>/<value…>`, as SPIRE reads them.
fn san_selector<'u>(uri: &'u str, trust_domain: &str) -> Option<(&'u str, &'u str)> {
    let rest = uri.strip_prefix("x509pop://")?;
    let (host, path) = rest.split_once('/')?;
    if host != trust_domain {
        return None;
    }
    let (key, value) = path.split_once('/')?;
    (!key.is_empty() && !value.is_empty()).then_some((key, value))
}

impl X509Pop {
    /// Loads the CA bundles (PEM, one or more certificates each).
    pub fn new(
        bundle_paths: &[&Path],
        max_intermediates: usize,
        max_rsa_key_size: usize,
        template: Template,
        cache: ChainCache,
    ) -> Result<X509Pop, String> {
        let mut roots = Vec::new();
        for path in bundle_paths {
            let bytes = std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
            let mut found = 0;
            for der in CertificateDer::pem_slice_iter(&bytes) {
                let der = der.map_err(|err| format!("{}: {err}", path.display()))?;
                let anchor = webpki::anchor_from_trusted_cert(&der)
                    .map_err(|err| format!("{}: certificate {found}: {err}", path.display()))?
                    .to_owned();
                roots.push(Root {
                    anchor,
                    fingerprint: fingerprint(&der),
                });
                found += 1;
            }
            if found == 0 {
                return Err(format!("{}: no PEM certificates", path.display()));
            }
        }
        if roots.is_empty() {
            return Err("ca_bundle_paths: give at least one CA bundle".into());
        }
        Ok(X509Pop {
            anchors: roots.iter().map(|r| r.anchor.clone()).collect(),
            roots,
            max_intermediates,
            max_rsa_key_size,
            template,
            cache,
            chains: DashMap::with_hasher(RandomState::default()),
        })
    }

    /// The SHA-1 fingerprints of the CA bundle's certificates (the trust anchors), in bundle
    /// order.
    pub fn anchor_fingerprints(&self) -> impl Iterator<Item = &str> + '_ {
        self.roots.iter().map(|root| root.fingerprint.as_str())
    }

    /// The number of verified intermediate chains remembered so far.
    pub fn cached_chains(&self) -> usize {
        self.chains.len()
    }

    /// Verifies one transcript; on success fills `out` and returns the replay key's expiry.
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &self,
        payload: &RawValue,
        challenge: &RawValue,
        response: &RawValue,
        now: i64,
        trust_domain: &str,
        max_selectors: usize,
        scratch: &mut X509PopScratch,
        out: X509PopOutput<'_>,
    ) -> Result<Option<i64>, Rejection> {
        let payload: Payload<'_> = serde_json::from_str(payload.get())
            .map_err(|err| malformed_cert(format!("payload: {err}")))?;
        let count = payload.certificates.len();
        if count == 0 {
            return Err(malformed_cert("payload has no certificates"));
        }
        if count - 1 > self.max_intermediates {
            return Err(Rejection::TooManyIntermediates {
                count: count - 1,
                max: self.max_intermediates,
            });
        }
        let ders = &mut scratch.ders;
        ders.resize_with(count, Vec::new);
        for (i, (text, der)) in payload.certificates.iter().zip(ders.iter_mut()).enumerate() {
            der.clear();
            B64.decode_vec(text.as_bytes(), der)
                .map_err(|err| malformed_cert(format!("certificate {i} is not base64: {err}")))?;
        }
        // A cached chain means these intermediates already parsed, passed the size checks and
        // chained to the bundle (their DER is the key): only the leaf needs parsing then.
        let key = chain_key(&ders[1..count]);
        let cached = match self.cache {
            ChainCache::On => self.chains.get(&key).map(|c| Arc::clone(&c)),
            ChainCache::Off => None,
        };
        let parse = if cached.is_some() { 1 } else { count };
        let mut certs = Vec::with_capacity(parse);
        for (i, der) in ders[..parse].iter().enumerate() {
            let (rest, cert) = X509Certificate::from_der(der)
                .map_err(|err| malformed_cert(format!("certificate {i}: {err}")))?;
            if !rest.is_empty() {
                return Err(malformed_cert(format!("certificate {i}: trailing bytes")));
            }
            if cert.raw_serial().first().is_some_and(|b| b & 0x80 != 0) {
                return Err(malformed_cert(format!(
                    "certificate {i}: negative serial number (Go refuses it)"
                )));
            }
            certs.push(cert);
        }
        for (i, cert) in certs.iter().enumerate() {
            if let Ok(PublicKey::RSA(key)) = cert.public_key().parsed() {
                let bits = bit_len(key.modulus);
                if bits > self.max_rsa_key_size {
                    return Err(Rejection::KeyTooLarge {
                        which: if i == 0 {
                            "the leaf".into()
                        } else {
                            format!("intermediate {i}")
                        },
                        bits,
                        max: self.max_rsa_key_size,
                    });
                }
            }
        }
        let ca_fingerprints = self.verify_chain(&ders[..count], key, cached.as_deref(), now)?;
        let leaf = &certs[0];
        let nonce = self.verify_pop(leaf, challenge, response)?;

        // Selectors, exactly as SPIRE's.
        let selectors = out.selectors;
        selectors.clear();
        let common_name = leaf
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .last()
            .unwrap_or_default();
        if !common_name.is_empty() {
            selectors.push(&["x509pop", "subject", "cn", common_name]);
        }
        for fp in &ca_fingerprints {
            selectors.push(&["x509pop", "ca", "fingerprint", fp]);
        }
        let serial = serial_hex(leaf.raw_serial());
        selectors.push(&["x509pop", "serialnumber", &serial]);
        let mut sans: Vec<(&str, &str)> = Vec::new();
        if let Ok(Some(ext)) = leaf.subject_alternative_name() {
            for name in &ext.value.general_names {
                if let GeneralName::URI(uri) = name {
                    if let Some(pair) = san_selector(uri, trust_domain) {
                        selectors.push(&["x509pop", "san", pair.0, pair.1]);
                        sans.push(pair);
                    }
                }
            }
        }
        selectors.sort_dedup();
        if selectors.len() > max_selectors {
            return Err(Rejection::TooManySelectors {
                count: selectors.len(),
                max: max_selectors,
            });
        }

        let fields = X509Fields {
            fingerprint: fingerprint(&ders[0]),
            serial: &serial,
            common_name,
            sans: &sans,
            trust_domain,
        };
        self.template
            .render_spiffe_path(&fields, out.agent_path)
            .map_err(|reason| Rejection::TemplateError { reason })?;
        out.replay_key.clear();
        out.replay_key.push_str("x509pop:");
        out.replay_key.push_str(&B64.encode(nonce));
        Ok(Some(now.saturating_add(NONCE_LIFETIME)))
    }

    /// Verifies the chain; returns the fingerprints of its non-leaf certificates, root included.
    fn verify_chain(
        &self,
        ders: &[Vec<u8>],
        key: [u8; 32],
        cached: Option<&CachedChain>,
        now: i64,
    ) -> Result<Vec<String>, Rejection> {
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now.max(0) as u64));
        let leaf_der = CertificateDer::from(ders[0].as_slice());
        let leaf = EndEntityCert::try_from(&leaf_der)
            .map_err(|err| malformed_cert(format!("leaf: {err}")))?;
        let algs = webpki::ALL_VERIFICATION_ALGS;
        if let Some(cached) = cached {
            if leaf
                .verify_for_usage(algs, &cached.issuer, &[], time, AnyEku, None, None)
                .is_ok()
            {
                return Ok(cached.fingerprints.clone());
            }
        }
        let intermediates: Vec<CertificateDer<'_>> = ders[1..]
            .iter()
            .map(|d| CertificateDer::from(d.as_slice()))
            .collect();
        let path = leaf
            .verify_for_usage(
                algs,
                &self.anchors,
                &intermediates,
                time,
                AnyEku,
                None,
                None,
            )
            .map_err(|err| Rejection::UntrustedChain {
                reason: describe_webpki(&err),
            })?;
        let mut fingerprints = Vec::new();
        let mut cacheable = path.anchor().name_constraints.is_none();
        let mut issuer = None;
        for cert in path.intermediate_certificates() {
            let der = cert.der();
            fingerprints.push(fingerprint(&der));
            if issuer.is_none() {
                issuer = webpki::anchor_from_trusted_cert(&der)
                    .ok()
                    .map(|a| a.to_owned());
            }
            if let Ok((_, parsed)) = X509Certificate::from_der(&der) {
                if !matches!(parsed.name_constraints(), Ok(None)) {
                    cacheable = false;
                }
            } else {
                cacheable = false;
            }
        }
        let root = self.roots.iter().find(|r| {
            *r.anchor.subject == *path.anchor().subject
                && *r.anchor.subject_public_key_info == *path.anchor().subject_public_key_info
        });
        if let Some(root) = root {
            fingerprints.push(root.fingerprint.clone());
        }
        fingerprints.sort_unstable();
        fingerprints.dedup();
        if self.cache == ChainCache::On && cacheable {
            let issuer = issuer.unwrap_or_else(|| path.anchor().to_owned());
            self.chains.insert(
                key,
                Arc::new(CachedChain {
                    issuer: [issuer],
                    fingerprints: fingerprints.clone(),
                }),
            );
        }
        Ok(fingerprints)
    }

    /// Checks the leaf's key usage and verifies the proof; returns the challenge nonce.
    fn verify_pop(
        &self,
        leaf: &X509Certificate<'_>,
        challenge: &RawValue,
        response: &RawValue,
    ) -> Result<Vec<u8>, Rejection> {
        let usage = leaf
            .key_usage()
            .map_err(|err| malformed_cert(format!("leaf key usage: {err}")))?;
        if !usage.is_some_and(|u| u.value.digital_signature()) {
            return Err(Rejection::BadKeyUsage {
                reason: "the leaf lacks the digitalSignature key usage".into(),
            });
        }
        let challenge: Challenge<'_> = serde_json::from_str(challenge.get())
            .map_err(|err| malformed_challenge(format!("challenge: {err}")))?;
        let response: Response<'_> = serde_json::from_str(response.get())
            .map_err(|err| malformed_challenge(format!("response: {err}")))?;
        let decode = |field: &Option<Cow<'_, str>>, what: &str| -> Result<Vec<u8>, Rejection> {
            match field {
                None => Ok(Vec::new()),
                Some(text) => B64
                    .decode(text.as_bytes())
                    .map_err(|err| malformed_challenge(format!("{what} is not base64: {err}"))),
            }
        };
        let nonces = |c: &Option<Cow<'_, str>>, r: &Option<Cow<'_, str>>| {
            let c = decode(c, "challenge nonce")?;
            let r = decode(r, "response nonce")?;
            for (what, n) in [("challenge", &c), ("response", &r)] {
                if n.len() != NONCE_LEN {
                    return Err(malformed_challenge(format!(
                        "{what} nonce is {} bytes, not {NONCE_LEN}",
                        n.len()
                    )));
                }
            }
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(&c);
            ctx.update(&r);
            Ok((c, ctx.finish()))
        };
        let spki = leaf.public_key();
        match spki.parsed() {
            Ok(PublicKey::RSA(_)) => {
                let c = challenge
                    .rsa_signature
                    .ok_or_else(|| malformed_challenge("expecting an RSA challenge"))?;
                let r = response
                    .rsa_signature
                    .ok_or_else(|| malformed_challenge("expecting an RSA response"))?;
                let (nonce, digest) = nonces(&c.nonce, &r.nonce)?;
                let sig = decode(&r.signature, "signature")?;
                if verify_pss_recovering_salt(&spki.subject_public_key.data, digest.as_ref(), &sig)
                {
                    Ok(nonce)
                } else {
                    Err(bad_proof(
                        "the RSA-PSS signature does not verify with the leaf key",
                    ))
                }
            }
            Ok(PublicKey::EC(point)) => {
                let c = challenge
                    .ecdsa_signature
                    .ok_or_else(|| malformed_challenge("expecting an ECDSA challenge"))?;
                let r = response
                    .ecdsa_signature
                    .ok_or_else(|| malformed_challenge("expecting an ECDSA response"))?;
                let (nonce, digest) = nonces(&c.nonce, &r.nonce)?;
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| oid.to_id_string());
                let alg: &'static signature::EcdsaVerificationAlgorithm = match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => &signature::ECDSA_P256_SHA256_ASN1,
                    Some("1.3.132.0.34") => &signature::ECDSA_P384_SHA256_ASN1,
                    _ => {
                        return Err(Rejection::BadKeyUsage {
                            reason: "the leaf's EC curve is neither P-256 nor P-384".into(),
                        })
                    }
                };
                let sig = ecdsa_der(&decode(&r.r, "r")?, &decode(&r.s, "s")?)
                    .ok_or_else(|| bad_proof("r or s is longer than any curve order"))?;
                let key = signature::ParsedPublicKey::new(alg, point.data())
                    .map_err(|err| malformed_cert(format!("leaf EC key: {err}")))?;
                key.verify_digest_sig(&digest, &sig)
                    .map(|()| nonce)
                    .map_err(|_| bad_proof("the ECDSA signature does not verify with the leaf key"))
            }
            _ => Err(Rejection::BadKeyUsage {
                reason:
                    "the leaf key is neither RSA nor ECDSA, so it cannot answer SPIRE's challenge"
                        .into(),
            }),
        }
    }
}

/// A cache key for a list of intermediates: SHA-256 over their lengths and bytes.
fn chain_key(intermediates: &[Vec<u8>]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for der in intermediates {
        ctx.update(&(der.len() as u64).to_be_bytes());
        ctx.update(der);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

fn describe_webpki(err: &webpki::Error) -> String {
    match err {
        webpki::Error::CertExpired { .. } => "a certificate of the chain has expired".into(),
        webpki::Error::CertNotValidYet { .. } => {
            "a certificate of the chain is not valid yet".into()
        }
        webpki::Error::UnknownIssuer => {
            "no path to a certificate of ca_bundle_paths (unknown issuer)".into()
        }
        other => format!("{other:?}"),
    }
}

/// DER `ECDSA-Sig-Value` from Go's big-endian `r` and `s` (leading zeros allowed, as Go's
/// `big.Int.SetBytes` reads them). `None` when a value is too long for P-256/P-384.
pub fn ecdsa_der(r: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    fn integer(out: &mut Vec<u8>, value: &[u8]) -> Option<()> {
        let value = strip_leading_zeros(value);
        if value.len() > 48 {
            return None;
        }
        let pad = value.first().is_none_or(|&b| b & 0x80 != 0);
        out.push(0x02);
        out.push((value.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
        Some(())
    }
    let mut body = Vec::with_capacity(104);
    integer(&mut body, r)?;
    integer(&mut body, s)?;
    let mut der = Vec::with_capacity(body.len() + 2);
    der.push(0x30);
    der.push(body.len() as u8); // at most 2 * (2 + 49) = 102 < 128: short form
    der.extend_from_slice(&body);
    Some(der)
}

/// RSA-PSS/SHA-256 verification of a 32-byte digest with the salt length recovered from the
/// signature, as Go's `rsa.VerifyPSS(pub, SHA256, digest, sig, nil)` does. `pkcs1` is the leaf's
/// `RSAPublicKey` (the SPKI bit string).
fn verify_pss_recovering_salt(pkcs1: &[u8], digest: &[u8], signature: &[u8]) -> bool {
    /// aws-lc: `RSA_PSS_SALTLEN_AUTO`, recover the salt length when verifying.
    const SALT_LEN_AUTO: std::os::raw::c_int = -2;
    // SAFETY: every pointer handed to aws-lc points into a live Rust slice whose length goes with
    // it; aws-lc only reads them. `RSA_public_key_from_bytes` returns either null (checked) or
    // a fresh RSA object that we own; it is freed exactly once below, after its last use.
    // `EVP_sha256` returns a pointer to a static, never freed.
    unsafe {
        let rsa = aws_lc_sys::RSA_public_key_from_bytes(pkcs1.as_ptr(), pkcs1.len());
        if rsa.is_null() {
            return false;
        }
        let md = aws_lc_sys::EVP_sha256();
        let ok = aws_lc_sys::RSA_verify_pss_mgf1(
            rsa,
            digest.as_ptr(),
            digest.len(),
            md,
            md,
            SALT_LEN_AUTO,
            signature.as_ptr(),
            signature.len(),
        );
        aws_lc_sys::RSA_free(rsa);
        ok == 1
    }
}

/// Template fields of an x509pop record.
struct X509Fields<'a> {
    fingerprint: String,
    serial: &'a str,
    common_name: &'a str,
    sans: &'a [(&'a str, &'a str)],
    trust_domain: &'a str,
}

impl Fields for X509Fields<'_> {
    fn lookup(&self, path: &[Box<str>], out: &mut String) -> Result<(), String> {
        let value = match (
            path[0].as_ref(),
            path.get(1).map(|p| p.as_ref()),
            path.len(),
        ) {
            ("PluginName", None, 1) => "x509pop",
            ("Fingerprint", None, 1) => &self.fingerprint,
            ("SerialNumberHex", None, 1) => self.serial,
            ("TrustDomain", None, 1) => self.trust_domain,
            ("Subject", Some("CommonName"), 2) => self.common_name,
            ("URISanSelectors", Some(key), 2) => self
                .sans
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("map has no entry for key {key:?} (.URISanSelectors)"))?,
            _ => return Err(format!("no field .{}", path.join("."))),
        };
        out.push_str(value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_as_spire_prints_them() {
        assert_eq!(serial_hex(&[0x0a, 0xbc]), "0abc");
        assert_eq!(serial_hex(&[0x00, 0xff]), "ff");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x01]), "01");
    }

    #[test]
    fn san_selectors_follow_spire() {
        let td = "example.org";
        assert_eq!(
            san_selector("x509pop://example.org/dc/us-1", td),
            Some(("dc", "us-1"))
        );
        assert_eq!(
            san_selector("x509pop://example.org/rack/r1/slot/7", td),
            Some(("rack", "r1/slot/7"))
        );
        assert_eq!(san_selector("x509pop://other.org/dc/us-1", td), None);
        assert_eq!(san_selector("x509pop://example.org/onlyone", td), None);
        assert_eq!(san_selector("spiffe://example.org/dc/us-1", td), None);
    }

    #[test]
    fn ecdsa_der_encodes_go_big_ints() {
        assert_eq!(
            ecdsa_der(&[0x01], &[0x80]).unwrap(),
            [0x30, 7, 2, 1, 1, 2, 2, 0, 0x80]
        );
        assert_eq!(
            ecdsa_der(&[0, 0, 5], &[]).unwrap(),
            [0x30, 6, 2, 1, 5, 2, 1, 0]
        );
        assert!(ecdsa_der(&[1; 49], &[1]).is_none());
    }
}
