//! What one attestation came to.

/// The end of one attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server issued the expected agent SVID, and it checked out.
    Attested {
        /// The agent ID of the SVID.
        agent_id: String,
        /// The server's `reattestable`: whether the same evidence may attest again.
        reattestable: bool,
    },
    /// The attestation failed.
    Failed(Failure),
}

/// Why an attestation failed: a gRPC status from the server, or a check of the client's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Failure {
    /// A gRPC status code as grpc-go names it (`PermissionDenied`, `InvalidArgument`, …), or
    /// `client:<what>` for what the client found wrong itself: `client:svid_rejected` (the SVID
    /// failed its check), `client:protocol` (the server broke the protocol), `client:timeout`
    /// (no result within `--timeout`), `client:csr`.
    pub code: String,
    /// The server's message (or the client's), at most 120 characters.
    pub message: String,
}

impl Failure {
    /// A failure the client found, `client:<what>`.
    pub fn client(what: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: format!("client:{what}"),
            message: message.into(),
        }
    }
}
