//! The fleet `load` attests: `nodes.jsonl` of a `gen --live` folder.
//!
//! One node a line: `{"id","type":"x509pop","certificates":[leaf, intermediates…],
//! "private_key":"<PKCS#8 DER, standard base64>"}` or `{"id","type":"join_token","token"}`,
//! each with an optional `agent_id`, the ID the server must give it (default: SPIRE's default
//! template, `/x509pop/<SHA-1 of the leaf>`, `/join_token/<token>`). Every line is checked
//! when the file is read, so a run never stops half-way on a bad node.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use aws_lc_rs::{digest, signature};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;

/// A node attestor `load` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attestor {
    /// SPIRE's x509pop: certificate chain and proof of possession.
    X509Pop,
    /// SPIRE's join_token.
    JoinToken,
}

impl Attestor {
    /// Every attestor, in report order.
    pub const ALL: [Attestor; 2] = [Attestor::X509Pop, Attestor::JoinToken];

    /// SPIRE's name for it (the attestation data type).
    pub fn name(self) -> &'static str {
        match self {
            Attestor::X509Pop => "x509pop",
            Attestor::JoinToken => "join_token",
        }
    }

    /// The attestor named `name`.
    pub fn parse(name: &str) -> Option<Attestor> {
        Attestor::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Attestor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a node attests with.
pub enum Evidence {
    /// x509pop: the attestation payload (`{"certificates":[…]}`, as sent) and the leaf's key.
    X509Pop {
        /// The payload bytes.
        payload: Vec<u8>,
        /// The leaf's private key (P-256).
        key: signature::EcdsaKeyPair,
    },
    /// join_token: the token.
    JoinToken {
        /// The token.
        token: String,
    },
}

/// One node of the fleet.
pub struct Node {
    /// Its name in the fleet.
    pub id: String,
    /// The agent ID the server must give it.
    pub agent_id: String,
    /// What it attests with.
    pub evidence: Evidence,
}

impl Node {
    /// Its attestor.
    pub fn attestor(&self) -> Attestor {
        match self.evidence {
            Evidence::X509Pop { .. } => Attestor::X509Pop,
            Evidence::JoinToken { .. } => Attestor::JoinToken,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    agent_id: Option<String>,
    #[serde(default)]
    ca: Option<String>,
    #[serde(default)]
    certificates: Vec<String>,
    private_key: Option<String>,
    token: Option<String>,
}

/// A line of `nodes.jsonl` is at most this long (a leaf, a few intermediates and a key).
const MAX_LINE: usize = 64 * 1024;

/// Reads the nodes whose attestor is in `attestors`, in file order.
pub fn load(path: &Path, trust_domain: &str, attestors: &[Attestor]) -> Result<Vec<Node>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut nodes = Vec::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.len() > MAX_LINE {
            return Err(format!(
                "{}: line {number}: longer than {MAX_LINE} bytes",
                path.display()
            ));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let node = parse(&line, trust_domain, attestors)
            .map_err(|e| format!("{}: line {number}: {e}", path.display()))?;
        nodes.extend(node);
    }
    Ok(nodes)
}

fn parse(line: &[u8], trust_domain: &str, attestors: &[Attestor]) -> Result<Option<Node>, String> {
    let line: Line = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let attestor = Attestor::parse(&line.kind)
        .ok_or_else(|| format!("type {:?} is neither x509pop nor join_token", line.kind))?;
    if !attestors.contains(&attestor) {
        return Ok(None);
    }
    let _ = line.ca; // which CA issued the leaf: for people reading the file
    let (evidence, default_id) = match attestor {
        Attestor::JoinToken => {
            let token = line.token.ok_or("a join_token node needs a token")?;
            if token.is_empty() {
                return Err("an empty token".into());
            }
            let id = format!("spiffe://{trust_domain}/spire/agent/join_token/{token}");
            (Evidence::JoinToken { token }, id)
        }
        Attestor::X509Pop => {
            let leaf = line
                .certificates
                .first()
                .ok_or("an x509pop node needs its certificates, leaf first")?;
            let leaf = STANDARD
                .decode(leaf)
                .map_err(|e| format!("the leaf is not standard base64: {e}"))?;
            for cert in &line.certificates[1..] {
                STANDARD
                    .decode(cert)
                    .map_err(|e| format!("a certificate is not standard base64: {e}"))?;
            }
            let key = STANDARD
                .decode(
                    line.private_key
                        .ok_or("an x509pop node needs its private_key")?,
                )
                .map_err(|e| format!("private_key is not standard base64: {e}"))?;
            let key = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &key,
            )
            .map_err(|e| format!("private_key is not a PKCS#8 P-256 key: {e}"))?;
            let payload =
                serde_json::to_vec(&serde_json::json!({"certificates": line.certificates}))
                    .map_err(|e| e.to_string())?;
            let fingerprint = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf);
            let id = format!(
                "spiffe://{trust_domain}/spire/agent/x509pop/{}",
                crate::hex::lower(fingerprint.as_ref())
            );
            (Evidence::X509Pop { payload, key }, id)
        }
    };
    Ok(Some(Node {
        id: line.id,
        agent_id: line.agent_id.unwrap_or(default_id),
        evidence,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_name_their_line_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.jsonl");
        let cases = [
            (
                r#"{"id":"a","type":"jwt"}"#,
                "neither x509pop nor join_token",
            ),
            (r#"{"id":"a","type":"join_token"}"#, "needs a token"),
            (
                r#"{"id":"a","type":"x509pop","certificates":["AA=="]}"#,
                "needs its private_key",
            ),
            (
                r#"{"id":"a","type":"x509pop","certificates":["%"],"private_key":"AA=="}"#,
                "not standard base64",
            ),
            (
                r#"{"id":"a","type":"x509pop","certificates":["AA=="],"private_key":"AA=="}"#,
                "not a PKCS#8 P-256 key",
            ),
            (
                r#"{"id":"a","type":"join_token","token":"t","extra":1}"#,
                "unknown field",
            ),
        ];
        for (text, want) in cases {
            std::fs::write(
                &path,
                format!("{{\"id\":\"ok\",\"type\":\"join_token\",\"token\":\"t\"}}\n{text}\n"),
            )
            .unwrap();
            let err = load(&path, "example.org", &Attestor::ALL).err().unwrap();
            assert!(
                err.contains("line 2: ") && err.contains(want),
                "{text}: {err}"
            );
        }
        std::fs::write(
            &path,
            "{\"id\":\"n\",\"type\":\"join_token\",\"token\":\"t\"}\n\n",
        )
        .unwrap();
        let nodes = load(&path, "example.org", &Attestor::ALL).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            nodes[0].agent_id,
            "spiffe://example.org/spire/agent/join_token/t"
        );
        assert!(load(&path, "example.org", &[Attestor::X509Pop])
            .unwrap()
            .is_empty());
    }
}
