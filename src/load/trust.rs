//! Trust in the server: its bundle, the TLS check of its own SVID, and the check of every
//! agent X509-SVID it returns.
//!
//! A SPIRE server's TLS certificate is its X509-SVID, `spiffe://<trust domain>/spire/server`
//! as its only name (no DNS name), so the usual hostname check cannot apply: as a SPIRE agent
//! does, the server is trusted when its certificate chains to the bundle and carries that ID.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::x509::cert::PublicKey;
use crate::x509::verify::{self, OwnedPool, Pool};
use crate::x509::{self, pem};

/// The server's trust bundle: the X.509 roots its SVIDs chain to (`spire-server bundle show`).
pub struct Bundle {
    roots: OwnedPool,
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bundle({} roots)", self.roots.certs().len())
    }
}

impl Bundle {
    /// Reads a PEM bundle; an error names the file.
    pub fn load(path: &Path) -> Result<Bundle, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Bundle::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a PEM bundle of one or more certificates (as Go parses them).
    pub fn from_pem(pem: &[u8]) -> Result<Bundle, String> {
        let mut roots = Vec::new();
        for block in pem::blocks(pem)
            .into_iter()
            .filter(|b| b.kind == "CERTIFICATE")
        {
            roots
                .push(x509::parse(&block.bytes).map_err(|e| format!("a bundle certificate: {e}"))?);
        }
        if roots.is_empty() {
            return Err("no certificate in the bundle".into());
        }
        Ok(Bundle {
            roots: OwnedPool::new(roots),
        })
    }

    /// Checks that `chain` (leaf first) is an X509-SVID for `spiffe_id`, as a SPIRE agent (Go's
    /// `crypto/x509`) checks one: a valid path to the bundle now, with `spiffe_id` as its one
    /// URI name. Returns the leaf's public key (the subjectPublicKey bits).
    pub fn verify_svid(
        &self,
        chain: &[CertificateDer<'_>],
        spiffe_id: &str,
    ) -> Result<Vec<u8>, String> {
        let leaf_der = chain.first().ok_or("an empty certificate chain")?;
        let leaf = x509::parse(leaf_der).map_err(|e| format!("the SVID: {e}"))?;
        let intermediates = chain[1..]
            .iter()
            .map(|der| x509::parse(der).map_err(|e| format!("the SVID's chain: {e}")))
            .collect::<Result<Vec<_>, String>>()?;
        let mut pool = Pool::default();
        for cert in &intermediates {
            pool.add(cert);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs() as i64;
        let roots = &self.roots;
        verify::verify(
            &leaf,
            &verify::Options {
                roots: &roots,
                intermediates: &pool,
                now,
                signatures: &verify::Direct,
            },
        )
        .map_err(|e| format!("the SVID does not chain to the bundle: {e}"))?;
        let uris: Vec<String> = leaf
            .uris
            .iter()
            .map(|u| String::from_utf8_lossy(&u.to_bytes()).into_owned())
            .collect();
        if uris != [spiffe_id] {
            return Err(format!(
                "the SVID names {uris:?}, not {spiffe_id} alone",
                uris = uris.iter().map(|u| clip(u)).collect::<Vec<_>>()
            ));
        }
        Ok(match &leaf.public_key {
            PublicKey::Ecdsa { point, .. } => point.clone(),
            PublicKey::Rsa { pkcs1, .. } => pkcs1.clone(),
            PublicKey::Ed25519(key) => key.clone(),
            PublicKey::Dsa | PublicKey::None => Vec::new(),
        })
    }
}

/// At most 120 characters of a value from the server, for messages.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Verifies the server's TLS certificate as a SPIRE agent does.
#[derive(Debug)]
struct ServerSvidVerifier {
    bundle: Arc<Bundle>,
    server_id: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerSvidVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain: Vec<CertificateDer<'_>> = std::iter::once(end_entity.clone())
            .chain(intermediates.iter().cloned())
            .collect();
        self.bundle
            .verify_svid(&chain, &self.server_id)
            .map_err(|e| rustls::Error::General(format!("server certificate: {e}")))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client configuration (rustls on aws-lc, HTTP/2 by ALPN) that trusts a server
/// presenting `spiffe://<trust_domain>/spire/server` under `bundle`.
pub fn client_config(bundle: Arc<Bundle>, trust_domain: &str) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = ServerSvidVerifier {
        bundle,
        server_id: format!("spiffe://{trust_domain}/spire/server"),
        provider: provider.clone(),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    };

    fn ca() -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let cert = params.self_signed(&key).unwrap();
        (cert, Issuer::new(params, key))
    }

    fn svid(issuer: &Issuer<'_, KeyPair>, uris: &[&str]) -> (CertificateDer<'static>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = uris
            .iter()
            .map(|u| SanType::URI((*u).try_into().unwrap()))
            .collect();
        let cert = params.signed_by(&key, issuer).unwrap();
        (cert.der().clone(), key.public_key_raw().to_vec())
    }

    #[test]
    fn an_svid_is_checked_for_its_chain_and_its_one_spiffe_id() {
        let (root, issuer) = ca();
        let bundle = Bundle::from_pem(root.pem().as_bytes()).unwrap();
        let id = "spiffe://example.org/spire/agent/join_token/abc";
        let (leaf, public) = svid(&issuer, &[id]);
        assert_eq!(
            bundle.verify_svid(std::slice::from_ref(&leaf), id),
            Ok(public)
        );

        let other = "spiffe://example.org/spire/agent/join_token/abd";
        let err = bundle.verify_svid(&[leaf], other).unwrap_err();
        assert!(
            err.contains("not spiffe://example.org/spire/agent/join_token/abd alone"),
            "{err}"
        );

        let (two, _) = svid(&issuer, &[id, other]);
        assert!(bundle.verify_svid(&[two], id).is_err());

        let (_, stranger) = ca();
        let (foreign, _) = svid(&stranger, &[id]);
        let err = bundle.verify_svid(&[foreign], id).unwrap_err();
        assert!(err.contains("does not chain to the bundle"), "{err}");
        assert!(bundle.verify_svid(&[], id).is_err());
    }

    #[test]
    fn a_bundle_needs_certificates() {
        assert!(Bundle::from_pem(b"").is_err());
        assert!(Bundle::from_pem(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err());
    }
}
