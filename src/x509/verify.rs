//! `Certificate.Verify` as Go 1.26 runs it for SPIRE's x509pop (`Roots` = the CA bundle,
//! `Intermediates` = the agent's certificates, `KeyUsages` = any): every chain Go would build,
//! with Go's candidate order, its checks on each certificate (the trust anchors' validity,
//! CA flag and key usage included, through `isValid` and `CheckSignatureFrom`), its limit of
//! 100 signature checks, and its name constraint and policy filters on the chains built.
//!
//! Signature checks go through a [`SignatureChecks`] so that a caller verifying many leaves
//! under the same intermediates can remember the checks between CA certificates (pure
//! functions of their bytes); the leaf's own signature is always checked.

use std::collections::HashMap;

use super::asn1time::Time;
use super::cert::Certificate;
use super::{constraints, policy, signature};

/// Go's `maxChainSignatureChecks`.
const MAX_SIGNATURE_CHECKS: usize = 100;

/// How `CheckSignatureFrom` results are obtained.
pub trait SignatureChecks: Sync {
    /// `child.CheckSignatureFrom(parent)`; `child_is_leaf` tells that the child is the
    /// certificate being verified (not worth remembering).
    fn check(
        &self,
        child: &Certificate,
        parent: &Certificate,
        child_is_leaf: bool,
    ) -> Result<(), String>;
}

/// Checks every signature (no memory).
pub struct Direct;

impl SignatureChecks for Direct {
    fn check(&self, child: &Certificate, parent: &Certificate, _: bool) -> Result<(), String> {
        check_signature_from(child, parent)
    }
}

/// Go's `CheckSignatureFrom`.
pub fn check_signature_from(child: &Certificate, parent: &Certificate) -> Result<(), String> {
    const CONSTRAINT: &str =
        "x509: invalid signature: parent certificate cannot sign this kind of certificate";
    if (parent.version == 3 && !parent.basic_constraints_valid)
        || (parent.basic_constraints_valid && !parent.is_ca)
        || !parent.may_sign_certificates()
    {
        return Err(CONSTRAINT.into());
    }
    if parent.public_key_algorithm == super::cert::PublicKeyAlgorithm::Unknown {
        return Err("x509: cannot verify signature: algorithm unimplemented".into());
    }
    signature::check_signature(
        child.signature_algorithm,
        child.raw_tbs(),
        &child.signature,
        &parent.public_key,
    )
}

/// Certificates a chain may be built from, found by subject.
pub trait Source<'a>: Sync {
    /// The certificates whose subject is `subject` (DER), in the order they were added.
    fn with_subject(&self, subject: &[u8]) -> Vec<&'a Certificate>;

    /// A certificate with the same DER is in the source.
    fn contains(&self, cert: &Certificate) -> bool {
        self.with_subject(cert.raw_subject())
            .iter()
            .any(|c| c.raw == cert.raw)
    }
}

/// A set of borrowed certificates, as Go's `CertPool` (a certificate added twice is kept once).
#[derive(Default)]
pub struct Pool<'a> {
    certs: Vec<&'a Certificate>,
}

impl<'a> Pool<'a> {
    /// Adds a certificate unless one with the same DER is already there.
    pub fn add(&mut self, cert: &'a Certificate) {
        if !self.certs.iter().any(|c| c.raw == cert.raw) {
            self.certs.push(cert);
        }
    }
}

impl<'a> Source<'a> for Pool<'a> {
    fn with_subject(&self, subject: &[u8]) -> Vec<&'a Certificate> {
        self.certs
            .iter()
            .copied()
            .filter(|c| c.raw_subject() == subject)
            .collect()
    }
}

/// An owned set of certificates indexed by subject: a trust bundle, built once.
#[derive(Default)]
pub struct OwnedPool {
    certs: Vec<Certificate>,
    by_subject: HashMap<Vec<u8>, Vec<usize>>,
}

impl OwnedPool {
    /// A pool of `certs` (duplicates by DER kept once, as Go's `AddCert`).
    pub fn new(certs: Vec<Certificate>) -> OwnedPool {
        let mut pool = OwnedPool::default();
        for cert in certs {
            if pool.contains_der(&cert) {
                continue;
            }
            pool.by_subject
                .entry(cert.raw_subject().to_vec())
                .or_default()
                .push(pool.certs.len());
            pool.certs.push(cert);
        }
        pool
    }

    fn contains_der(&self, cert: &Certificate) -> bool {
        self.by_subject
            .get(cert.raw_subject())
            .is_some_and(|ids| ids.iter().any(|&i| self.certs[i].raw == cert.raw))
    }

    /// The certificates.
    pub fn certs(&self) -> &[Certificate] {
        &self.certs
    }
}

impl<'a> Source<'a> for &'a OwnedPool {
    fn with_subject(&self, subject: &[u8]) -> Vec<&'a Certificate> {
        self.by_subject
            .get(subject)
            .map(|ids| ids.iter().map(|&i| &self.certs[i]).collect())
            .unwrap_or_default()
    }
}

/// `findPotentialParents`: certificates whose subject is `cert`'s issuer, those whose subject
/// key ID matches `cert`'s authority key ID first, then those where one of the two is
/// missing, then the rest.
fn potential_parents<'a>(source: &dyn Source<'a>, cert: &Certificate) -> Vec<&'a Certificate> {
    let (mut matching, mut one, mut mismatch) = (Vec::new(), Vec::new(), Vec::new());
    for c in source.with_subject(cert.raw_issuer()) {
        if c.subject_key_id == cert.authority_key_id {
            matching.push(c);
        } else if c.subject_key_id.is_empty() != cert.authority_key_id.is_empty() {
            one.push(c);
        } else {
            mismatch.push(c);
        }
    }
    matching.extend(one);
    matching.extend(mismatch);
    matching
}

/// The options of one verification.
pub struct Options<'p, 'a> {
    /// The trust anchors.
    pub roots: &'p dyn Source<'a>,
    /// The intermediates offered with the leaf.
    pub intermediates: &'p dyn Source<'a>,
    /// The time to verify at (Unix seconds).
    pub now: i64,
    /// How signatures are checked.
    pub signatures: &'p dyn SignatureChecks,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    Intermediate,
    Root,
}

/// Go's `time.RFC3339` of a certificate time, in the zone it was written in.
fn rfc3339(t: Time) -> String {
    let local = t.unix + i64::from(t.offset);
    let text = crate::time::fmt_unix(local).unwrap_or_else(|| local.to_string());
    if t.offset == 0 {
        return text;
    }
    let sign = if t.offset < 0 { '-' } else { '+' };
    let off = t.offset.unsigned_abs();
    format!(
        "{}{sign}{:02}:{:02}",
        &text[..text.len() - 1],
        off / 3600,
        off % 3600 / 60
    )
}

/// `isValid`.
fn is_valid(
    cert: &Certificate,
    kind: Kind,
    chain: &[&Certificate],
    now: i64,
) -> Result<(), String> {
    if !cert.unhandled_critical.is_empty() {
        return Err("x509: unhandled critical extension".into());
    }
    if let Some(child) = chain.last() {
        if child.raw_issuer() != cert.raw_subject() {
            return Err("x509: issuer name does not match subject from issuing certificate".into());
        }
    }
    let now_text = || crate::time::fmt_unix(now).unwrap_or_else(|| now.to_string());
    if now < cert.not_before.unix {
        return Err(format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            now_text(),
            rfc3339(cert.not_before)
        ));
    }
    if now > cert.not_after.unix {
        return Err(format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            now_text(),
            rfc3339(cert.not_after)
        ));
    }
    if kind == Kind::Intermediate && (!cert.basic_constraints_valid || !cert.is_ca) {
        return Err("x509: certificate is not authorized to sign other certificates".into());
    }
    if cert.basic_constraints_valid && cert.max_path_len >= 0 {
        let intermediates = chain.len() as i64 - 1;
        if intermediates > cert.max_path_len {
            return Err("x509: too many intermediates for path length constraint".into());
        }
    }
    Ok(())
}

/// `alreadyInChain`: same subject, same key and same SAN extension (or both without one).
fn already_in_chain(candidate: &Certificate, chain: &[&Certificate]) -> bool {
    chain.iter().any(|c| {
        c.raw_subject() == candidate.raw_subject()
            && c.raw_spki() == candidate.raw_spki()
            && c.san_value == candidate.san_value
    })
}

/// The certificate's name for messages, as Go's `UnknownAuthorityError` names it.
fn cert_name(cert: &Certificate) -> String {
    if !cert.subject.common_name.is_empty() {
        return cert.subject.common_name.clone();
    }
    if let Some(org) = cert.subject.organization.first() {
        return org.clone();
    }
    format!("serial:{}", super::cert::decimal(&cert.serial.magnitude))
}

const SIGNATURE_LIMIT: &str =
    "x509: signature check attempts limit reached while verifying certificate chain";

struct Builder<'p, 'a> {
    opts: &'p Options<'p, 'a>,
    checks: usize,
}

impl<'a> Builder<'_, 'a> {
    /// `buildChains` from the last certificate of `chain`: the chains found, or the error Go
    /// returns (its named `err` as the candidate loop last set it, else an unknown authority).
    fn build(&mut self, chain: &[&'a Certificate]) -> Result<Vec<Vec<&'a Certificate>>, String> {
        let cert = chain[chain.len() - 1];
        let mut chains = Vec::new();
        let mut hint: Option<(String, &Certificate)> = None;
        let mut err: Option<String> = None;
        'candidates: for (kind, pool) in [
            (Kind::Root, self.opts.roots),
            (Kind::Intermediate, self.opts.intermediates),
        ] {
            for candidate in potential_parents(pool, cert) {
                self.checks += 1;
                if self.checks > MAX_SIGNATURE_CHECKS {
                    err = Some(SIGNATURE_LIMIT.into());
                    break 'candidates;
                }
                if matches!(candidate.public_key, super::cert::PublicKey::None)
                    || already_in_chain(candidate, chain)
                {
                    continue;
                }
                if let Err(e) = self
                    .opts
                    .signatures
                    .check(cert, candidate, chain.len() == 1)
                {
                    hint.get_or_insert((e, candidate));
                    continue;
                }
                // Go assigns isValid's result to the error it returns: a later candidate's
                // failure is what an empty result reports.
                err = is_valid(candidate, kind, chain, self.opts.now).err();
                if let Some(e) = &err {
                    hint.get_or_insert((e.clone(), candidate));
                    continue;
                }
                let mut longer = chain.to_vec();
                longer.push(candidate);
                match kind {
                    Kind::Root => chains.push(longer),
                    _ => match self.build(&longer) {
                        Ok(found) => chains.extend(found),
                        Err(e) => err = Some(e),
                    },
                }
                if err.as_deref() == Some(SIGNATURE_LIMIT) {
                    break 'candidates;
                }
            }
        }
        if !chains.is_empty() {
            return Ok(chains);
        }
        if let Some(e) = err {
            return Err(e);
        }
        let mut message = "x509: certificate signed by unknown authority".to_string();
        if let Some((e, c)) = hint {
            message.push_str(&format!(
                " (possibly because of {e:?} while trying to verify candidate authority certificate {:?})",
                cert_name(c)
            ));
        }
        Err(message)
    }
}

/// `leaf.Verify(opts)` with any extended key usage accepted: the chains, each from the leaf
/// to a trust anchor, or Go's error.
pub fn verify<'a>(
    leaf: &'a Certificate,
    opts: &Options<'_, 'a>,
) -> Result<Vec<Vec<&'a Certificate>>, String> {
    is_valid(leaf, Kind::Leaf, &[], opts.now)?;
    let candidates = if opts.roots.contains(leaf) {
        vec![vec![leaf]]
    } else {
        let mut builder = Builder { opts, checks: 0 };
        builder.build(&[leaf])?
    };
    let mut invalid_policies = 0;
    let mut constraints_hint = None;
    let chains: Vec<Vec<&Certificate>> = candidates
        .into_iter()
        .filter(|chain| {
            if !policy::policies_valid(chain) {
                invalid_policies += 1;
                return false;
            }
            if let Err(err) = constraints::check_chain(chain) {
                constraints_hint.get_or_insert(err);
                return false;
            }
            true
        })
        .collect();
    if !chains.is_empty() {
        return Ok(chains);
    }
    if let Some(err) = constraints_hint {
        return Err(format!(
            "x509: a root or intermediate certificate is not authorized to sign for this name: {err}"
        ));
    }
    Err(format!(
        "x509: no valid chains built: {invalid_policies} candidate chains with invalid policies"
    ))
}
