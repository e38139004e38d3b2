//! Signature checks as Go's `crypto/x509` makes them (`checkSignature` with SHA-1 refused), on
//! aws-lc: RSA PKCS #1 v1.5 and PSS (salt as long as the hash) at any size Go accepts, ECDSA
//! on P-224/P-256/P-384/P-521 with any SHA-2, and Ed25519.
//!
//! aws-lc-rs covers the usual cases; RSA outside its 2048–8192-bit window and P-224 (which
//! Go verifies and aws-lc-rs does not expose) go through aws-lc-sys, the same C library.

use std::os::raw::c_int;

use aws_lc_rs::{digest, signature};

use super::cert::{Curve, PublicKey, SignatureAlgorithm};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    None,
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Unknown,
    Rsa,
    Dsa,
    Ecdsa,
    Ed25519,
}

/// Go's `signatureAlgorithmDetails`: the hash and key type each algorithm names.
fn details(alg: SignatureAlgorithm) -> (Hash, KeyKind, bool) {
    use SignatureAlgorithm::*;
    match alg {
        Unknown => (Hash::None, KeyKind::Unknown, false),
        Md5WithRsa => (Hash::Md5, KeyKind::Rsa, false),
        Sha1WithRsa => (Hash::Sha1, KeyKind::Rsa, false),
        Sha256WithRsa => (Hash::Sha256, KeyKind::Rsa, false),
        Sha384WithRsa => (Hash::Sha384, KeyKind::Rsa, false),
        Sha512WithRsa => (Hash::Sha512, KeyKind::Rsa, false),
        Sha256WithRsaPss => (Hash::Sha256, KeyKind::Rsa, true),
        Sha384WithRsaPss => (Hash::Sha384, KeyKind::Rsa, true),
        Sha512WithRsaPss => (Hash::Sha512, KeyKind::Rsa, true),
        DsaWithSha1 => (Hash::Sha1, KeyKind::Dsa, false),
        DsaWithSha256 => (Hash::Sha256, KeyKind::Dsa, false),
        EcdsaWithSha1 => (Hash::Sha1, KeyKind::Ecdsa, false),
        EcdsaWithSha256 => (Hash::Sha256, KeyKind::Ecdsa, false),
        EcdsaWithSha384 => (Hash::Sha384, KeyKind::Ecdsa, false),
        EcdsaWithSha512 => (Hash::Sha512, KeyKind::Ecdsa, false),
        PureEd25519 => (Hash::None, KeyKind::Ed25519, false),
    }
}

const UNSUPPORTED: &str = "x509: cannot verify signature: algorithm unimplemented";

fn key_kind_name(k: KeyKind) -> &'static str {
    match k {
        KeyKind::Unknown => "0",
        KeyKind::Rsa => "RSA",
        KeyKind::Dsa => "DSA",
        KeyKind::Ecdsa => "ECDSA",
        KeyKind::Ed25519 => "Ed25519",
    }
}

/// Go's `checkSignature(algo, signed, signature, publicKey, allowSHA1 = false)`.
pub fn check_signature(
    alg: SignatureAlgorithm,
    signed: &[u8],
    sig: &[u8],
    key: &PublicKey,
) -> Result<(), String> {
    let (hash, kind, pss) = details(alg);
    match hash {
        Hash::None if kind != KeyKind::Ed25519 => return Err(UNSUPPORTED.into()),
        Hash::Md5 | Hash::Sha1 => {
            return Err(format!(
                "x509: cannot verify signature: insecure algorithm {}",
                alg.name()
            ))
        }
        _ => {}
    }
    let mismatch = |have: &str| {
        format!(
            "x509: signature algorithm specifies an {} public key, but have public key of type {have}",
            key_kind_name(kind)
        )
    };
    match key {
        PublicKey::Rsa {
            modulus,
            exponent,
            pkcs1,
        } => {
            if kind != KeyKind::Rsa {
                return Err(mismatch("*rsa.PublicKey"));
            }
            check_rsa_key(modulus, *exponent)?;
            let digest = hash_of(hash, signed);
            let ok = if pss {
                rsa_pss_verify(
                    pkcs1,
                    hash,
                    digest.as_ref(),
                    sig,
                    digest.as_ref().len() as c_int,
                )
            } else {
                rsa_pkcs1_verify(pkcs1, hash, digest.as_ref(), sig)
            };
            ok.then_some(())
                .ok_or_else(|| "crypto/rsa: verification error".into())
        }
        PublicKey::Ecdsa { curve, point } => {
            if kind != KeyKind::Ecdsa {
                return Err(mismatch("*ecdsa.PublicKey"));
            }
            let digest = hash_of(hash, signed);
            ecdsa_verify_digest(*curve, point, hash, &digest, sig)
                .then_some(())
                .ok_or_else(|| "x509: ECDSA verification failure".into())
        }
        PublicKey::Ed25519(key) => {
            if kind != KeyKind::Ed25519 {
                return Err(mismatch("ed25519.PublicKey"));
            }
            signature::UnparsedPublicKey::new(&signature::ED25519, key)
                .verify(signed, sig)
                .map_err(|_| "x509: Ed25519 verification failure".into())
        }
        PublicKey::Dsa | PublicKey::None => Err(UNSUPPORTED.into()),
    }
}

/// The checks Go's `crypto/rsa` makes of a public key before it verifies.
fn check_rsa_key(modulus: &[u8], exponent: i64) -> Result<(), String> {
    let bits = crate::keys::bit_len(modulus);
    if modulus.last().is_none_or(|b| b & 1 == 0) {
        return Err("crypto/rsa: public modulus is even".into());
    }
    if bits < 1024 {
        return Err(format!(
            "crypto/rsa: {bits}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"
        ));
    }
    if exponent < 2 {
        return Err("crypto/rsa: public exponent too small or negative".into());
    }
    if exponent & 1 == 0 {
        return Err("crypto/rsa: public exponent is even".into());
    }
    if exponent > (1 << 31) - 1 {
        return Err("crypto/rsa: public exponent too large".into());
    }
    Ok(())
}

enum Hashed {
    Digest(digest::Digest),
    Raw(Vec<u8>),
}

impl AsRef<[u8]> for Hashed {
    fn as_ref(&self) -> &[u8] {
        match self {
            Hashed::Digest(d) => d.as_ref(),
            Hashed::Raw(r) => r,
        }
    }
}

fn hash_of(hash: Hash, data: &[u8]) -> Hashed {
    let alg = match hash {
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
        // Not reached: check_signature returns before hashing for the others.
        _ => return Hashed::Raw(Vec::new()),
    };
    Hashed::Digest(digest::digest(alg, data))
}

fn hash_nid(hash: Hash) -> c_int {
    match hash {
        Hash::Sha384 => aws_lc_sys::NID_sha384,
        Hash::Sha512 => aws_lc_sys::NID_sha512,
        _ => aws_lc_sys::NID_sha256,
    }
}

fn evp_md(hash: Hash) -> *const aws_lc_sys::EVP_MD {
    // SAFETY: these return pointers to static digest descriptions, never freed.
    unsafe {
        match hash {
            Hash::Sha384 => aws_lc_sys::EVP_sha384(),
            Hash::Sha512 => aws_lc_sys::EVP_sha512(),
            _ => aws_lc_sys::EVP_sha256(),
        }
    }
}

/// Runs `f` with an aws-lc RSA key parsed from a PKCS #1 `RSAPublicKey`, freed afterwards.
fn with_rsa(pkcs1: &[u8], f: impl FnOnce(*mut aws_lc_sys::RSA) -> bool) -> bool {
    // SAFETY: `RSA_public_key_from_bytes` reads `pkcs1.len()` bytes from a live slice and
    // returns null (checked) or a new RSA object we own; it is freed exactly once, after `f`,
    // which only passes it to aws-lc functions that borrow it.
    unsafe {
        let rsa = aws_lc_sys::RSA_public_key_from_bytes(pkcs1.as_ptr(), pkcs1.len());
        if rsa.is_null() {
            return false;
        }
        let ok = f(rsa);
        aws_lc_sys::RSA_free(rsa);
        ok
    }
}

fn rsa_pkcs1_verify(pkcs1: &[u8], hash: Hash, digest: &[u8], sig: &[u8]) -> bool {
    with_rsa(pkcs1, |rsa| {
        // SAFETY: `rsa` is a live key (see `with_rsa`); the digest and signature pointers
        // come with their slices' lengths and are only read.
        unsafe {
            aws_lc_sys::RSA_verify(
                hash_nid(hash),
                digest.as_ptr(),
                digest.len(),
                sig.as_ptr(),
                sig.len(),
                rsa,
            ) == 1
        }
    })
}

fn rsa_pss_verify(pkcs1: &[u8], hash: Hash, digest: &[u8], sig: &[u8], salt: c_int) -> bool {
    with_rsa(pkcs1, |rsa| {
        let md = evp_md(hash);
        // SAFETY: as in `rsa_pkcs1_verify`; `md` is static.
        unsafe {
            aws_lc_sys::RSA_verify_pss_mgf1(
                rsa,
                digest.as_ptr(),
                digest.len(),
                md,
                md,
                salt,
                sig.as_ptr(),
                sig.len(),
            ) == 1
        }
    })
}

/// RSA-PSS/SHA-256 over a 32-byte digest with the salt length recovered from the signature,
/// as Go's `rsa.VerifyPSS(pub, SHA256, digest, sig, nil)` (x509pop's proof of possession).
pub fn rsa_pss_verify_any_salt(pkcs1: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    /// aws-lc: `RSA_PSS_SALTLEN_AUTO`, recover the salt length when verifying.
    const SALT_LEN_AUTO: c_int = -2;
    rsa_pss_verify(pkcs1, Hash::Sha256, digest, sig, SALT_LEN_AUTO)
}

fn ecdsa_alg(curve: Curve, hash: Hash) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
    use signature::*;
    Some(match (curve, hash) {
        (Curve::P256, Hash::Sha256) => &ECDSA_P256_SHA256_ASN1,
        (Curve::P256, Hash::Sha384) => &ECDSA_P256_SHA384_ASN1,
        (Curve::P256, Hash::Sha512) => &ECDSA_P256_SHA512_ASN1,
        (Curve::P384, Hash::Sha256) => &ECDSA_P384_SHA256_ASN1,
        (Curve::P384, Hash::Sha384) => &ECDSA_P384_SHA384_ASN1,
        (Curve::P384, Hash::Sha512) => &ECDSA_P384_SHA512_ASN1,
        (Curve::P521, Hash::Sha256) => &ECDSA_P521_SHA256_ASN1,
        (Curve::P521, Hash::Sha384) => &ECDSA_P521_SHA384_ASN1,
        (Curve::P521, Hash::Sha512) => &ECDSA_P521_SHA512_ASN1,
        _ => return None,
    })
}

/// ECDSA (DER signature) over an already computed digest.
fn ecdsa_verify_digest(
    curve: Curve,
    point: &[u8],
    hash: Hash,
    digest: &Hashed,
    sig: &[u8],
) -> bool {
    match (ecdsa_alg(curve, hash), digest) {
        (Some(alg), Hashed::Digest(d)) => signature::ParsedPublicKey::new(alg, point)
            .is_ok_and(|key| key.verify_digest_sig(d, sig).is_ok()),
        _ => with_ec_key(curve, point, |key| {
            // SAFETY: `key` is a live EC key (see `with_ec_key`); digest and signature
            // pointers come with their lengths and are only read.
            unsafe {
                let d = digest.as_ref();
                aws_lc_sys::ECDSA_verify(0, d.as_ptr(), d.len(), sig.as_ptr(), sig.len(), key) == 1
            }
        }),
    }
}

/// ECDSA over the SHA-256 digest of x509pop's nonces, with the signature as DER.
pub fn ecdsa_verify_sha256_digest(
    curve: Curve,
    point: &[u8],
    digest: &digest::Digest,
    sig: &[u8],
) -> bool {
    ecdsa_verify_digest(curve, point, Hash::Sha256, &Hashed::Digest(*digest), sig)
}

fn curve_nid(curve: Curve) -> c_int {
    match curve {
        Curve::P224 => aws_lc_sys::NID_secp224r1,
        Curve::P256 => aws_lc_sys::NID_X9_62_prime256v1,
        Curve::P384 => aws_lc_sys::NID_secp384r1,
        Curve::P521 => aws_lc_sys::NID_secp521r1,
    }
}

/// Runs `f` with an aws-lc EC key for `point` on `curve`; false when the point is not on it.
fn with_ec_key(
    curve: Curve,
    point: &[u8],
    f: impl FnOnce(*const aws_lc_sys::EC_KEY) -> bool,
) -> bool {
    // SAFETY: each object aws-lc returns is checked for null and freed exactly once on every
    // path; `EC_POINT_oct2point` reads `point.len()` bytes of a live slice and fails for a
    // point not on the curve; `f` only lends the key to aws-lc functions.
    unsafe {
        let key = aws_lc_sys::EC_KEY_new_by_curve_name(curve_nid(curve));
        if key.is_null() {
            return false;
        }
        let group = aws_lc_sys::EC_KEY_get0_group(key);
        let pt = aws_lc_sys::EC_POINT_new(group);
        let ok = !pt.is_null()
            && aws_lc_sys::EC_POINT_oct2point(
                group,
                pt,
                point.as_ptr(),
                point.len(),
                std::ptr::null_mut(),
            ) == 1
            && aws_lc_sys::EC_KEY_set_public_key(key, pt) == 1
            && f(key);
        if !pt.is_null() {
            aws_lc_sys::EC_POINT_free(pt);
        }
        aws_lc_sys::EC_KEY_free(key);
        ok
    }
}

/// True when `point` (uncompressed) lies on `curve` (Go's `ecdsa.ParseUncompressedPublicKey`).
pub fn point_on_curve(curve: Curve, point: &[u8]) -> bool {
    point.first() == Some(&4)
        && point.len() == 1 + 2 * curve.byte_len()
        && with_ec_key(curve, point, |_| true)
}

/// DER `ECDSA-Sig-Value` from big-endian `r` and `s` (leading zeros allowed, as Go's
/// `big.Int.SetBytes` reads them). `None` when a value is longer than any curve's order.
pub fn ecdsa_der(r: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    fn integer(out: &mut Vec<u8>, value: &[u8]) -> Option<()> {
        let value = crate::keys::strip_leading_zeros(value);
        if value.len() > 66 {
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
    let mut body = Vec::with_capacity(140);
    integer(&mut body, r)?;
    integer(&mut body, s)?;
    let mut der = Vec::with_capacity(body.len() + 3);
    der.push(0x30);
    if body.len() < 0x80 {
        der.push(body.len() as u8);
    } else {
        der.push(0x81); // at most 2 * (2 + 67) = 138 bytes
        der.push(body.len() as u8);
    }
    der.extend_from_slice(&body);
    Some(der)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(ecdsa_der(&[1; 67], &[1]).is_none());
        // P-521 sized values need the long length form.
        let der = ecdsa_der(&[0xff; 66], &[0xff; 66]).unwrap();
        assert_eq!(&der[..3], &[0x30, 0x81, 138]);
    }

    #[test]
    fn go_refuses_weak_rsa_keys_before_verifying() {
        let mut even = vec![0xc0; 256];
        even[255] = 0x02;
        assert!(check_rsa_key(&even, 65537).unwrap_err().contains("even"));
        let small = vec![0xc1; 64];
        assert!(check_rsa_key(&small, 65537)
            .unwrap_err()
            .contains("512-bit"));
        let ok = vec![0xc1; 128];
        assert!(check_rsa_key(&ok, 65537).is_ok());
        assert!(check_rsa_key(&ok, 1).is_err());
        assert!(check_rsa_key(&ok, 4).is_err());
        assert!(check_rsa_key(&ok, 1 << 31).is_err());
    }

    #[test]
    fn sha1_and_md5_are_insecure_in_chains() {
        let key = PublicKey::Ed25519(vec![0; 32]);
        for alg in [
            SignatureAlgorithm::Sha1WithRsa,
            SignatureAlgorithm::Md5WithRsa,
            SignatureAlgorithm::EcdsaWithSha1,
        ] {
            let err = check_signature(alg, b"x", b"y", &key).unwrap_err();
            assert!(err.contains("insecure algorithm"), "{err}");
        }
        assert_eq!(
            check_signature(SignatureAlgorithm::Unknown, b"x", b"y", &key).unwrap_err(),
            UNSUPPORTED
        );
    }
}
