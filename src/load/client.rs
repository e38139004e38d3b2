//! The agent side of SPIRE's `AttestAgent` stream, and `CreateJoinToken` on the admin socket.
//!
//! An attestation is what a SPIRE agent does at start: open the stream, send the attestation
//! data with a CSR for a fresh P-256 key, answer the attestor's challenge (x509pop), receive the
//! agent X509-SVID. `load` then checks the SVID as an agent would: its ID is the one expected,
//! it chains to the server's bundle, and it certifies the key of the CSR.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::{digest, rand as lc_rand, signature};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::uri::PathAndQuery;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
use serde::Deserialize;
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Request, Status};
use tonic_prost::ProstCodec;

use super::fleet::{Evidence, Node};
use super::outcome::{Failure, Outcome};
use super::proto::{
    AgentX509SvidParams, AttestAgentRequest, AttestAgentResponse, AttestParams, AttestationData,
    CreateJoinTokenRequest, JoinToken, RequestStep, ResponseStep, ATTEST_AGENT, CREATE_JOIN_TOKEN,
};
use super::trust::{clip, Bundle};

/// HTTP/2 connections to one server, used in turn.
pub struct Client {
    channels: Vec<Channel>,
    bundle: Arc<Bundle>,
}

impl Client {
    /// Opens `connections` TLS connections to `addr`, and to nothing else: the connector
    /// ignores the URI and dials `addr`.
    pub async fn connect(
        addr: SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        bundle: Arc<Bundle>,
        connections: usize,
    ) -> Result<Client, String> {
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("{addr}: {e}"))?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections {
            let tls = TlsConnector::from(tls.clone());
            let connector = tower::service_fn(move |_: Uri| {
                let tls = tls.clone();
                async move {
                    let tcp = TcpStream::connect(addr).await?;
                    tcp.set_nodelay(true)?;
                    let name = ServerName::IpAddress(addr.ip().into());
                    let stream = tls.connect(name, tcp).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            });
            let channel = endpoint
                .connect_with_connector(connector)
                .await
                .map_err(|e| format!("{addr}: {}", error_chain(&e)))?;
            channels.push(channel);
        }
        Ok(Client { channels, bundle })
    }

    /// One attestation of `node` on connection `seq % connections`.
    pub async fn attest(&self, node: &Node, seq: u64) -> Outcome {
        let channel = self.channels[(seq % self.channels.len() as u64) as usize].clone();
        match self.attest_on(channel, node).await {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::Failed(failure),
        }
    }

    async fn attest_on(&self, channel: Channel, node: &Node) -> Result<Outcome, Failure> {
        let svid_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| Failure::client("csr", format!("agent key: {e}")))?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&svid_key)
            .map_err(|e| Failure::client("csr", e.to_string()))?;
        let (kind, payload) = match &node.evidence {
            Evidence::X509Pop { payload, .. } => ("x509pop", payload.clone()),
            Evidence::JoinToken { token } => ("join_token", token.as_bytes().to_vec()),
        };
        let first = AttestAgentRequest {
            step: Some(RequestStep::Params(AttestParams {
                data: Some(AttestationData {
                    r#type: kind.into(),
                    payload,
                }),
                params: Some(AgentX509SvidParams {
                    csr: csr.der().to_vec(),
                }),
            })),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        // The receiver is alive until the call below returns: a send cannot fail before.
        let _ = tx.send(first).await;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| Failure::status(&Status::unavailable(error_chain(&e))))?;
        let response = grpc
            .streaming(
                Request::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
                PathAndQuery::from_static(ATTEST_AGENT),
                ProstCodec::<AttestAgentRequest, AttestAgentResponse>::default(),
            )
            .await
            .map_err(|s| Failure::status(&s))?;
        let mut stream = response.into_inner();
        let result = loop {
            let message = stream.message().await.map_err(|s| Failure::status(&s))?;
            match message.and_then(|m| m.step) {
                Some(ResponseStep::Challenge(challenge)) => {
                    let Evidence::X509Pop { key, .. } = &node.evidence else {
                        return Err(Failure::client(
                            "protocol",
                            "the server sent a challenge to a join_token attestation",
                        ));
                    };
                    let answer = answer_challenge(key, &challenge)?;
                    tx.send(AttestAgentRequest {
                        step: Some(RequestStep::ChallengeResponse(answer)),
                    })
                    .await
                    .map_err(|_| Failure::client("protocol", "the request stream closed"))?;
                }
                Some(ResponseStep::Result(result)) => break result,
                None => {
                    return Err(Failure::client(
                        "protocol",
                        "the stream ended without a result",
                    ))
                }
            }
        };
        drop(tx);
        // The server ends the stream after the result; its status must be OK.
        if let Some(extra) = stream.message().await.map_err(|s| Failure::status(&s))? {
            return Err(Failure::client(
                "protocol",
                format!("a message after the result: {extra:?}"),
            ));
        }
        let svid = result
            .svid
            .ok_or_else(|| Failure::client("svid_rejected", "the result holds no SVID"))?;
        let id = svid
            .id
            .map(|id| format!("spiffe://{}{}", id.trust_domain, id.path))
            .unwrap_or_default();
        if id != node.agent_id {
            return Err(Failure::client(
                "svid_rejected",
                format!("agent ID {} instead of {}", clip(&id), node.agent_id),
            ));
        }
        let chain: Vec<CertificateDer<'_>> = svid
            .cert_chain
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        let public = self
            .bundle
            .verify_svid(&chain, &node.agent_id)
            .map_err(|e| Failure::client("svid_rejected", e))?;
        if public != svid_key.public_key_raw() {
            return Err(Failure::client(
                "svid_rejected",
                "the SVID does not certify the CSR's key",
            ));
        }
        Ok(Outcome::Attested {
            agent_id: id,
            reattestable: result.reattestable,
        })
    }
}

#[derive(Deserialize)]
struct NonceOnly {
    nonce: String,
}

#[derive(Deserialize)]
struct Challenge {
    ecdsa_signature: Option<NonceOnly>,
}

/// Answers an x509pop challenge as SPIRE's agent plugin does: a fresh 32-byte nonce, and the
/// signature of SHA-256(server nonce ‖ agent nonce) taken as a digest, `r` and `s` big-endian
/// without leading zeros (Go's `big.Int.Bytes()`).
pub fn answer_challenge(
    key: &signature::EcdsaKeyPair,
    challenge: &[u8],
) -> Result<Vec<u8>, Failure> {
    let bad = |why: String| Failure::client("protocol", format!("x509pop challenge: {why}"));
    let challenge: Challenge = serde_json::from_slice(challenge).map_err(|e| bad(e.to_string()))?;
    let nonce = challenge
        .ecdsa_signature
        .ok_or_else(|| bad("no ecdsa_signature for an ECDSA key".into()))?
        .nonce;
    let nonce = STANDARD.decode(nonce).map_err(|e| bad(e.to_string()))?;
    if nonce.len() != 32 {
        return Err(bad(format!("a {}-byte nonce", nonce.len())));
    }
    let mut mine = [0u8; 32];
    lc_rand::fill(&mut mine).map_err(|_| bad("no randomness".into()))?;
    let hash = digest::digest(&digest::SHA256, &[nonce.as_slice(), &mine].concat());
    let signature = key
        .sign_digest(&hash)
        .map_err(|_| bad("signing failed".into()))?;
    let (r, s) = signature.as_ref().split_at(32);
    let minimal = |b: &[u8]| STANDARD.encode(crate::keys::strip_leading_zeros(b));
    Ok(serde_json::json!({
        "rsa_signature": null,
        "ecdsa_signature": {"nonce": STANDARD.encode(mine), "r": minimal(r), "s": minimal(s)},
    })
    .to_string()
    .into_bytes())
}

/// The server's admin API on its Unix socket (`socket_path`), where the caller is local.
pub struct Admin {
    channel: Channel,
}

impl Admin {
    /// Connects to the socket at `path`.
    pub async fn connect(path: PathBuf) -> Result<Admin, String> {
        let shown = path.display().to_string();
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        });
        // The URI is never dialled (the connector opens the socket); it names the :authority.
        let channel = Endpoint::from_static("http://localhost")
            .connect_with_connector(connector)
            .await
            .map_err(|e| format!("{shown}: {}", error_chain(&e)))?;
        Ok(Admin { channel })
    }

    /// `CreateJoinToken` with the given value and lifetime.
    pub async fn create_join_token(&self, token: &str, ttl: i32) -> Result<JoinToken, Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(error_chain(&e)))?;
        let request = CreateJoinTokenRequest {
            ttl,
            token: token.into(),
        };
        let response = grpc
            .unary(
                Request::new(request),
                PathAndQuery::from_static(CREATE_JOIN_TOKEN),
                ProstCodec::<CreateJoinTokenRequest, JoinToken>::default(),
            )
            .await?;
        Ok(response.into_inner())
    }
}

/// An error and its sources, for one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Failure {
    /// A gRPC status from the server (or tonic's, for transport errors).
    pub fn status(status: &Status) -> Failure {
        let code = match status.code() {
            Code::Ok => "OK",
            Code::Cancelled => "Canceled",
            Code::Unknown => "Unknown",
            Code::InvalidArgument => "InvalidArgument",
            Code::DeadlineExceeded => "DeadlineExceeded",
            Code::NotFound => "NotFound",
            Code::AlreadyExists => "AlreadyExists",
            Code::PermissionDenied => "PermissionDenied",
            Code::ResourceExhausted => "ResourceExhausted",
            Code::FailedPrecondition => "FailedPrecondition",
            Code::Aborted => "Aborted",
            Code::OutOfRange => "OutOfRange",
            Code::Unimplemented => "Unimplemented",
            Code::Internal => "Internal",
            Code::Unavailable => "Unavailable",
            Code::DataLoss => "DataLoss",
            Code::Unauthenticated => "Unauthenticated",
        };
        Failure {
            code: code.into(),
            message: clip(status.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    /// The answer verifies as SPIRE's `VerifyChallengeResponse` checks it: over the SHA-256 of
    /// both nonces, as a digest. aws-lc's verifier hashes what it is given, so it is handed the
    /// digest's preimage, i.e. both nonces: the same check through an independent path.
    #[test]
    fn the_challenge_answer_signs_both_nonces_as_spire_does() {
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &lc_rand::SystemRandom::new(),
        )
        .unwrap();
        let key = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
        )
        .unwrap();
        let server_nonce = [9u8; 32];
        let challenge = format!(
            r#"{{"rsa_signature":null,"ecdsa_signature":{{"nonce":"{}"}}}}"#,
            STANDARD.encode(server_nonce)
        );
        let answer = answer_challenge(&key, challenge.as_bytes()).unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert!(answer["rsa_signature"].is_null());
        let field = |name: &str| {
            STANDARD
                .decode(answer["ecdsa_signature"][name].as_str().unwrap())
                .unwrap()
        };
        let mine = field("nonce");
        assert_eq!(mine.len(), 32);
        let pad = |b: Vec<u8>| [vec![0u8; 32 - b.len()], b].concat();
        let rs = [pad(field("r")), pad(field("s"))].concat();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref());
        let signed = digest::digest(&digest::SHA256, &[server_nonce.as_slice(), &mine].concat());
        // Verify over the digest as the message: the signature is of SHA-256(digest) only if
        // the signer hashed again, which it must not; so verification over the preimage of the
        // digest (both nonces) must succeed.
        assert!(public
            .verify(&[server_nonce.as_slice(), &mine].concat(), &rs)
            .is_ok());
        assert!(public.verify(signed.as_ref(), &rs).is_err());

        for bad in [
            "{}".to_string(),
            r#"{"ecdsa_signature":{"nonce":"AAAA"}}"#.to_string(),
            "not json".to_string(),
        ] {
            assert!(answer_challenge(&key, bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
