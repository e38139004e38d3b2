//! The proof of possession, as SPIRE's `GenerateChallenge` (which keys can be challenged) and
//! `VerifyChallengeResponse` (the response over `SHA-256(challenge nonce || response nonce)`,
//! an already-hashed digest: RSA-PSS with any salt length, or ECDSA with raw `r` and `s`).

use aws_lc_rs::digest;

use super::transcript::Branches;
use crate::error::Rejection;
use crate::x509::cert::{Certificate, PublicKey, KEY_USAGE_DIGITAL_SIGNATURE};
use crate::x509::signature;

/// Nonce length of SPIRE's challenge and response.
const NONCE_LEN: usize = 32;

/// `GenerateChallenge`'s checks: the leaf must be meant for signatures and hold an RSA or
/// ECDSA key.
pub fn check_challengeable(leaf: &Certificate) -> Result<(), Rejection> {
    if leaf.key_usage & KEY_USAGE_DIGITAL_SIGNATURE == 0 {
        return Err(Rejection::BadKeyUsage {
            reason:
                "certificate not intended for digital signature use (no digitalSignature key usage)"
                    .into(),
        });
    }
    match leaf.public_key {
        PublicKey::Rsa { .. } | PublicKey::Ecdsa { .. } => Ok(()),
        _ => Err(Rejection::BadKeyUsage {
            reason: format!(
                "unsupported public key type ({}): SPIRE challenges only RSA and ECDSA keys",
                leaf.public_key_algorithm.name()
            ),
        }),
    }
}

fn malformed(reason: impl Into<String>) -> Rejection {
    Rejection::MalformedChallenge {
        reason: reason.into(),
    }
}

/// `combineNonces`.
fn combine(
    challenge: &Option<Vec<u8>>,
    response: &Option<Vec<u8>>,
) -> Result<digest::Digest, Rejection> {
    let c = challenge.as_deref().unwrap_or_default();
    let r = response.as_deref().unwrap_or_default();
    if c.len() != NONCE_LEN {
        return Err(malformed(format!(
            "invalid challenge nonce: {} bytes, not {NONCE_LEN}",
            c.len()
        )));
    }
    if r.len() != NONCE_LEN {
        return Err(malformed(format!(
            "invalid response nonce: {} bytes, not {NONCE_LEN}",
            r.len()
        )));
    }
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(c);
    ctx.update(r);
    Ok(ctx.finish())
}

/// `VerifyChallengeResponse`; returns the challenge nonce (the record's single-use key).
pub fn verify(
    leaf: &Certificate,
    challenge: &Branches,
    response: &Branches,
) -> Result<Vec<u8>, Rejection> {
    match &leaf.public_key {
        PublicKey::Rsa { pkcs1, .. } => {
            let c = challenge
                .rsa
                .as_ref()
                .ok_or_else(|| malformed("expecting RSA challenge"))?;
            let r = response
                .rsa
                .as_ref()
                .ok_or_else(|| malformed("expecting RSA response"))?;
            let combined = combine(&c.nonce, &r.nonce)?;
            let sig = r.signature.as_deref().unwrap_or_default();
            if signature::rsa_pss_verify_any_salt(pkcs1, combined.as_ref(), sig) {
                Ok(c.nonce.clone().unwrap_or_default())
            } else {
                Err(Rejection::BadProof {
                    reason:
                        "RSA signature verify failed (RSA-PSS over the nonces, with the leaf key)"
                            .into(),
                })
            }
        }
        PublicKey::Ecdsa { curve, point } => {
            let c = challenge
                .ecdsa
                .as_ref()
                .ok_or_else(|| malformed("expecting ECDSA challenge"))?;
            let r = response
                .ecdsa
                .as_ref()
                .ok_or_else(|| malformed("expecting ECDSA response"))?;
            let combined = combine(&c.nonce, &r.nonce)?;
            let verified = signature::ecdsa_der(
                r.r.as_deref().unwrap_or_default(),
                r.s.as_deref().unwrap_or_default(),
            )
            .is_some_and(|sig| {
                signature::ecdsa_verify_sha256_digest(*curve, point, &combined, &sig)
            });
            if verified {
                Ok(c.nonce.clone().unwrap_or_default())
            } else {
                Err(Rejection::BadProof {
                    reason:
                        "ECDSA signature verify failed (r, s over the nonces, with the leaf key)"
                            .into(),
                })
            }
        }
        // check_challengeable refused every other key before the proof is looked at.
        _ => Err(malformed("unsupported public key type")),
    }
}
