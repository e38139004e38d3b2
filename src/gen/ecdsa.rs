//! Deterministic ECDSA for `gen`, fast.
//!
//! gen must give the same bytes for the same seed, so its ECDSA nonces cannot be random.
//! RustCrypto's p256/p384 sign deterministically (RFC 6979) but spend ~170 µs a signature here
//! (no precomputed base-point table); aws-lc signs in ~25 µs but draws its own nonces. This
//! signer derives the nonce as RFC 6979 intends — secret, and unique per (key, message) — as
//! HMAC-SHA-512(private key, counter ‖ digest) cut to the order's size, retried in the rare case
//! it is out of range, and hands it to aws-lc's fixed-nonce signing function. Test keys only:
//! these sign synthetic fleets.

use std::os::raw::c_int;

use aws_lc_rs::hmac;

/// A private key ready for deterministic signing.
pub struct FixedNonceSigner {
    key: *mut aws_lc_sys::EC_KEY,
    secret: hmac::Key,
    size: usize,
}

// SAFETY: the EC_KEY is created in `new`, never mutated afterwards, and freed only in `drop`;
// aws-lc documents EC_KEY as safe for concurrent use through const pointers, which is all
// `sign` does (ECDSA_sign_with_nonce_and_leak_private_key_for_testing takes `const EC_KEY *`).
unsafe impl Send for FixedNonceSigner {}
// SAFETY: as above: shared use is read-only.
unsafe impl Sync for FixedNonceSigner {}

impl FixedNonceSigner {
    /// A signer for the private scalar `d` (big-endian, 32 bytes for P-256, 48 for P-384).
    pub fn new(d: &[u8]) -> Option<FixedNonceSigner> {
        let nid = match d.len() {
            32 => aws_lc_sys::NID_X9_62_prime256v1,
            48 => aws_lc_sys::NID_secp384r1,
            _ => return None,
        };
        // SAFETY: each pointer is checked for null before use; `bn` is freed after
        // EC_KEY_set_private_key copied it; on every failure path what was allocated is freed.
        unsafe {
            let key = aws_lc_sys::EC_KEY_new_by_curve_name(nid as c_int);
            if key.is_null() {
                return None;
            }
            let bn = aws_lc_sys::BN_bin2bn(d.as_ptr(), d.len(), std::ptr::null_mut());
            if bn.is_null() {
                aws_lc_sys::EC_KEY_free(key);
                return None;
            }
            let ok = aws_lc_sys::EC_KEY_set_private_key(key, bn);
            aws_lc_sys::BN_free(bn);
            if ok != 1 {
                aws_lc_sys::EC_KEY_free(key);
                return None;
            }
            Some(FixedNonceSigner {
                key,
                secret: hmac::Key::new(hmac::HMAC_SHA512, d),
                size: d.len(),
            })
        }
    }

    /// Signs a message digest; returns `r ‖ s`, each padded to the order's size.
    pub fn sign_digest(&self, digest: &[u8]) -> Option<Vec<u8>> {
        for counter in 0u32..16 {
            let mut ctx = hmac::Context::with_key(&self.secret);
            ctx.update(&counter.to_be_bytes());
            ctx.update(digest);
            let tag = ctx.sign();
            let nonce = &tag.as_ref()[..self.size];
            // SAFETY: digest, key and nonce point to live buffers with their lengths; the
            // returned ECDSA_SIG is checked for null, read through ECDSA_SIG_get0 (pointers into
            // it, valid until it is freed), copied out, then freed once.
            unsafe {
                let sig = aws_lc_sys::ECDSA_sign_with_nonce_and_leak_private_key_for_testing(
                    digest.as_ptr(),
                    digest.len(),
                    self.key,
                    nonce.as_ptr(),
                    nonce.len(),
                );
                if sig.is_null() {
                    continue; // nonce out of range: derive the next one
                }
                let mut r = std::ptr::null();
                let mut s = std::ptr::null();
                aws_lc_sys::ECDSA_SIG_get0(sig, &mut r, &mut s);
                let mut out = vec![0u8; 2 * self.size];
                let ok = aws_lc_sys::BN_bn2bin_padded(out.as_mut_ptr(), self.size, r) == 1
                    && aws_lc_sys::BN_bn2bin_padded(out[self.size..].as_mut_ptr(), self.size, s)
                        == 1;
                aws_lc_sys::ECDSA_SIG_free(sig);
                if ok {
                    return Some(out);
                }
            }
        }
        None
    }
}

impl Drop for FixedNonceSigner {
    fn drop(&mut self) {
        // SAFETY: `key` came from EC_KEY_new_by_curve_name in `new` and is freed exactly once.
        unsafe { aws_lc_sys::EC_KEY_free(self.key) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::{digest, signature};

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let d = [7u8; 32];
        let signer = FixedNonceSigner::new(&d).unwrap();
        let public = p256::ecdsa::SigningKey::from_slice(&d)
            .unwrap()
            .verifying_key()
            .to_encoded_point(false);
        let msg = b"header.payload";
        let hash = digest::digest(&digest::SHA256, msg);
        let a = signer.sign_digest(hash.as_ref()).unwrap();
        let b = signer.sign_digest(hash.as_ref()).unwrap();
        assert_eq!(a, b);
        let key = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            public.as_bytes(),
        );
        assert!(key.verify(msg, &a).is_ok());
        let other = signer
            .sign_digest(digest::digest(&digest::SHA256, b"other").as_ref())
            .unwrap();
        assert_ne!(
            a[..32],
            other[..32],
            "distinct messages get distinct nonces"
        );
    }
}
