//! X.509 as Go's `crypto/x509` (Go 1.26, which SPIRE v1.13.3 is built with here) parses and
//! verifies it: SPIRE's x509pop attestor accepts exactly the chains Go accepts, so fleet-attest
//! must refuse what Go refuses and accept what Go accepts, a certificate at a time.
//!
//! | file | Go counterpart |
//! |---|---|
//! | [`der`] | `golang.org/x/crypto/cryptobyte`'s DER reading rules |
//! | [`cert`] | `x509.ParseCertificate` and its extension parsing |
//! | [`name`] | `parseName`, `parseASN1String`, `pkix.Name` |
//! | [`asn1time`] | cryptobyte's UTCTime and GeneralizedTime |
//! | [`url`] | `net/url.Parse` and `URL.String` (URI SANs) |
//! | [`pem`] | `encoding/pem.Decode` |
//! | [`signature`] | `checkSignature` on aws-lc |
//! | [`verify`] | `Certificate.Verify`, `buildChains`, `isValid`, `CheckSignatureFrom` |
//! | [`constraints`] | `checkChainConstraints` (name constraints) |
//! | [`policy`] | `policiesValid` (certificate policies) |
//!
//! Where this reads differently from RFC 5280 or from other libraries (rustls-webpki refuses
//! a leaf with `cA` set, RSA under 2048 bits, keyCertSign-less roots are fine for it, …), the
//! difference is Go's, kept on purpose: the conformance suite in `conformance/spire` runs
//! SPIRE's own plugin on the same certificates and fails on any disagreement.

pub mod asn1time;
pub mod cert;
pub mod constraints;
pub mod der;
pub mod name;
pub mod oid;
pub mod pem;
pub mod policy;
pub mod signature;
pub mod url;
pub mod verify;

pub use cert::{parse, Certificate};
