//! `gen --live`: a fleet for a running SPIRE server, attested by `fleet-attest load`.
//!
//! Unlike the evidence fleets of `gen`, whose x509pop records reuse a few bundled leaves, a live
//! fleet gives every node its own P-256 key and leaf certificate (a server keys agents by leaf
//! fingerprint, so 100k nodes need 100k leaves), and mints join tokens for the server to
//! register. Written into `--out`:
//!
//! | file | what it holds |
//! |---|---|
//! | `ca/root.pem`, `ca/intermediate.pem` | the fleet's CA: the root is the server's x509pop `ca_bundle_path`, the intermediate signs the leaves |
//! | `ca/next-root.pem`, `ca/next-intermediate.pem` | the CA the fleet rotates to: `--next-ca-fraction` of the leaves are issued under it already |
//! | `nodes.jsonl` | one node a line, for `load`: x509pop nodes with their chain and PKCS#8 private key, join-token nodes with their token; each with the agent ID SPIRE's default templates give it (mode 0600: it holds the keys) |
//! | `join_tokens.csv` | the tokens, for `verify` |
//! | `evidence.jsonl` | a transcript of every node (x509pop: a proof of possession over a challenge made here; join_token: its token) for `verify` |
//! | `fleet.toml` | a `verify` config trusting both roots, with node aliases per pool and region |
//!
//! Leaves carry the URI SANs `x509pop://<trust domain>/pool/<pool>` and
//! `…/region/<region>` from small sets, so SPIRE's SAN selectors and node aliases group them.
//! As the rest of `gen`, everything derives from `--seed` and `--now` (keys from a seeded
//! ChaCha stream, deterministic ECDSA), so the same arguments give the same bytes.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use aws_lc_rs::{agreement, digest, signature};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::Args;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyUsagePurpose,
    PublicKeyData, SanType, SerialNumber, SignatureAlgorithm, SigningKey, PKCS_ECDSA_P256_SHA256,
};
use serde_json::json;

use super::ecdsa::FixedNonceSigner;
use crate::failure::Failure;

/// The live-fleet options of `gen`.
#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    /// Mint a fleet for a running SPIRE server (`fleet-attest load`): --nodes distinct x509pop
    /// leaves with their keys, and --join-tokens tokens.
    #[arg(long)]
    pub live: bool,
    /// Join tokens in a live fleet (default: as many as --nodes).
    #[arg(long, value_name = "M", requires = "live")]
    pub join_tokens: Option<u64>,
    /// Fraction of a live fleet's leaves already issued under the next CA (ca/next-root.pem),
    /// for a pass after the server rotates its x509pop CA.
    #[arg(long, value_name = "F", default_value_t = 0.0, requires = "live")]
    pub next_ca_fraction: f64,
    /// Trust domain of a live fleet (the server's).
    #[arg(
        long,
        value_name = "TD",
        default_value = "example.org",
        requires = "live"
    )]
    pub trust_domain: String,
}

/// Pools and regions of the leaves' SAN URIs: small sets, so aliases group many nodes.
const POOLS: [&str; 4] = ["blue", "green", "red", "amber"];
const REGIONS: [&str; 3] = ["eu-west-1", "eu-central-1", "us-east-1"];
/// Nodes made per parallel batch: bounds memory for large fleets.
const BATCH: u64 = 16_384;
/// Leaves are valid from an hour before `--now` for a year; the CAs for ten years.
const LEAF_DAYS: u64 = 365;
const CA_DAYS: u64 = 3650;
/// `join_tokens.csv` expiry, for `verify` (the server's is set when `load` registers them).
const TOKEN_DAYS: i64 = 30;
/// Salt of the live fleet's random streams, so they never repeat `gen`'s other streams.
const SALT: u64 = 0x6c69_7665_666c_6565;

/// A P-256 key derived from a seeded stream: its private scalar's deterministic signer and its
/// public point. Signs for rcgen as the CA, and proofs of possession as a node.
struct Key {
    d: [u8; 32],
    point: Vec<u8>,
    signer: FixedNonceSigner,
}

impl Key {
    fn derive(rng: &mut ChaCha20Rng) -> Result<Key, String> {
        for _ in 0..16 {
            let mut d = [0u8; 32];
            rng.fill_bytes(&mut d);
            // Out of range (zero or at least the group order) is rejected: draw again.
            let Ok(private) = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &d)
            else {
                continue;
            };
            let point = private
                .compute_public_key()
                .map_err(|_| "P-256 public key")?
                .as_ref()
                .to_vec();
            let signer = FixedNonceSigner::new(&d).ok_or("P-256 signer")?;
            return Ok(Key { d, point, signer });
        }
        Err("no P-256 scalar in range after 16 draws".into())
    }

    /// The private key as PKCS#8 (RFC 5208) DER.
    fn pkcs8(&self) -> Result<Vec<u8>, String> {
        let pair = signature::EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &self.d,
            &self.point,
        )
        .map_err(|e| format!("P-256 key pair: {e}"))?;
        Ok(pair
            .to_pkcs8v1()
            .map_err(|_| "PKCS#8 encoding")?
            .as_ref()
            .to_vec())
    }
}

impl PublicKeyData for Key {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for Key {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let hash = digest::digest(&digest::SHA256, msg);
        let fixed = self
            .signer
            .sign_digest(hash.as_ref())
            .ok_or(rcgen::Error::RingUnspecified)?;
        let sig = p256::ecdsa::Signature::from_slice(&fixed)
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// Sets the validity of `params` to `[not_before, not_after]` (Unix seconds; before 1970 is
/// taken as 1970).
fn validity(params: &mut CertificateParams, not_before: i64, not_after: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs(not_before.max(0) as u64);
    params.not_after = epoch + Duration::from_secs(not_after.max(0) as u64);
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn serial(rng: &mut ChaCha20Rng) -> SerialNumber {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01; // positive and of full length
    SerialNumber::from_slice(&bytes)
}

/// One CA of the fleet: a root and the intermediate that signs leaves.
struct Ca {
    root_pem: String,
    intermediate_pem: String,
    intermediate_der: String,
    issuer: Issuer<'static, Key>,
}

impl Ca {
    fn new(label: &str, now: i64, rng: &mut ChaCha20Rng) -> Result<Ca, String> {
        let err = |e: rcgen::Error| format!("{label} CA: {e}");
        let ca_params = |cn: String, path: BasicConstraints, rng: &mut ChaCha20Rng| {
            let mut params = CertificateParams::default();
            params.distinguished_name = name(&cn);
            params.serial_number = Some(serial(rng));
            validity(&mut params, now - 86_400, now + CA_DAYS as i64 * 86_400);
            params.is_ca = IsCa::Ca(path);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            params
        };
        let root_key = Key::derive(rng)?;
        let root_params = ca_params(
            format!("Fleet Live {label} Root CA"),
            BasicConstraints::Unconstrained,
            rng,
        );
        let root = root_params.self_signed(&root_key).map_err(err)?;
        let root_issuer = Issuer::new(root_params, root_key);
        let key = Key::derive(rng)?;
        let params = ca_params(
            format!("Fleet Live {label} Intermediate CA"),
            BasicConstraints::Constrained(0),
            rng,
        );
        let intermediate = params.signed_by(&key, &root_issuer).map_err(err)?;
        Ok(Ca {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            intermediate_der: STANDARD.encode(intermediate.der()),
            issuer: Issuer::new(params, key),
        })
    }
}

/// What `nodes.jsonl` and `evidence.jsonl` get for one node.
struct Lines {
    node: String,
    evidence: String,
    token: Option<String>,
}

struct Plan<'a> {
    seed: u64,
    now: i64,
    trust_domain: &'a str,
    x509pop: u64,
    tokens: u64,
    next_ca_fraction: f64,
    current: &'a Ca,
    next: &'a Ca,
}

impl Plan<'_> {
    fn total(&self) -> u64 {
        self.x509pop + self.tokens
    }

    /// Join tokens are spread evenly through the fleet: node `i` is one when the count of
    /// tokens among the first `i + 1` nodes steps up.
    fn is_token(&self, i: u64) -> bool {
        let total = u128::from(self.total());
        let tokens = u128::from(self.tokens);
        let i = u128::from(i);
        (i + 1) * tokens / total > i * tokens / total
    }

    fn rng(&self, i: u64) -> ChaCha20Rng {
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed ^ SALT);
        rng.set_stream(i.wrapping_add(1));
        rng
    }

    fn node(&self, i: u64) -> Result<Lines, String> {
        let id = format!("node-{i}");
        let mut rng = self.rng(i);
        if self.is_token(i) {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            let token = crate::hex::lower(&bytes);
            let agent_id = format!(
                "spiffe://{}/spire/agent/join_token/{token}",
                self.trust_domain
            );
            return Ok(Lines {
                node: json!({"id": id, "type": "join_token", "agent_id": agent_id, "token": token})
                    .to_string(),
                evidence: json!({"id": id, "type": "join_token", "token": token}).to_string(),
                token: Some(token),
            });
        }
        let next = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= self.next_ca_fraction
            && self.next_ca_fraction > 0.0;
        let ca = if next { self.next } else { self.current };
        let key = Key::derive(&mut rng)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&id);
        params.serial_number = Some(serial(&mut rng));
        validity(
            &mut params,
            self.now - 3600,
            self.now + LEAF_DAYS as i64 * 86_400,
        );
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let pool = POOLS[(i % POOLS.len() as u64) as usize];
        let region = REGIONS[((i / POOLS.len() as u64) % REGIONS.len() as u64) as usize];
        for san in [format!("pool/{pool}"), format!("region/{region}")] {
            let uri = format!("x509pop://{}/{san}", self.trust_domain);
            let uri = uri.try_into().map_err(|e| format!("{id}: SAN URI: {e}"))?;
            params.subject_alt_names.push(SanType::URI(uri));
        }
        let leaf = params
            .signed_by(&key, &ca.issuer)
            .map_err(|e| format!("{id}: leaf: {e}"))?;
        let fingerprint = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, leaf.der());
        let agent_id = format!(
            "spiffe://{}/spire/agent/x509pop/{}",
            self.trust_domain,
            crate::hex::lower(fingerprint.as_ref())
        );
        let certificates = [STANDARD.encode(leaf.der()), ca.intermediate_der.clone()];
        let node = json!({
            "id": id, "type": "x509pop", "agent_id": agent_id,
            "ca": if next { "next" } else { "current" },
            "certificates": certificates,
            "private_key": STANDARD.encode(key.pkcs8()?),
        })
        .to_string();
        // The transcript `verify` judges: a challenge made here, answered as a SPIRE agent
        // answers one (SHA-256 of both nonces, signed as a digest; r and s as big.Int.Bytes()).
        let mut challenge = [0u8; 32];
        let mut response = [0u8; 32];
        rng.fill_bytes(&mut challenge);
        rng.fill_bytes(&mut response);
        let hash = digest::digest(&digest::SHA256, &[challenge, response].concat());
        let rs = key
            .signer
            .sign_digest(hash.as_ref())
            .ok_or_else(|| format!("{id}: proof"))?;
        let minimal = |b: &[u8]| STANDARD.encode(crate::keys::strip_leading_zeros(b));
        let evidence = json!({
            "id": id, "type": "x509pop",
            "payload": {"certificates": certificates},
            "challenge": {"rsa_signature": null, "ecdsa_signature": {"nonce": STANDARD.encode(challenge)}},
            "response": {"rsa_signature": null, "ecdsa_signature": {
                "nonce": STANDARD.encode(response), "r": minimal(&rs[..32]), "s": minimal(&rs[32..])}},
        })
        .to_string();
        Ok(Lines {
            node,
            evidence,
            token: None,
        })
    }
}

/// The `verify` config of a live fleet: both roots, the tokens, an alias per pool and region.
fn config(trust_domain: &str) -> String {
    let mut toml = format!(
        "# Generated by fleet-attest gen --live.\ntrust_domain = \"{trust_domain}\"\n\n\
         [x509pop]\nca_bundle_paths = [\"ca/root.pem\", \"ca/next-root.pem\"]\n\n\
         [join_token]\ntokens_path = \"join_tokens.csv\"\n"
    );
    for (key, values) in [("pool", &POOLS[..]), ("region", &REGIONS[..])] {
        for value in values {
            let _ = write!(
                toml,
                "\n[[node_alias]]\nspiffe_id = \"spiffe://{trust_domain}/{key}/{value}\"\n\
                 selectors = [\"x509pop:san:{key}:{value}\"]\n"
            );
        }
    }
    toml
}

/// Runs `gen --live` (`nodes` x509pop leaves).
pub fn run(args: &LiveArgs, out: &Path, nodes: u64, seed: u64, now: i64) -> Result<(), Failure> {
    if !(0.0..=1.0).contains(&args.next_ca_fraction) {
        return Err(Failure::usage("--next-ca-fraction must be within 0..=1"));
    }
    let td = &args.trust_domain;
    if td.is_empty()
        || !td.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
    {
        return Err(Failure::usage(format!(
            "--trust-domain {:?}: lowercase letters, digits, '.', '-' and '_' only",
            args.trust_domain
        )));
    }
    let started = Instant::now();
    let tokens = args.join_tokens.unwrap_or(nodes);
    let fatal =
        |path: &Path, err: std::io::Error| Failure::fatal(format!("{}: {err}", path.display()));
    let mut ca_rng = ChaCha20Rng::seed_from_u64(seed ^ SALT);
    let current = Ca::new("Current", now, &mut ca_rng).map_err(Failure::fatal)?;
    let next = Ca::new("Next", now, &mut ca_rng).map_err(Failure::fatal)?;
    let ca_dir = out.join("ca");
    fs::create_dir_all(&ca_dir).map_err(|e| fatal(&ca_dir, e))?;
    for (file, text) in [
        ("root.pem", &current.root_pem),
        ("intermediate.pem", &current.intermediate_pem),
        ("next-root.pem", &next.root_pem),
        ("next-intermediate.pem", &next.intermediate_pem),
    ] {
        let path = ca_dir.join(file);
        fs::write(&path, text).map_err(|e| fatal(&path, e))?;
    }
    let path = out.join("fleet.toml");
    fs::write(&path, config(&args.trust_domain)).map_err(|e| fatal(&path, e))?;

    let plan = Plan {
        seed,
        now,
        trust_domain: &args.trust_domain,
        x509pop: nodes,
        tokens,
        next_ca_fraction: args.next_ca_fraction,
        current: &current,
        next: &next,
    };
    let nodes_path = out.join("nodes.jsonl");
    let evidence_path = out.join("evidence.jsonl");
    let tokens_path = out.join("join_tokens.csv");
    let mut nodes_file = private_file(&nodes_path).map_err(|e| fatal(&nodes_path, e))?;
    let mut evidence =
        BufWriter::new(fs::File::create(&evidence_path).map_err(|e| fatal(&evidence_path, e))?);
    let mut tokens_csv =
        BufWriter::new(fs::File::create(&tokens_path).map_err(|e| fatal(&tokens_path, e))?);
    writeln!(tokens_csv, "# token,expires_at_unix_seconds").map_err(|e| fatal(&tokens_path, e))?;
    let mut start = 0u64;
    while start < plan.total() {
        let end = (start + BATCH).min(plan.total());
        let lines: Vec<Lines> = (start..end)
            .into_par_iter()
            .map(|i| plan.node(i))
            .collect::<Result<_, _>>()
            .map_err(Failure::fatal)?;
        for line in &lines {
            writeln!(nodes_file, "{}", line.node).map_err(|e| fatal(&nodes_path, e))?;
            writeln!(evidence, "{}", line.evidence).map_err(|e| fatal(&evidence_path, e))?;
            if let Some(token) = &line.token {
                writeln!(tokens_csv, "{token},{}", now + TOKEN_DAYS * 86_400)
                    .map_err(|e| fatal(&tokens_path, e))?;
            }
        }
        start = end;
    }
    nodes_file.flush().map_err(|e| fatal(&nodes_path, e))?;
    evidence.flush().map_err(|e| fatal(&evidence_path, e))?;
    tokens_csv.flush().map_err(|e| fatal(&tokens_path, e))?;
    eprintln!(
        "fleet-attest gen --live: {nodes} x509pop nodes and {tokens} join tokens in {} \
         ({:.1}s; seed {seed}, now {now}); trust domain {}",
        out.display(),
        started.elapsed().as_secs_f64(),
        args.trust_domain
    );
    Ok(())
}

/// A new file only its owner can read (it holds private keys).
fn private_file(path: &Path) -> std::io::Result<BufWriter<fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    Ok(BufWriter::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_tokens_are_spread_evenly_and_counted_exactly() {
        let ca = Ca::new("Test", 1_750_000_000, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        for (x509pop, tokens) in [(200, 50), (0, 7), (7, 0), (3, 1000), (1, 1)] {
            let plan = Plan {
                seed: 1,
                now: 1_750_000_000,
                trust_domain: "example.org",
                x509pop,
                tokens,
                next_ca_fraction: 0.0,
                current: &ca,
                next: &ca,
            };
            let count = (0..plan.total()).filter(|&i| plan.is_token(i)).count() as u64;
            assert_eq!(count, tokens, "{x509pop} + {tokens}");
        }
    }
}
