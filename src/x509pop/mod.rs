//! x509pop attestation, as SPIRE's x509pop server plugin does it
//! (pkg/server/plugin/nodeattestor/x509pop and pkg/common/plugin/x509pop, v1.13.3, with the
//! `max_intermediates` and `max_rsa_key_size` limits of v1.13.4 and later), with the
//! challenge and response carried in the record.
//!
//! Checks in SPIRE's order: the payload (Go's JSON), the number of intermediates (before any
//! certificate is parsed), the leaf (parsed as Go parses it, then its RSA key size), each
//! intermediate in turn (likewise), the chain to the trust bundle at `--now` exactly as Go's
//! `Certificate.Verify` builds it (every chain, see [`crate::x509`]), the leaf's fitness for
//! a challenge (digitalSignature, an RSA or ECDSA key), the response, SPIFFE mode's SVID path,
//! the agent ID, then the selectors.
//!
//! | file | job |
//! |---|---|
//! | [`transcript`] | the record's payload, challenge and response, as Go's `encoding/json` reads them |
//! | [`bundle`] | CA bundle files, as SPIRE's `util.LoadCertificates` reads them |
//! | [`pop`] | the proof of possession |
//! | this file | the checks in order, selectors, template fields, caches |
//!
//! # Caches
//! A fleet's leaves share a handful of intermediates. Parsed intermediates are kept by the
//! SHA-256 of their DER, and signature checks between two CA certificates (an intermediate
//! and its issuer) by the SHA-256 of both; each is a pure function of those bytes, so a
//! cached answer is the answer. Everything else (validity at `--now`, path lengths, name
//! constraints, policies, the leaf's signature) is evaluated for every record, so the caches
//! cannot change a verdict; a test compares cached and uncached runs. Both caches stop growing
//! at [`CACHE_ENTRIES`] entries.

pub mod bundle;
pub mod pop;
pub mod transcript;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use dashmap::DashMap;
use foldhash::fast::RandomState;
use serde_json::value::RawValue;

use crate::error::{clip, Rejection};
use crate::selectors::SelectorSet;
use crate::template::{Fields, Template};
use crate::x509::verify::{self, OwnedPool, Pool, SignatureChecks};
use crate::x509::{self, Certificate};

/// The default agent path template, as SPIRE's (`external_pki` mode).
pub const DEFAULT_TEMPLATE: &str = "/{{ .PluginName }}/{{ .Fingerprint }}";
/// The default agent path template in `spiffe` mode, as SPIRE's.
pub const DEFAULT_SPIFFE_TEMPLATE: &str = "/{{ .PluginName }}/{{ .SVIDPathTrimmed }}";
/// SPIRE's default `spiffe_prefix`.
pub const DEFAULT_SPIFFE_PREFIX: &str = "/spire-exchange/";
/// Template fields an x509pop record provides.
pub const TEMPLATE_ROOTS: &[&str] = &[
    "PluginName",
    "Fingerprint",
    "SerialNumberHex",
    "Subject",
    "URISanSelectors",
    "TrustDomain",
    "SVIDPathTrimmed",
];
/// SPIRE's default `max_intermediates` (v1.13.4 and later).
pub const DEFAULT_MAX_INTERMEDIATES: usize = 4;
/// SPIRE's default `max_rsa_key_size` (v1.13.4 and later).
pub const DEFAULT_MAX_RSA_KEY_SIZE: usize = 8192;
/// The longest a consumed challenge nonce is remembered: until the leaf's `notAfter` (after it
/// the transcript fails the chain check anyway), but at most 398 days (the CA/Browser Forum's
/// limit on a certificate's validity), so that the state of a fleet of long-lived leaves stays
/// bounded. A transcript of a leaf valid for longer can attest again after that.
pub const MAX_NONCE_RETENTION: i64 = 398 * 86_400;
/// The most entries each cache holds: far more distinct intermediates than a fleet has, and a
/// bound on what a stream of made-up ones can cost (a few MiB).
pub const CACHE_ENTRIES: usize = 4096;

/// Where the trust bundle comes from (SPIRE's `mode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `external_pki`: `ca_bundle_path(s)`.
    ExternalPki,
    /// `spiffe`: the server's own bundle, and the leaf's SPIFFE ID path under `prefix`.
    Spiffe {
        /// `spiffe_prefix`, ending in `/`.
        prefix: String,
    },
}

/// Whether the caches are used (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainCache {
    /// Reuse parsed intermediates and CA signature checks (the default).
    On,
    /// Parse and check everything for every record (for comparison in tests and benchmarks).
    Off,
}

/// The compiled `[x509pop]` section.
pub struct X509Pop {
    mode: Mode,
    roots: OwnedPool,
    max_intermediates: usize,
    max_rsa_key_size: usize,
    template: Template,
    cache: ChainCache,
    parsed: DashMap<[u8; 32], Arc<Result<Certificate, String>>, RandomState>,
    signatures: Memo,
}

/// Per-worker buffers for x509pop (none needed today; kept for the verifier's shape).
#[derive(Default)]
pub struct X509PopScratch {}

/// Outputs of a verified x509pop record.
pub struct X509PopOutput<'o> {
    /// Receives the selectors.
    pub selectors: &'o mut SelectorSet,
    /// Receives the agent path.
    pub agent_path: &'o mut String,
    /// Receives the challenge-nonce replay key.
    pub replay_key: &'o mut String,
}

/// A signature check between two certificates, by the SHA-256 of (child, parent).
type CheckKey = ([u8; 32], [u8; 32]);

/// Remembered CA-to-CA signature checks.
struct Memo {
    on: bool,
    checks: DashMap<CheckKey, Result<(), String>, RandomState>,
}

impl SignatureChecks for Memo {
    fn check(
        &self,
        child: &Certificate,
        parent: &Certificate,
        child_is_leaf: bool,
    ) -> Result<(), String> {
        if child_is_leaf || !self.on {
            return verify::check_signature_from(child, parent);
        }
        let key = (child.digest, parent.digest);
        if let Some(known) = self.checks.get(&key) {
            return known.clone();
        }
        let result = verify::check_signature_from(child, parent);
        if self.checks.len() < CACHE_ENTRIES {
            self.checks.insert(key, result.clone());
        }
        result
    }
}

/// SPIRE's serial number form: lowercase hex of the magnitude, even length.
fn serial_hex(magnitude: &[u8]) -> String {
    let text = crate::hex::lower(magnitude);
    let text = text.trim_start_matches('0');
    if text.len() % 2 == 1 {
        format!("0{text}")
    } else if text.is_empty() {
        "00".into()
    } else {
        text.to_string()
    }
}

/// SPIRE's SAN selectors: for each URI SAN whose Go `String()` starts with
/// `x509pop://<td>/`, the decoded path without leading and trailing `/`, split once into key
/// and value; a later key replaces an earlier one. Keys in first-seen order.
/// Keys and values are the decoded bytes, which need not be UTF-8 (`%FF`).
fn san_selectors(leaf: &Certificate, trust_domain: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let prefix = format!("x509pop://{trust_domain}/");
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for uri in &leaf.uris {
        if !uri.to_bytes().starts_with(prefix.as_bytes()) {
            continue;
        }
        let path = trim_slashes(&uri.path);
        let Some(at) = path.iter().position(|&b| b == b'/') else {
            continue;
        };
        let (key, value) = (&path[..at], &path[at + 1..]);
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value.to_vec(),
            None => pairs.push((key.to_vec(), value.to_vec())),
        }
    }
    pairs
}

/// Go's `strings.Trim(s, "/")`.
fn trim_slashes(mut s: &[u8]) -> &[u8] {
    while let [b'/', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'/'] = s {
        s = rest;
    }
    s
}

impl X509Pop {
    /// A verifier trusting `roots` (the CA bundles, or in SPIFFE mode the server's bundle).
    pub fn new(
        mode: Mode,
        roots: Vec<Certificate>,
        max_intermediates: usize,
        max_rsa_key_size: usize,
        template: Template,
        cache: ChainCache,
    ) -> X509Pop {
        X509Pop {
            mode,
            roots: OwnedPool::new(roots),
            max_intermediates,
            max_rsa_key_size,
            template,
            cache,
            parsed: DashMap::with_hasher(RandomState::default()),
            signatures: Memo {
                on: cache == ChainCache::On,
                checks: DashMap::with_hasher(RandomState::default()),
            },
        }
    }

    /// The number of parsed intermediates remembered so far.
    pub fn cached_intermediates(&self) -> usize {
        self.parsed.len()
    }

    /// The SHA-1 fingerprints of the trust bundle's certificates (the trust anchors), in
    /// bundle order.
    pub fn anchor_fingerprints(&self) -> impl Iterator<Item = String> + '_ {
        self.roots.certs().iter().map(Certificate::fingerprint)
    }

    /// The trust bundle's certificates.
    pub fn roots(&self) -> &[Certificate] {
        self.roots.certs()
    }

    fn parse_intermediate(&self, der: &[u8]) -> Arc<Result<Certificate, String>> {
        if self.cache == ChainCache::Off {
            return Arc::new(x509::parse(der));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref());
        if let Some(known) = self.parsed.get(&key) {
            return Arc::clone(&known);
        }
        let parsed = Arc::new(x509::parse(der));
        if self.parsed.len() < CACHE_ENTRIES {
            self.parsed.insert(key, Arc::clone(&parsed));
        }
        parsed
    }

    fn check_key_size(
        &self,
        cert: &Certificate,
        which: impl FnOnce() -> String,
    ) -> Result<(), Rejection> {
        match cert.rsa_bits() {
            Some(bits) if bits > self.max_rsa_key_size => Err(Rejection::KeyTooLarge {
                which: which(),
                bits,
                max: self.max_rsa_key_size,
            }),
            _ => Ok(()),
        }
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
        _scratch: &mut X509PopScratch,
        out: X509PopOutput<'_>,
    ) -> Result<Option<i64>, Rejection> {
        let malformed = |reason: String| Rejection::MalformedCertificate { reason };
        let ders = transcript::payload(payload)
            .map_err(|err| malformed(format!("failed to unmarshal data: {err}")))?;
        if ders.is_empty() {
            return Err(malformed("no certificate to attest".into()));
        }
        if ders.len() - 1 > self.max_intermediates {
            return Err(Rejection::TooManyIntermediates {
                count: ders.len() - 1,
                max: self.max_intermediates,
            });
        }
        let leaf = x509::parse(&ders[0])
            .map_err(|err| malformed(format!("unable to parse leaf certificate: {err}")))?;
        self.check_key_size(&leaf, || "the leaf".into())?;
        let mut parsed = Vec::with_capacity(ders.len() - 1);
        for (i, der) in ders[1..].iter().enumerate() {
            let cert = self.parse_intermediate(der);
            match &*cert {
                Err(err) => {
                    return Err(malformed(format!(
                        "unable to parse intermediate certificate {i}: {err}"
                    )))
                }
                Ok(c) => self.check_key_size(c, || format!("intermediate {i}"))?,
            }
            parsed.push(cert);
        }
        let mut intermediates = Pool::default();
        for cert in parsed.iter().filter_map(|c| c.as_ref().as_ref().ok()) {
            intermediates.add(cert);
        }
        let roots = &self.roots;
        let chains = verify::verify(
            &leaf,
            &verify::Options {
                roots: &roots,
                intermediates: &intermediates,
                now,
                signatures: &self.signatures,
            },
        )
        .map_err(|reason| Rejection::UntrustedChain {
            reason: format!("certificate verification failed: {reason}"),
        })?;
        pop::check_challengeable(&leaf)?;
        let challenge = transcript::branches(challenge, false).map_err(|err| {
            Rejection::MalformedChallenge {
                reason: format!("unable to unmarshal challenge: {err}"),
            }
        })?;
        let response =
            transcript::branches(response, true).map_err(|err| Rejection::MalformedChallenge {
                reason: format!("unable to unmarshal challenge response: {err}"),
            })?;
        let nonce = pop::verify(&leaf, &challenge, &response)?;

        let svid_path = match &self.mode {
            Mode::ExternalPki => String::new(),
            Mode::Spiffe { prefix } => {
                let uri = leaf
                    .uris
                    .iter()
                    .find(|u| u.scheme == "spiffe")
                    .ok_or(Rejection::NotAnSvid)?;
                let path = uri.escaped_path();
                path.strip_prefix(prefix.as_str())
                    .ok_or_else(|| Rejection::SvidPrefixMismatch {
                        path: path.clone(),
                        prefix: prefix.clone(),
                    })?
                    .to_string()
            }
        };
        let sans = san_selectors(&leaf, trust_domain);
        let serial = serial_hex(&leaf.serial.magnitude);
        let fields = X509Fields {
            fingerprint: leaf.fingerprint(),
            serial: &serial,
            common_name: &leaf.subject.common_name,
            sans: &sans,
            trust_domain,
            svid_path: &svid_path,
        };
        self.template
            .render_spiffe_path(&fields, out.agent_path)
            .map_err(|reason| Rejection::TemplateError { reason })?;

        // Selectors, exactly as SPIRE's.
        let selectors = out.selectors;
        selectors.clear();
        if !leaf.subject.common_name.is_empty() {
            selectors.push(&["x509pop", "subject", "cn", &leaf.subject.common_name]);
        }
        for chain in &chains {
            for cert in &chain[1..] {
                selectors.push(&["x509pop", "ca", "fingerprint", &cert.fingerprint()]);
            }
        }
        selectors.push(&["x509pop", "serialnumber", &serial]);
        for (key, value) in &sans {
            // SPIRE cannot store a selector that is not UTF-8 (its gRPC refuses to marshal it).
            let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value))
            else {
                return Err(Rejection::InvalidSelector {
                    reason: format!(
                        "the URI SAN selector san:{}:{} is not UTF-8 once percent-decoded; SPIRE \
                         cannot store it (string field contains invalid UTF-8)",
                        clip(&String::from_utf8_lossy(key)),
                        clip(&String::from_utf8_lossy(value))
                    ),
                });
            };
            selectors.push(&["x509pop", "san", key, value]);
        }
        selectors.sort_dedup();
        if selectors.len() > max_selectors {
            return Err(Rejection::TooManySelectors {
                count: selectors.len(),
                max: max_selectors,
            });
        }
        out.replay_key.clear();
        out.replay_key.push_str("x509pop:");
        out.replay_key.push_str(&B64.encode(nonce));
        Ok(Some(
            leaf.not_after
                .unix
                .min(now.saturating_add(MAX_NONCE_RETENTION)),
        ))
    }
}

/// Template fields of an x509pop record.
struct X509Fields<'a> {
    fingerprint: String,
    serial: &'a str,
    common_name: &'a str,
    sans: &'a [(Vec<u8>, Vec<u8>)],
    trust_domain: &'a str,
    svid_path: &'a str,
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
            ("SVIDPathTrimmed", None, 1) => self.svid_path,
            ("Subject", Some("CommonName"), 2) => self.common_name,
            ("URISanSelectors", Some(key), 2) => {
                let value = self
                    .sans
                    .iter()
                    .find(|(k, _)| k == key.as_bytes())
                    .map(|(_, v)| v)
                    .ok_or_else(|| {
                        format!("map has no entry for key {key:?} (.URISanSelectors)")
                    })?;
                // Bytes that are not UTF-8 are not ASCII either: the path check refuses them.
                out.push_str(&String::from_utf8_lossy(value));
                return Ok(());
            }
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
        assert_eq!(serial_hex(&[0xff]), "ff");
        assert_eq!(serial_hex(&[]), "00");
        assert_eq!(serial_hex(&[0x01]), "01");
        assert_eq!(serial_hex(&[0x0f, 0xff]), "0fff");
    }
}
