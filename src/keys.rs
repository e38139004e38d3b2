//! Verification keys: JWS algorithms, JWK Set loading, keys parsed once and bound to one
//! algorithm.
//!
//! Every check that can be made on a key is made here, at load: key type and curve against
//! `alg`, `use`/`key_ops`, private members, RSA size and exponent, the ROCA fingerprint, HMAC key
//! length, duplicate `kid`s, and symmetric keys mixed with asymmetric ones (the classic
//! algorithm-confusion setup). A [`VerifyKey`] is then used with its one [`Alg`] only.

use std::collections::HashSet;
use std::fmt;

use aws_lc_rs::{hmac, signature};
use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::json::{first_duplicate_key, JsonBuffers};

/// A JWS algorithm this engine implements (RFC 7518 §3, RFC 8037).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

/// The family of key an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    /// `kty: RSA`.
    Rsa,
    /// `kty: EC`, `crv: P-256`.
    P256,
    /// `kty: EC`, `crv: P-384`.
    P384,
    /// `kty: OKP`, `crv: Ed25519`.
    Ed25519,
    /// `kty: oct`.
    Oct,
}

impl Alg {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Alg; 12] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
    ];

    /// Parses a JWS `alg` value, exactly (case-sensitive). `none` and unknown names are `None`.
    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
        }
    }

    /// The key family the algorithm needs.
    pub fn family(self) -> KeyFamily {
        match self {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                KeyFamily::Rsa
            }
            Alg::ES256 => KeyFamily::P256,
            Alg::ES384 => KeyFamily::P384,
            Alg::EdDSA => KeyFamily::Ed25519,
            Alg::HS256 | Alg::HS384 | Alg::HS512 => KeyFamily::Oct,
        }
    }

    /// True for the HMAC algorithms.
    pub fn is_hmac(self) -> bool {
        self.family() == KeyFamily::Oct
    }

    fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    fn hmac_params(self) -> Option<(hmac::Algorithm, usize)> {
        // RFC 7518 §3.2: a key of the same size as the hash output or larger MUST be used.
        Some(match self {
            Alg::HS256 => (hmac::HMAC_SHA256, 32),
            Alg::HS384 => (hmac::HMAC_SHA384, 48),
            Alg::HS512 => (hmac::HMAC_SHA512, 64),
            _ => return None,
        })
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The parsed key material.
enum Material {
    Public(signature::ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

/// A verification key, parsed once, usable with exactly one algorithm.
pub struct VerifyKey {
    kid: Option<Box<str>>,
    alg: Alg,
    material: Material,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Smallest RSA modulus accepted, in bits (SPEC §2).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: aws-lc-rs verifies up to 8192.
pub const MAX_RSA_BITS: usize = 8192;

impl VerifyKey {
    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Verifies `sig` over `msg`. The caller has already matched the token's `alg` to
    /// [`VerifyKey::alg`].
    #[inline]
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.material {
            Material::Public(key) => key.verify_sig(msg, sig).is_ok(),
            Material::Hmac(key) => hmac::verify(key, msg, sig).is_ok(),
        }
    }

    /// An RSA key from big-endian modulus and exponent (leading zero bytes allowed).
    pub fn from_rsa(alg: Alg, n: &[u8], e: &[u8]) -> Result<VerifyKey, String> {
        let params = alg
            .rsa_params()
            .ok_or_else(|| format!("{alg} does not use an RSA key"))?;
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if bits < MIN_RSA_BITS {
            return Err(format!("RSA modulus is {bits} bits, under {MIN_RSA_BITS}"));
        }
        if bits > MAX_RSA_BITS {
            return Err(format!("RSA modulus is {bits} bits, over {MAX_RSA_BITS}"));
        }
        if e.len() > 8 || e == [1] || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(
                "RSA public exponent must be odd, greater than 1 and at most 64 bits".into(),
            );
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err("RSA modulus is even".into());
        }
        if has_roca_fingerprint(n) {
            return Err("RSA modulus has the ROCA fingerprint (CVE-2017-15361)".into());
        }
        let key = signature::RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(params)
            .map_err(|err| format!("RSA key rejected: {err}"))?;
        Ok(VerifyKey {
            kid: None,
            alg,
            material: Material::Public(key),
        })
    }

    /// An ECDSA key from its uncompressed SEC 1 point (`04 || x || y`).
    pub fn from_ec_point(alg: Alg, point: &[u8]) -> Result<VerifyKey, String> {
        let verify_alg: &'static signature::EcdsaVerificationAlgorithm = match alg {
            Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            _ => return Err(format!("{alg} does not use an EC key")),
        };
        let key = signature::ParsedPublicKey::new(verify_alg, point)
            .map_err(|err| format!("EC point rejected: {err}"))?;
        Ok(VerifyKey {
            kid: None,
            alg,
            material: Material::Public(key),
        })
    }

    /// An Ed25519 key from its 32 raw bytes.
    pub fn from_ed25519(raw: &[u8]) -> Result<VerifyKey, String> {
        if raw.len() != 32 {
            return Err(format!("Ed25519 key is {} bytes, not 32", raw.len()));
        }
        let key = signature::ParsedPublicKey::new(&signature::ED25519, raw)
            .map_err(|err| format!("Ed25519 key rejected: {err}"))?;
        Ok(VerifyKey {
            kid: None,
            alg: Alg::EdDSA,
            material: Material::Public(key),
        })
    }

    /// An HMAC key; it must be at least as long as the hash output.
    pub fn from_hmac(alg: Alg, secret: &[u8]) -> Result<VerifyKey, String> {
        let (hmac_alg, min) = alg
            .hmac_params()
            .ok_or_else(|| format!("{alg} does not use an oct key"))?;
        if secret.len() < min {
            return Err(format!(
                "{alg} key is {} bytes; RFC 7518 requires at least {min}",
                secret.len()
            ));
        }
        Ok(VerifyKey {
            kid: None,
            alg,
            material: Material::Hmac(Box::new(hmac::Key::new(hmac_alg, secret))),
        })
    }
}

/// A big-endian unsigned integer without its leading zero bytes.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The number of significant bits of a big-endian unsigned integer (leading zero bytes allowed).
pub(crate) fn bit_len(be: &[u8]) -> usize {
    let be = strip_leading_zeros(be);
    match be.first() {
        None => 0,
        Some(&top) => (be.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// The ROCA test (Nemec et al., CCS 2017): moduli made by the vulnerable Infineon library are
/// congruent, modulo each small prime `p` below, to a power of 65537. A random modulus passes
/// all 38 tests with negligible probability.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        let generator = 65_537 % p;
        let mut power = 1u32;
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
        }
        false
    })
}

/// What a JWK Set is loaded for: the issuer's allowed algorithms decide which keys may load.
pub struct JwksPolicy<'a> {
    /// The issuer's `algorithms`.
    pub algorithms: &'a [Alg],
}

/// Parses a JWK Set (RFC 7517 §5) into keys. Errors name the key by index and `kid`.
pub fn load_jwks(text: &str, policy: &JwksPolicy<'_>) -> Result<Vec<VerifyKey>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWK Set: no \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWK Set has no keys".into());
    }
    // serde_json keeps the last of duplicate members; each key's own text is checked for them.
    let texts = serde_json::from_str::<KeyTexts<'_>>(text)
        .map(|set| set.keys)
        .unwrap_or_default();
    let mut out: Vec<VerifyKey> = Vec::with_capacity(keys.len());
    // A set, not a search of `out`: a JWKS of 100k keys must load in linear time.
    let mut kids: HashSet<&str> = HashSet::with_capacity(keys.len());
    for (index, jwk) in keys.iter().enumerate() {
        let obj = jwk
            .as_object()
            .ok_or_else(|| format!("key #{index} is not a JSON object"))?;
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(format!("key #{index}: kid is not a string")),
        };
        let name = match kid {
            Some(kid) => format!("key #{index} (kid {kid:?})"),
            None => format!("key #{index}"),
        };
        if let Some(member) = texts.get(index).and_then(|raw| duplicate_member(raw.get())) {
            return Err(format!(
                "{name}: member {member:?} appears twice (keys are refused, not guessed at)"
            ));
        }
        let mut key = load_jwk(obj, policy).map_err(|err| format!("{name}: {err}"))?;
        if let Some(kid) = kid {
            if !kids.insert(kid) {
                return Err(format!("{name}: duplicate kid"));
            }
            key.kid = Some(kid.into());
        }
        out.push(key);
    }
    if let Some(member) = duplicate_member(text) {
        return Err(format!("the JWK Set has member {member:?} twice"));
    }
    let symmetric = out.iter().filter(|k| k.alg.is_hmac()).count();
    if symmetric != 0 && symmetric != out.len() {
        return Err("the JWK Set mixes oct (HMAC) keys with public keys; keep them apart".into());
    }
    Ok(out)
}

/// The text of each key of a JWK Set, for the duplicate check.
#[derive(serde::Deserialize)]
struct KeyTexts<'a> {
    #[serde(borrow)]
    keys: Vec<&'a RawValue>,
}

/// A member name that appears twice in one object anywhere in `text`, if any (SPEC §5 refuses
/// them in tokens; a key set is held to the same rule).
fn duplicate_member(text: &str) -> Option<String> {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut buffers = JsonBuffers::default();
    let tape = buffers
        .parse_text(text.as_bytes(), &mut first, &mut second)
        .ok()?;
    first_duplicate_key(&tape).map(str::to_owned)
}

fn load_jwk(obj: &Map<String, Value>, policy: &JwksPolicy<'_>) -> Result<VerifyKey, String> {
    let string = |name: &str| -> Result<Option<&str>, String> {
        match obj.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        let text = string(name)?.ok_or_else(|| format!("{name} is missing"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|err| format!("{name} is not base64url: {err}"))
    };
    let kty = string("kty")?.ok_or("kty is missing")?;
    if let Some(usage) = string("use")? {
        if usage != "sig" {
            return Err(format!("use is {usage:?}, not \"sig\""));
        }
    }
    if let Some(ops) = obj.get("key_ops") {
        let ops = ops.as_array().ok_or("key_ops is not an array")?;
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let private: &[&str] = match kty {
        "RSA" => &["d", "p", "q", "dp", "dq", "qi", "oth"],
        "EC" | "OKP" => &["d"],
        _ => &[],
    };
    if let Some(member) = private.iter().find(|m| obj.contains_key(**m)) {
        return Err(format!(
            "has private key member {member:?}; a JWK Set here holds public keys only"
        ));
    }
    let family = match (kty, string("crv")?) {
        ("RSA", _) => KeyFamily::Rsa,
        ("EC", Some("P-256")) => KeyFamily::P256,
        ("EC", Some("P-384")) => KeyFamily::P384,
        ("OKP", Some("Ed25519")) => KeyFamily::Ed25519,
        ("oct", _) => KeyFamily::Oct,
        ("EC" | "OKP", crv) => return Err(format!("kty {kty} with crv {crv:?} is not supported")),
        _ => return Err(format!("kty {kty:?} is not supported")),
    };
    let alg = bind_alg(string("alg")?, family, policy)?;
    match family {
        KeyFamily::Rsa => VerifyKey::from_rsa(alg, &bytes("n")?, &bytes("e")?),
        KeyFamily::P256 | KeyFamily::P384 => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            let size = if family == KeyFamily::P256 { 32 } else { 48 };
            if x.len() != size || y.len() != size {
                return Err(format!("x and y must be {size} bytes each"));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            VerifyKey::from_ec_point(alg, &point)
        }
        KeyFamily::Ed25519 => VerifyKey::from_ed25519(&bytes("x")?),
        KeyFamily::Oct => VerifyKey::from_hmac(alg, &bytes("k")?),
    }
}

/// Decides the one algorithm of a key: its `alg` when given (it must fit the key type), else the
/// only algorithm its type admits, else the only one of the issuer's algorithms that fits.
fn bind_alg(alg: Option<&str>, family: KeyFamily, policy: &JwksPolicy<'_>) -> Result<Alg, String> {
    if let Some(name) = alg {
        let alg = Alg::parse(name).ok_or_else(|| format!("alg {name:?} is not supported"))?;
        if alg.family() != family {
            return Err(format!("alg {alg} does not fit a {family:?} key"));
        }
        if alg.is_hmac() && !policy.algorithms.iter().any(|a| a.is_hmac()) {
            return Err("oct (HMAC) keys load only for an issuer whose algorithms name HS*".into());
        }
        return Ok(alg);
    }
    let fits: Vec<Alg> = match family {
        KeyFamily::P256 => vec![Alg::ES256],
        KeyFamily::P384 => vec![Alg::ES384],
        KeyFamily::Ed25519 => vec![Alg::EdDSA],
        KeyFamily::Rsa | KeyFamily::Oct => policy
            .algorithms
            .iter()
            .copied()
            .filter(|a| a.family() == family)
            .collect(),
    };
    match fits.as_slice() {
        [one] => Ok(*one),
        [] if family == KeyFamily::Oct => {
            Err("oct (HMAC) keys load only for an issuer whose algorithms name HS*".into())
        }
        [] => Err(format!(
            "no alg given and none of the issuer's algorithms fits a {family:?} key"
        )),
        many => Err(format!(
            "no alg given and the issuer allows {} for this key type; set alg on the JWK",
            many.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: JwksPolicy<'static> = JwksPolicy {
        algorithms: &Alg::ALL,
    };

    #[test]
    fn alg_names_are_exact() {
        assert_eq!(Alg::parse("ES256"), Some(Alg::ES256));
        assert_eq!(Alg::parse("es256"), None);
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("ES512"), None);
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.name()), Some(alg));
        }
    }

    #[test]
    fn rejects_private_members_duplicates_and_mixed_sets() {
        let ec = r#"{"kty":"EC","crv":"P-256","kid":"a","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}"#;
        let ok = load_jwks(&format!(r#"{{"keys":[{ec}]}}"#), &ALL).unwrap();
        assert_eq!(ok[0].alg(), Alg::ES256);
        assert_eq!(ok[0].kid(), Some("a"));

        let dup = load_jwks(&format!(r#"{{"keys":[{ec},{ec}]}}"#), &ALL).unwrap_err();
        assert!(dup.contains("duplicate kid"), "{dup}");

        // A member twice inside one key (serde_json would keep the last), however written.
        for twice in [r#""crv":"P-384","#, r#""kty":"EC","#, r#""\u0078":"AAAA","#] {
            let key = ec.replacen("{", &format!("{{{twice}"), 1);
            let err = load_jwks(
                &format!(
                    r#"{{"keys":[{ec2},{key}]}}"#,
                    ec2 = ec.replace(r#""kid":"a""#, r#""kid":"b""#)
                ),
                &ALL,
            )
            .unwrap_err();
            assert!(
                err.starts_with("key #1 (kid \"a\"): member") && err.contains("twice"),
                "{twice}: {err}"
            );
        }
        let err = load_jwks(&format!(r#"{{"keys":[{ec}],"keys":[{ec}]}}"#), &ALL).unwrap_err();
        assert!(err.contains("\"keys\" twice"), "{err}");

        let private = ec.replace(r#""kid":"a""#, r#""kid":"a","d":"AAAA""#);
        let err = load_jwks(&format!(r#"{{"keys":[{private}]}}"#), &ALL).unwrap_err();
        assert!(err.contains("private key member"), "{err}");

        let oct = r#"{"kty":"oct","alg":"HS256","kid":"h","k":"-ebuDNsVZ2iJtoZ-akfXTSCt4UO2cruLCsbWlBinggE"}"#;
        let err = load_jwks(&format!(r#"{{"keys":[{ec},{oct}]}}"#), &ALL).unwrap_err();
        assert!(err.contains("mixes"), "{err}");

        let es_only = JwksPolicy {
            algorithms: &[Alg::ES256],
        };
        let err = load_jwks(&format!(r#"{{"keys":[{oct}]}}"#), &es_only).unwrap_err();
        assert!(err.contains("HS*"), "{err}");
    }

    #[test]
    fn a_large_set_loads_and_its_duplicate_kid_is_found() {
        // 100k keys took ~30 s while each kid was searched for among the keys before it.
        let key = |kid: &str| {
            format!(
                r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}}"#
            )
        };
        let mut keys: Vec<String> = (0..100_000).map(|i| key(&format!("k{i}"))).collect();
        let set = |keys: &[String]| format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        let loaded = load_jwks(&set(&keys), &ALL).unwrap();
        assert_eq!(loaded.len(), 100_000);
        assert_eq!(loaded[99_999].kid(), Some("k99999"));
        keys.push(key("k17"));
        let err = load_jwks(&set(&keys), &ALL).unwrap_err();
        assert_eq!(err, r#"key #100000 (kid "k17"): duplicate kid"#);
    }

    #[test]
    fn unbound_rsa_key_needs_a_single_fitting_issuer_alg() {
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            std::iter::once(0xc1u8)
                .chain(std::iter::repeat_n(0x5a, 254))
                .chain([0x01])
                .collect::<Vec<_>>(),
        );
        let jwks = format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#);
        let one = JwksPolicy {
            algorithms: &[Alg::RS256, Alg::ES256],
        };
        assert_eq!(load_jwks(&jwks, &one).unwrap()[0].alg(), Alg::RS256);
        let err = load_jwks(&jwks, &ALL).unwrap_err();
        assert!(err.contains("set alg on the JWK"), "{err}");
        let e_one = jwks.replace("AQAB", "AQ");
        assert!(load_jwks(&e_one, &one).unwrap_err().contains("exponent"));
    }

    #[test]
    fn roca_test_flags_powers_of_65537_only() {
        // 65537^k for small k is trivially a power of the generator modulo every prime.
        assert!(has_roca_fingerprint(&[0x01, 0x00, 0x01]));
        assert!(!has_roca_fingerprint(&[0x01, 0x00, 0x03]));
    }
}
