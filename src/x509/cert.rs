//! `x509.ParseCertificate`, rule for rule: the fields Go fills, the errors Go gives, and the
//! extensions Go understands (anything else that is critical ends up in
//! [`Certificate::unhandled_critical`], which verification refuses).

use std::ops::Range;

use aws_lc_rs::digest;

use super::asn1time::{self, Time};
use super::der::{tag, Der};
use super::name::{parse_name, Name};
use super::oid;
use super::url::{self, GoUrl};

/// Go's `SignatureAlgorithm`, for the algorithms it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// An OID (or parameters) Go does not know.
    Unknown,
    /// MD5 with RSA (refused in chains).
    Md5WithRsa,
    /// SHA-1 with RSA (refused in chains).
    Sha1WithRsa,
    /// PKCS #1 v1.5 with SHA-256.
    Sha256WithRsa,
    /// PKCS #1 v1.5 with SHA-384.
    Sha384WithRsa,
    /// PKCS #1 v1.5 with SHA-512.
    Sha512WithRsa,
    /// RSA-PSS, SHA-256, salt 32.
    Sha256WithRsaPss,
    /// RSA-PSS, SHA-384, salt 48.
    Sha384WithRsaPss,
    /// RSA-PSS, SHA-512, salt 64.
    Sha512WithRsaPss,
    /// DSA with SHA-1.
    DsaWithSha1,
    /// DSA with SHA-256.
    DsaWithSha256,
    /// ECDSA with SHA-1 (refused in chains).
    EcdsaWithSha1,
    /// ECDSA with SHA-256.
    EcdsaWithSha256,
    /// ECDSA with SHA-384.
    EcdsaWithSha384,
    /// ECDSA with SHA-512.
    EcdsaWithSha512,
    /// Ed25519.
    PureEd25519,
}

impl SignatureAlgorithm {
    /// Go's `SignatureAlgorithm.String()`.
    pub fn name(self) -> &'static str {
        use SignatureAlgorithm::*;
        match self {
            Unknown => "0",
            Md5WithRsa => "MD5-RSA",
            Sha1WithRsa => "SHA1-RSA",
            Sha256WithRsa => "SHA256-RSA",
            Sha384WithRsa => "SHA384-RSA",
            Sha512WithRsa => "SHA512-RSA",
            Sha256WithRsaPss => "SHA256-RSAPSS",
            Sha384WithRsaPss => "SHA384-RSAPSS",
            Sha512WithRsaPss => "SHA512-RSAPSS",
            DsaWithSha1 => "DSA-SHA1",
            DsaWithSha256 => "DSA-SHA256",
            EcdsaWithSha1 => "ECDSA-SHA1",
            EcdsaWithSha256 => "ECDSA-SHA256",
            EcdsaWithSha384 => "ECDSA-SHA384",
            EcdsaWithSha512 => "ECDSA-SHA512",
            PureEd25519 => "Ed25519",
        }
    }
}

/// The named curves Go parses ECDSA keys on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// P-224.
    P224,
    /// P-256.
    P256,
    /// P-384.
    P384,
    /// P-521.
    P521,
}

impl Curve {
    /// The length in bytes of a field element (and of the order).
    pub fn byte_len(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Go's `elliptic.Curve.Params().Name`.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P224 => "P-224",
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
}

/// A certificate's public key, as Go parses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: the modulus (big-endian magnitude, no leading zeros), the exponent, and the
    /// `RSAPublicKey` DER the key was read from.
    Rsa {
        /// The modulus.
        modulus: Vec<u8>,
        /// The public exponent (positive).
        exponent: i64,
        /// The PKCS #1 `RSAPublicKey` encoding.
        pkcs1: Vec<u8>,
    },
    /// ECDSA: the curve and the uncompressed point.
    Ecdsa {
        /// The named curve.
        curve: Curve,
        /// `04 || X || Y`.
        point: Vec<u8>,
    },
    /// Ed25519: the 32-byte key.
    Ed25519(Vec<u8>),
    /// DSA (Go cannot verify DSA signatures).
    Dsa,
    /// An algorithm Go does not know: `PublicKey` is nil.
    None,
}

/// Go's `PublicKeyAlgorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKeyAlgorithm {
    /// Not one Go knows.
    Unknown,
    /// RSA.
    Rsa,
    /// DSA.
    Dsa,
    /// ECDSA.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

impl PublicKeyAlgorithm {
    /// Go's `PublicKeyAlgorithm.String()`.
    pub fn name(self) -> &'static str {
        match self {
            PublicKeyAlgorithm::Unknown => "0",
            PublicKeyAlgorithm::Rsa => "RSA",
            PublicKeyAlgorithm::Dsa => "DSA",
            PublicKeyAlgorithm::Ecdsa => "ECDSA",
            PublicKeyAlgorithm::Ed25519 => "Ed25519",
        }
    }
}

/// A serial number: sign and big-endian magnitude (no leading zeros; empty for zero).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serial {
    /// True for a negative serial (Go refuses those, so parsed certificates never have one).
    pub negative: bool,
    /// The magnitude.
    pub magnitude: Vec<u8>,
}

/// An extension as it appears in the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The OID's DER contents.
    pub oid: Vec<u8>,
    /// The critical flag.
    pub critical: bool,
    /// The extension value (the OCTET STRING's contents).
    pub value: Vec<u8>,
}

/// An IP range of a name constraint: address and mask of the same length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpNet {
    /// The address (4 or 16 bytes).
    pub ip: Vec<u8>,
    /// The mask (as long as the address).
    pub mask: Vec<u8>,
}

/// Go's `x509.Certificate`, for what parsing, verification and SPIRE's templates use.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// The whole DER.
    pub raw: Vec<u8>,
    /// SHA-256 of the DER: the certificate's identity for caches.
    pub digest: [u8; 32],
    raw_tbs: Range<usize>,
    raw_issuer: Range<usize>,
    raw_subject: Range<usize>,
    raw_spki: Range<usize>,
    /// 1, 2 or 3.
    pub version: i64,
    /// The serial number.
    pub serial: Serial,
    /// The signature algorithm.
    pub signature_algorithm: SignatureAlgorithm,
    /// The signature, right-aligned as Go's `BitString.RightAlign`.
    pub signature: Vec<u8>,
    /// The issuer name.
    pub issuer: Name,
    /// The subject name.
    pub subject: Name,
    /// Start of validity.
    pub not_before: Time,
    /// End of validity.
    pub not_after: Time,
    /// The public key algorithm.
    pub public_key_algorithm: PublicKeyAlgorithm,
    /// The public key.
    pub public_key: PublicKey,
    /// Every extension, in order.
    pub extensions: Vec<Extension>,
    /// `KeyUsage` bits (Go's numbering: digitalSignature = 1, …, decipherOnly = 256).
    pub key_usage: u16,
    /// A basic constraints extension was present.
    pub basic_constraints_valid: bool,
    /// Its cA flag.
    pub is_ca: bool,
    /// Its pathLenConstraint, -1 when absent.
    pub max_path_len: i64,
    /// `MaxPathLen == 0` with the extension present.
    pub max_path_len_zero: bool,
    /// Subject key identifier.
    pub subject_key_id: Vec<u8>,
    /// Authority key identifier (its keyIdentifier).
    pub authority_key_id: Vec<u8>,
    /// SAN dNSNames.
    pub dns_names: Vec<String>,
    /// SAN rfc822Names.
    pub email_addresses: Vec<String>,
    /// SAN iPAddresses (4 or 16 bytes each).
    pub ip_addresses: Vec<Vec<u8>>,
    /// SAN URIs, as `net/url` parsed them.
    pub uris: Vec<GoUrl>,
    /// The SAN extension's value, when there is one (`alreadyInChain` compares it).
    pub san_value: Option<Vec<u8>>,
    /// The name constraints extension is critical.
    pub permitted_dns_domains_critical: bool,
    /// Permitted DNS subtrees.
    pub permitted_dns_domains: Vec<String>,
    /// Excluded DNS subtrees.
    pub excluded_dns_domains: Vec<String>,
    /// Permitted IP ranges.
    pub permitted_ip_ranges: Vec<IpNet>,
    /// Excluded IP ranges.
    pub excluded_ip_ranges: Vec<IpNet>,
    /// Permitted email constraints.
    pub permitted_email_addresses: Vec<String>,
    /// Excluded email constraints.
    pub excluded_email_addresses: Vec<String>,
    /// Permitted URI domains.
    pub permitted_uri_domains: Vec<String>,
    /// Excluded URI domains.
    pub excluded_uri_domains: Vec<String>,
    /// CRL distribution point URIs.
    pub crl_distribution_points: Vec<String>,
    /// AIA OCSP URIs.
    pub ocsp_server: Vec<String>,
    /// AIA CA issuer URIs.
    pub issuing_certificate_url: Vec<String>,
    /// Extended key usages Go names (their `ExtKeyUsage` numbers).
    pub ext_key_usage: Vec<u8>,
    /// Other extended key usages (OID contents).
    pub unknown_ext_key_usage: Vec<Vec<u8>>,
    /// Certificate policy OIDs (DER contents), in order.
    pub policies: Vec<Vec<u8>>,
    /// Policy mappings: (issuer domain policy, subject domain policy).
    pub policy_mappings: Vec<(Vec<u8>, Vec<u8>)>,
    /// requireExplicitPolicy, when the policy constraints say (`Some(0)` is Go's `…Zero`).
    pub require_explicit_policy: Option<i64>,
    /// inhibitPolicyMapping, likewise.
    pub inhibit_policy_mapping: Option<i64>,
    /// inhibitAnyPolicy, likewise.
    pub inhibit_any_policy: Option<i64>,
    /// Critical extensions Go does not handle (verification fails on any).
    pub unhandled_critical: Vec<Vec<u8>>,
}

const KEY_USAGE_CERT_SIGN: u16 = 32;
/// `x509.KeyUsageDigitalSignature`.
pub const KEY_USAGE_DIGITAL_SIGNATURE: u16 = 1;

impl Certificate {
    /// The to-be-signed part, as signed.
    pub fn raw_tbs(&self) -> &[u8] {
        &self.raw[self.raw_tbs.clone()]
    }

    /// The issuer Name's DER.
    pub fn raw_issuer(&self) -> &[u8] {
        &self.raw[self.raw_issuer.clone()]
    }

    /// The subject Name's DER.
    pub fn raw_subject(&self) -> &[u8] {
        &self.raw[self.raw_subject.clone()]
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn raw_spki(&self) -> &[u8] {
        &self.raw[self.raw_spki.clone()]
    }

    /// SHA-1 of the DER, lowercase hex: SPIRE's fingerprint.
    pub fn fingerprint(&self) -> String {
        crate::hex::lower(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.raw).as_ref())
    }

    /// The key may sign certificates (no key usage extension, or keyCertSign set).
    pub fn may_sign_certificates(&self) -> bool {
        self.key_usage == 0 || self.key_usage & KEY_USAGE_CERT_SIGN != 0
    }

    /// A name constraints extension is present.
    pub fn has_name_constraints(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| e.oid == oid::NAME_CONSTRAINTS)
    }

    /// A SAN extension is present.
    pub fn has_san_extension(&self) -> bool {
        self.san_value.is_some()
    }

    /// The modulus size in bits, for an RSA key.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.public_key {
            PublicKey::Rsa { modulus, .. } => Some(crate::keys::bit_len(modulus)),
            _ => None,
        }
    }
}

/// Go's `asn1.BitString.RightAlign`.
fn right_align(bytes: &[u8], bit_len: usize) -> Vec<u8> {
    let shift = 8 - (bit_len % 8) as u32;
    if shift == 8 || bytes.is_empty() {
        return bytes.to_vec();
    }
    let mut a = vec![0u8; bytes.len()];
    a[0] = bytes[0] >> shift;
    for i in 1..bytes.len() {
        a[i] = (bytes[i - 1] << (8 - shift)) | (bytes[i] >> shift);
    }
    a
}

fn offset_of(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// `x509.ParseCertificate`. The error text is Go's.
pub fn parse(der: &[u8]) -> Result<Certificate, String> {
    let mut input = Der::new(der);
    let raw = input
        .read_element(tag::SEQUENCE)
        .ok_or("x509: malformed certificate")?;
    if raw.len() != der.len() {
        return Err("x509: trailing data".into());
    }
    let mut outer = Der::new(raw)
        .read(tag::SEQUENCE)
        .ok_or("x509: malformed certificate")?;
    let raw_tbs = outer
        .read_element(tag::SEQUENCE)
        .ok_or("x509: malformed tbs certificate")?;
    let mut tbs = Der::new(raw_tbs)
        .read(tag::SEQUENCE)
        .ok_or("x509: malformed tbs certificate")?;

    let version_tag = tag::CONTEXT | tag::CONSTRUCTED;
    let version = match tbs
        .read_optional(version_tag)
        .ok_or("x509: malformed version")?
    {
        None => 0,
        Some(mut inner) => {
            let v = inner.read_i64().ok_or("x509: malformed version")?;
            if !inner.is_empty() {
                return Err("x509: malformed version".into());
            }
            v
        }
    };
    if version < 0 {
        return Err("x509: malformed version".into());
    }
    let version = version + 1;
    if version > 3 {
        return Err("x509: invalid version".into());
    }

    let serial_bytes = tbs
        .read_integer_bytes()
        .ok_or("x509: malformed serial number")?;
    if serial_bytes[0] & 0x80 != 0 {
        return Err("x509: negative serial number".into());
    }
    let serial = Serial {
        negative: false,
        magnitude: crate::keys::strip_leading_zeros(serial_bytes).to_vec(),
    };

    let sig_ai = tbs
        .read(tag::SEQUENCE)
        .ok_or("x509: malformed signature algorithm identifier")?;
    let outer_ai = outer
        .read(tag::SEQUENCE)
        .ok_or("x509: malformed algorithm identifier")?;
    if outer_ai.rest() != sig_ai.rest() {
        return Err("x509: inner and outer signature algorithm identifiers don't match".into());
    }
    let (sig_oid, sig_params) = parse_ai(sig_ai)?;
    let signature_algorithm = signature_algorithm(sig_oid, sig_params);

    let raw_issuer = tbs
        .read_element(tag::SEQUENCE)
        .ok_or("x509: malformed issuer")?;
    let issuer = parse_name(raw_issuer)?;
    let mut validity = tbs.read(tag::SEQUENCE).ok_or("x509: malformed validity")?;
    let not_before = parse_time(&mut validity)?;
    let not_after = parse_time(&mut validity)?;
    let raw_subject = tbs
        .read_element(tag::SEQUENCE)
        .ok_or("x509: malformed issuer")?;
    let subject = parse_name(raw_subject)?;

    let raw_spki = tbs
        .read_element(tag::SEQUENCE)
        .ok_or("x509: malformed spki")?;
    let mut spki = Der::new(raw_spki)
        .read(tag::SEQUENCE)
        .ok_or("x509: malformed spki")?;
    let pk_ai = spki
        .read(tag::SEQUENCE)
        .ok_or("x509: malformed public key algorithm identifier")?;
    let (pk_oid, pk_params) = parse_ai(pk_ai)?;
    let public_key_algorithm = match pk_oid {
        oid::PK_RSA => PublicKeyAlgorithm::Rsa,
        oid::PK_DSA => PublicKeyAlgorithm::Dsa,
        oid::PK_ECDSA => PublicKeyAlgorithm::Ecdsa,
        oid::ED25519 => PublicKeyAlgorithm::Ed25519,
        _ => PublicKeyAlgorithm::Unknown,
    };
    let (spk, spk_bits) = spki
        .read_bit_string()
        .ok_or("x509: malformed subjectPublicKey")?;
    let key_bits = right_align(spk, spk_bits);
    // Go parses the key only for the algorithms it names: an X25519 key, like any other, is
    // left unparsed (nil) there.
    let public_key = if public_key_algorithm != PublicKeyAlgorithm::Unknown {
        parse_public_key(pk_oid, pk_params, &key_bits)?
    } else {
        PublicKey::None
    };

    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(digest::digest(&digest::SHA256, raw).as_ref());
    let mut cert = Certificate {
        raw: raw.to_vec(),
        digest: sha256,
        raw_tbs: offset_of(raw, raw_tbs),
        raw_issuer: offset_of(raw, raw_issuer),
        raw_subject: offset_of(raw, raw_subject),
        raw_spki: offset_of(raw, raw_spki),
        version,
        serial,
        signature_algorithm,
        signature: Vec::new(),
        issuer,
        subject,
        not_before,
        not_after,
        public_key_algorithm,
        public_key,
        extensions: Vec::new(),
        key_usage: 0,
        basic_constraints_valid: false,
        is_ca: false,
        max_path_len: 0,
        max_path_len_zero: false,
        subject_key_id: Vec::new(),
        authority_key_id: Vec::new(),
        dns_names: Vec::new(),
        email_addresses: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        san_value: None,
        permitted_dns_domains_critical: false,
        permitted_dns_domains: Vec::new(),
        excluded_dns_domains: Vec::new(),
        permitted_ip_ranges: Vec::new(),
        excluded_ip_ranges: Vec::new(),
        permitted_email_addresses: Vec::new(),
        excluded_email_addresses: Vec::new(),
        permitted_uri_domains: Vec::new(),
        excluded_uri_domains: Vec::new(),
        crl_distribution_points: Vec::new(),
        ocsp_server: Vec::new(),
        issuing_certificate_url: Vec::new(),
        ext_key_usage: Vec::new(),
        unknown_ext_key_usage: Vec::new(),
        policies: Vec::new(),
        policy_mappings: Vec::new(),
        require_explicit_policy: None,
        inhibit_policy_mapping: None,
        inhibit_any_policy: None,
        unhandled_critical: Vec::new(),
    };

    if cert.version > 1 {
        if !tbs.skip_optional(tag::CONTEXT | 1) {
            return Err("x509: malformed issuerUniqueID".into());
        }
        if !tbs.skip_optional(tag::CONTEXT | 2) {
            return Err("x509: malformed subjectUniqueID".into());
        }
        if cert.version == 3 {
            let present = tbs
                .read_optional(tag::CONTEXT | tag::CONSTRUCTED | 3)
                .ok_or("x509: malformed extensions")?;
            if let Some(mut wrapper) = present {
                let mut exts = wrapper
                    .read(tag::SEQUENCE)
                    .ok_or("x509: malformed extensions")?;
                while !exts.is_empty() {
                    let ext = exts
                        .read(tag::SEQUENCE)
                        .ok_or("x509: malformed extension")?;
                    let ext = parse_extension(ext)?;
                    if cert.extensions.iter().any(|e| e.oid == ext.oid) {
                        return Err(format!(
                            "x509: certificate contains duplicate extension with OID {:?}",
                            super::der::oid_string(&ext.oid)
                        ));
                    }
                    cert.extensions.push(ext);
                }
                process_extensions(&mut cert)?;
            }
        }
    }

    let (sig, sig_bits) = outer.read_bit_string().ok_or("x509: malformed signature")?;
    cert.signature = right_align(sig, sig_bits);
    Ok(cert)
}

/// An algorithm identifier's parameters: tag and whole element.
type Params<'a> = Option<(u8, &'a [u8])>;

/// `parseAI`: the algorithm OID and the parameters element (header included), if any.
fn parse_ai(mut der: Der<'_>) -> Result<(&[u8], Params<'_>), String> {
    let algorithm = der.read_oid().ok_or("x509: malformed OID")?;
    if der.is_empty() {
        return Ok((algorithm, None));
    }
    let params = der.read_any_element().ok_or("x509: malformed parameters")?;
    Ok((algorithm, Some(params)))
}

const NULL: &[u8] = &[0x05, 0x00];

/// `getSignatureAlgorithmFromAI`.
fn signature_algorithm(algorithm: &[u8], params: Params<'_>) -> SignatureAlgorithm {
    use SignatureAlgorithm::*;
    if algorithm == oid::ED25519 && params.is_some() {
        return Unknown;
    }
    if algorithm != oid::SIG_RSA_PSS {
        return match algorithm {
            oid::SIG_MD5_RSA => Md5WithRsa,
            oid::SIG_SHA1_RSA | oid::SIG_ISO_SHA1_RSA => Sha1WithRsa,
            oid::SIG_SHA256_RSA => Sha256WithRsa,
            oid::SIG_SHA384_RSA => Sha384WithRsa,
            oid::SIG_SHA512_RSA => Sha512WithRsa,
            oid::SIG_DSA_SHA1 => DsaWithSha1,
            oid::SIG_DSA_SHA256 => DsaWithSha256,
            oid::SIG_ECDSA_SHA1 => EcdsaWithSha1,
            oid::SIG_ECDSA_SHA256 => EcdsaWithSha256,
            oid::SIG_ECDSA_SHA384 => EcdsaWithSha384,
            oid::SIG_ECDSA_SHA512 => EcdsaWithSha512,
            oid::ED25519 => PureEd25519,
            _ => Unknown,
        };
    }
    pss_algorithm(params.map(|(_, p)| p).unwrap_or_default()).unwrap_or(Unknown)
}

/// The RSA-PSS parameters Go accepts: hash and MGF1 hash the same SHA-2, salt as long as the
/// hash, trailer 1 (`encoding/asn1` reading `pssParameters`).
fn pss_algorithm(params: &[u8]) -> Option<SignatureAlgorithm> {
    let mut seq = Der::new(params).read(tag::SEQUENCE)?;
    let mut hash_ai = seq
        .read(tag::CONTEXT | tag::CONSTRUCTED)?
        .read(tag::SEQUENCE)?;
    let hash = hash_ai.read_oid()?;
    let hash_params = hash_ai.rest();
    let mut mgf = seq
        .read(tag::CONTEXT | tag::CONSTRUCTED | 1)?
        .read(tag::SEQUENCE)?;
    if mgf.read_oid()? != oid::MGF1 {
        return None;
    }
    let mut mgf_hash = mgf.read(tag::SEQUENCE)?;
    let mgf_hash_oid = mgf_hash.read_oid()?;
    let mgf_hash_params = mgf_hash.rest();
    let salt = seq.read(tag::CONTEXT | tag::CONSTRUCTED | 2)?.read_i64()?;
    let trailer = match seq.read_optional(tag::CONTEXT | tag::CONSTRUCTED | 3)? {
        Some(mut t) => t.read_i64()?,
        None => 1,
    };
    let null_or_empty = |p: &[u8]| p.is_empty() || p == NULL;
    if !null_or_empty(hash_params)
        || mgf_hash_oid != hash
        || !null_or_empty(mgf_hash_params)
        || trailer != 1
    {
        return None;
    }
    match (hash, salt) {
        (oid::SHA256, 32) => Some(SignatureAlgorithm::Sha256WithRsaPss),
        (oid::SHA384, 48) => Some(SignatureAlgorithm::Sha384WithRsaPss),
        (oid::SHA512, 64) => Some(SignatureAlgorithm::Sha512WithRsaPss),
        _ => None,
    }
}

fn parse_time(der: &mut Der<'_>) -> Result<Time, String> {
    match der.peek_tag() {
        Some(tag::UTC_TIME) => der
            .read_raw(tag::UTC_TIME)
            .and_then(asn1time::utc_time)
            .ok_or_else(|| "x509: malformed UTCTime".into()),
        Some(tag::GENERALIZED_TIME) => der
            .read_raw(tag::GENERALIZED_TIME)
            .and_then(asn1time::generalized_time)
            .ok_or_else(|| "x509: malformed GeneralizedTime".into()),
        _ => Err("x509: unsupported time format".into()),
    }
}

/// `parsePublicKey` for the algorithm OIDs Go parses.
fn parse_public_key(
    algorithm: &[u8],
    params: Params<'_>,
    data: &[u8],
) -> Result<PublicKey, String> {
    let params_full = params.map(|(_, p)| p).unwrap_or_default();
    match algorithm {
        oid::PK_RSA => {
            if params_full != NULL {
                return Err("x509: RSA key missing NULL parameters".into());
            }
            let mut der = Der::new(data);
            let mut seq = der
                .read(tag::SEQUENCE)
                .ok_or("x509: invalid RSA public key")?;
            let n = seq
                .read_integer_bytes()
                .ok_or("x509: invalid RSA modulus")?;
            let e = seq.read_i64().ok_or("x509: invalid RSA public exponent")?;
            if n[0] & 0x80 != 0 || n.iter().all(|&b| b == 0) {
                return Err("x509: RSA modulus is not a positive number".into());
            }
            if e <= 0 {
                return Err("x509: RSA public exponent is not a positive number".into());
            }
            Ok(PublicKey::Rsa {
                modulus: crate::keys::strip_leading_zeros(n).to_vec(),
                exponent: e,
                pkcs1: data.to_vec(),
            })
        }
        oid::PK_ECDSA => {
            let mut p = Der::new(params_full);
            let curve = match p.read_oid().ok_or("x509: invalid ECDSA parameters")? {
                oid::CURVE_P224 => Curve::P224,
                oid::CURVE_P256 => Curve::P256,
                oid::CURVE_P384 => Curve::P384,
                oid::CURVE_P521 => Curve::P521,
                _ => return Err("x509: unsupported elliptic curve".into()),
            };
            if data.len() != 1 + 2 * curve.byte_len()
                || data[0] != 4
                || !super::signature::point_on_curve(curve, data)
            {
                return Err("invalid public key".into());
            }
            Ok(PublicKey::Ecdsa {
                curve,
                point: data.to_vec(),
            })
        }
        oid::ED25519 => {
            if params.is_some() {
                return Err("x509: Ed25519 key encoded with illegal parameters".into());
            }
            if data.len() != 32 {
                return Err("x509: wrong Ed25519 public key size".into());
            }
            Ok(PublicKey::Ed25519(data.to_vec()))
        }
        oid::PK_DSA => {
            let positive = |b: &[u8]| b[0] & 0x80 == 0 && b.iter().any(|&x| x != 0);
            let y = Der::new(data)
                .read_integer_bytes()
                .ok_or("x509: invalid DSA public key")?;
            let mut seq = Der::new(params_full)
                .read(tag::SEQUENCE)
                .ok_or("x509: invalid DSA parameters")?;
            let mut pqg = Vec::new();
            for _ in 0..3 {
                pqg.push(
                    seq.read_integer_bytes()
                        .ok_or("x509: invalid DSA parameters")?,
                );
            }
            if !positive(y) || !pqg.iter().all(|v| positive(v)) {
                return Err("x509: zero or negative DSA parameter".into());
            }
            Ok(PublicKey::Dsa)
        }
        _ => Err("x509: unknown public key algorithm".into()),
    }
}

fn parse_extension(mut der: Der<'_>) -> Result<Extension, String> {
    let oid = der
        .read_oid()
        .ok_or("x509: malformed extension OID field")?;
    let critical = if der.peek_is(tag::BOOLEAN) {
        der.read_bool()
            .ok_or("x509: malformed extension critical field")?
    } else {
        false
    };
    let value = der
        .read_raw(tag::OCTET_STRING)
        .ok_or("x509: malformed extension value field")?;
    Ok(Extension {
        oid: oid.to_vec(),
        critical,
        value: value.to_vec(),
    })
}

/// Go's `isIA5String` for bytes: every byte ASCII.
fn ia5(bytes: &[u8]) -> Option<String> {
    bytes
        .is_ascii()
        .then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Go's `domainNameValid`.
pub fn domain_name_valid(s: &[u8], constraint: bool) -> bool {
    if s.is_empty() {
        return true;
    }
    if s[s.len() - 1] == b'.' {
        return false;
    }
    let s = if constraint && s[0] == b'.' {
        &s[1..]
    } else {
        s
    };
    s.split(|&b| b == b'.')
        .all(|label| !label.is_empty() && label.iter().all(|&b| (33..=126).contains(&b)))
}

fn process_extensions(cert: &mut Certificate) -> Result<(), String> {
    let extensions = std::mem::take(&mut cert.extensions);
    for e in &extensions {
        let value = Der::new(&e.value);
        let mut unhandled = false;
        if let Some(arc) = oid::id_ce(&e.oid) {
            match arc {
                15 => {
                    let (bits, bit_len) = value
                        .clone()
                        .read_bit_string()
                        .ok_or("x509: invalid key usage")?;
                    let mut usage = 0u16;
                    for i in 0..9 {
                        if i < bit_len && bits[i / 8] >> (7 - i % 8) & 1 != 0 {
                            usage |= 1 << i;
                        }
                    }
                    cert.key_usage = usage;
                }
                19 => {
                    let mut seq = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid basic constraints")?;
                    let mut is_ca = false;
                    if seq.peek_is(tag::BOOLEAN) {
                        is_ca = seq.read_bool().ok_or("x509: invalid basic constraints")?;
                    }
                    let mut max_path_len = -1;
                    if seq.peek_is(tag::INTEGER) {
                        let v = seq
                            .read_u64()
                            .filter(|&v| v <= i64::MAX as u64)
                            .ok_or("x509: invalid basic constraints")?;
                        max_path_len = v as i64;
                    }
                    cert.is_ca = is_ca;
                    cert.max_path_len = max_path_len;
                    cert.basic_constraints_valid = true;
                    cert.max_path_len_zero = max_path_len == 0;
                }
                17 => {
                    parse_san(cert, &e.value)?;
                    cert.san_value = Some(e.value.clone());
                    if cert.dns_names.is_empty()
                        && cert.email_addresses.is_empty()
                        && cert.ip_addresses.is_empty()
                        && cert.uris.is_empty()
                    {
                        unhandled = true;
                    }
                }
                30 => unhandled = parse_name_constraints(cert, e)?,
                31 => {
                    let mut seq = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid CRL distribution points")?;
                    while !seq.is_empty() {
                        let mut dp = seq
                            .read(tag::SEQUENCE)
                            .ok_or("x509: invalid CRL distribution point")?;
                        let Some(mut name) = dp
                            .read_optional(tag::CONTEXT | tag::CONSTRUCTED)
                            .ok_or("x509: invalid CRL distribution point")?
                        else {
                            continue;
                        };
                        let mut full = name
                            .read(tag::CONTEXT | tag::CONSTRUCTED)
                            .ok_or("x509: invalid CRL distribution point")?;
                        while full.peek_is(tag::CONTEXT | 6) {
                            let uri = full
                                .read_raw(tag::CONTEXT | 6)
                                .ok_or("x509: invalid CRL distribution point")?;
                            cert.crl_distribution_points
                                .push(String::from_utf8_lossy(uri).into_owned());
                        }
                    }
                }
                35 => {
                    if e.critical {
                        return Err(
                            "x509: authority key identifier incorrectly marked critical".into()
                        );
                    }
                    let mut akid = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid authority key identifier")?;
                    if akid.peek_is(tag::CONTEXT) {
                        let id = akid
                            .read_raw(tag::CONTEXT)
                            .ok_or("x509: invalid authority key identifier")?;
                        cert.authority_key_id = id.to_vec();
                    }
                }
                36 => {
                    let mut seq = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid policy constraints extension")?;
                    if seq.peek_is(tag::CONTEXT) {
                        cert.require_explicit_policy = Some(
                            seq.read_i64_tagged(tag::CONTEXT)
                                .ok_or("x509: invalid policy constraints extension")?,
                        );
                    }
                    if seq.peek_is(tag::CONTEXT | 1) {
                        cert.inhibit_policy_mapping = Some(
                            seq.read_i64_tagged(tag::CONTEXT | 1)
                                .ok_or("x509: invalid policy constraints extension")?,
                        );
                    }
                }
                37 => {
                    let mut seq = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid extended key usages")?;
                    while !seq.is_empty() {
                        let eku = seq.read_oid().ok_or("x509: invalid extended key usages")?;
                        match oid::EXT_KEY_USAGES.iter().position(|&o| o == eku) {
                            Some(i) => cert.ext_key_usage.push(i as u8),
                            None => cert.unknown_ext_key_usage.push(eku.to_vec()),
                        }
                    }
                }
                14 => {
                    if e.critical {
                        return Err(
                            "x509: subject key identifier incorrectly marked critical".into()
                        );
                    }
                    let skid = value
                        .clone()
                        .read_raw(tag::OCTET_STRING)
                        .ok_or("x509: invalid subject key identifier")?;
                    cert.subject_key_id = skid.to_vec();
                }
                32 => {
                    let mut seq = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid certificate policies")?;
                    let mut policies: Vec<Vec<u8>> = Vec::new();
                    while !seq.is_empty() {
                        let policy = seq
                            .read(tag::SEQUENCE)
                            .and_then(|mut cp| cp.read_raw(tag::OBJECT_IDENTIFIER))
                            .ok_or("x509: invalid certificate policies")?;
                        if policies.iter().any(|p| p == policy) {
                            return Err("x509: invalid certificate policies".into());
                        }
                        if !valid_policy_oid(policy) {
                            return Err("x509: invalid certificate policies".into());
                        }
                        policies.push(policy.to_vec());
                    }
                    cert.policies = policies;
                }
                33 => {
                    let mut seq = value
                        .clone()
                        .read(tag::SEQUENCE)
                        .ok_or("x509: invalid policy mappings extension")?;
                    while !seq.is_empty() {
                        let mut m = seq
                            .read(tag::SEQUENCE)
                            .ok_or("x509: invalid policy mappings extension")?;
                        let issuer = m
                            .read_raw(tag::OBJECT_IDENTIFIER)
                            .ok_or("x509: invalid policy mappings extension")?;
                        let subject = m
                            .read_raw(tag::OBJECT_IDENTIFIER)
                            .ok_or("x509: invalid policy mappings extension")?;
                        cert.policy_mappings
                            .push((issuer.to_vec(), subject.to_vec()));
                    }
                }
                54 => {
                    let v = value
                        .clone()
                        .read_i64()
                        .ok_or("x509: invalid inhibit any policy extension")?;
                    cert.inhibit_any_policy = Some(v);
                }
                _ => unhandled = true,
            }
        } else if e.oid == oid::AIA {
            if e.critical {
                return Err("x509: authority info access incorrectly marked critical".into());
            }
            let mut seq = value
                .clone()
                .read(tag::SEQUENCE)
                .ok_or("x509: invalid authority info access")?;
            while !seq.is_empty() {
                let mut access = seq
                    .read(tag::SEQUENCE)
                    .ok_or("x509: invalid authority info access")?;
                let method = access
                    .read_oid()
                    .ok_or("x509: invalid authority info access")?;
                if !access.peek_is(tag::CONTEXT | 6) {
                    continue;
                }
                let location = access
                    .read_raw(tag::CONTEXT | 6)
                    .ok_or("x509: invalid authority info access")?;
                let location = String::from_utf8_lossy(location).into_owned();
                match method {
                    oid::AIA_OCSP => cert.ocsp_server.push(location),
                    oid::AIA_ISSUERS => cert.issuing_certificate_url.push(location),
                    _ => {}
                }
            }
        } else {
            unhandled = true;
        }
        if e.critical && unhandled {
            cert.unhandled_critical.push(e.oid.clone());
        }
    }
    cert.extensions = extensions;
    Ok(())
}

/// `newOIDFromDER`: a valid, minimally encoded OID of any arc size (certificate policies may
/// hold arcs cryptobyte's OID reader would refuse).
fn valid_policy_oid(der: &[u8]) -> bool {
    if der.is_empty() || der[der.len() - 1] & 0x80 != 0 {
        return false;
    }
    let mut start = true;
    for &b in der {
        if start && b == 0x80 {
            return false;
        }
        start = b & 0x80 == 0;
    }
    true
}

fn parse_san(cert: &mut Certificate, value: &[u8]) -> Result<(), String> {
    let mut seq = Der::new(value)
        .read(tag::SEQUENCE)
        .ok_or("x509: invalid subject alternative names")?;
    while !seq.is_empty() {
        let (t, data) = seq
            .read_any_contents()
            .ok_or("x509: invalid subject alternative name")?;
        match t ^ 0x80 {
            1 => cert
                .email_addresses
                .push(ia5(data).ok_or("x509: SAN rfc822Name is malformed")?),
            2 => cert
                .dns_names
                .push(ia5(data).ok_or("x509: SAN dNSName is malformed")?),
            6 => {
                let text = ia5(data).ok_or("x509: SAN uniformResourceIdentifier is malformed")?;
                let uri = url::parse(data)
                    .map_err(|err| format!("x509: cannot parse URI {text:?}: {err}"))?;
                if !uri.host.is_empty() && !domain_name_valid(&uri.host, false) {
                    return Err(format!("x509: cannot parse URI {text:?}: invalid domain"));
                }
                cert.uris.push(uri);
            }
            7 => match data.len() {
                4 | 16 => cert.ip_addresses.push(data.to_vec()),
                n => return Err(format!("x509: cannot parse IP address of length {n}")),
            },
            _ => {}
        }
    }
    Ok(())
}

fn valid_ip_mask(mask: &[u8]) -> bool {
    let mut seen_zero = false;
    for &b in mask {
        if seen_zero {
            if b != 0 {
                return false;
            }
            continue;
        }
        match b {
            0x00 | 0x80 | 0xc0 | 0xe0 | 0xf0 | 0xf8 | 0xfc | 0xfe => seen_zero = true,
            0xff => {}
            _ => return false,
        }
    }
    true
}

/// `parseNameConstraintsExtension`; returns whether a subtree type Go does not handle was seen.
fn parse_name_constraints(cert: &mut Certificate, e: &Extension) -> Result<bool, String> {
    let invalid = || "x509: invalid NameConstraints extension".to_string();
    let mut outer = Der::new(&e.value);
    let mut top = outer.read(tag::SEQUENCE).ok_or_else(invalid)?;
    if !outer.is_empty() {
        return Err(invalid());
    }
    let permitted = top
        .read_optional(tag::CONTEXT | tag::CONSTRUCTED)
        .ok_or_else(invalid)?;
    let excluded = top
        .read_optional(tag::CONTEXT | tag::CONSTRUCTED | 1)
        .ok_or_else(invalid)?;
    if !top.is_empty() {
        return Err(invalid());
    }
    let empty = |d: &Option<Der<'_>>| d.as_ref().is_none_or(|d| d.is_empty());
    if empty(&permitted) && empty(&excluded) {
        return Err("x509: empty name constraints extension".into());
    }
    #[derive(Default)]
    struct Subtrees {
        dns: Vec<String>,
        ips: Vec<IpNet>,
        emails: Vec<String>,
        uris: Vec<String>,
    }
    let mut unhandled = false;
    let mut values = |subtrees: Option<Der<'_>>| -> Result<Subtrees, String> {
        let mut out = Subtrees::default();
        let Some(mut subtrees) = subtrees else {
            return Ok(out);
        };
        while !subtrees.is_empty() {
            let mut seq = subtrees.read(tag::SEQUENCE).ok_or_else(invalid)?;
            let (t, value) = seq.read_any_contents().ok_or_else(invalid)?;
            let text = || {
                ia5(value).ok_or_else(|| {
                    format!(
                        "x509: invalid constraint value: x509: {:?} cannot be encoded as an IA5String",
                        String::from_utf8_lossy(value)
                    )
                })
            };
            match t {
                0x82 => {
                    let domain = text()?;
                    if !domain_name_valid(value, true) {
                        return Err(format!(
                            "x509: failed to parse dnsName constraint {domain:?}"
                        ));
                    }
                    out.dns.push(domain);
                }
                0x87 => {
                    let (ip, mask) = match value.len() {
                        8 => value.split_at(4),
                        32 => value.split_at(16),
                        n => {
                            return Err(format!(
                                "x509: IP constraint contained value of length {n}"
                            ))
                        }
                    };
                    if !valid_ip_mask(mask) {
                        return Err(format!(
                            "x509: IP constraint contained invalid mask {}",
                            crate::hex::lower(mask)
                        ));
                    }
                    out.ips.push(IpNet {
                        ip: ip.to_vec(),
                        mask: mask.to_vec(),
                    });
                }
                0x81 => {
                    let constraint = text()?;
                    let ok = if constraint.contains('@') {
                        super::constraints::parse_mailbox(&constraint).is_some()
                    } else {
                        domain_name_valid(value, true)
                    };
                    if !ok {
                        return Err(format!(
                            "x509: failed to parse rfc822Name constraint {constraint:?}"
                        ));
                    }
                    out.emails.push(constraint);
                }
                0x86 => {
                    let domain = text()?;
                    if super::constraints::parse_ip(&domain).is_some() {
                        return Err(format!(
                            "x509: failed to parse URI constraint {domain:?}: cannot be IP address"
                        ));
                    }
                    if !domain_name_valid(value, true) {
                        return Err(format!("x509: failed to parse URI constraint {domain:?}"));
                    }
                    out.uris.push(domain);
                }
                _ => unhandled = true,
            }
        }
        Ok(out)
    };
    let p = values(permitted)?;
    let x = values(excluded)?;
    cert.permitted_dns_domains = p.dns;
    cert.permitted_ip_ranges = p.ips;
    cert.permitted_email_addresses = p.emails;
    cert.permitted_uri_domains = p.uris;
    cert.excluded_dns_domains = x.dns;
    cert.excluded_ip_ranges = x.ips;
    cert.excluded_email_addresses = x.emails;
    cert.excluded_uri_domains = x.uris;
    cert.permitted_dns_domains_critical = e.critical;
    Ok(unhandled)
}

/// The decimal digits of a big-endian magnitude, as Go's `big.Int.String` prints it.
pub fn decimal(magnitude: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    let mut number: Vec<u8> = crate::keys::strip_leading_zeros(magnitude).to_vec();
    while !number.is_empty() {
        // Divide by 10, most significant byte first.
        let mut rem = 0u32;
        let mut quotient = Vec::with_capacity(number.len());
        for &b in &number {
            let acc = (rem << 8) | u32::from(b);
            let q = acc / 10;
            rem = acc % 10;
            if !(quotient.is_empty() && q == 0) {
                quotient.push(q as u8);
            }
        }
        digits.push(b'0' + rem as u8);
        number = quotient;
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_serials() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        // 2^64 = 18446744073709551616.
        assert_eq!(
            decimal(&[1, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551616"
        );
    }

    #[test]
    fn domain_names_as_go_validates_them() {
        assert!(domain_name_valid(b"example.org", false));
        assert!(domain_name_valid(b"example.org:8443", false));
        assert!(!domain_name_valid(b"example..org", false));
        assert!(!domain_name_valid(b"example.org.", false));
        assert!(domain_name_valid(b".example.org", true));
        assert!(!domain_name_valid(b".example.org", false));
        assert!(!domain_name_valid(b"exa mple.org", false));
    }
}
