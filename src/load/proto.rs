//! The messages of SPIRE's Agent API that `load` speaks, declared with prost's derive.
//!
//! Names and field numbers are those of spiffe/spire-api-sdk's `spire/api/server/agent/v1/agent.proto`
//! and `spire/api/types/{attestation,x509svid,spiffeid,jointoken}.proto` (the version
//! spire v1.13.3 requires); only the messages and fields `load` uses are declared, and protobuf
//! skips the fields a reader does not know, so a server sending more is read correctly.
//! Declaring them beats compiling the .proto files at build time: ten small messages, no build
//! script, no copy of the protos in this repository.

/// `spire.api.server.agent.v1.Agent/AttestAgent`: a bidirectional stream.
pub const ATTEST_AGENT: &str = "/spire.api.server.agent.v1.Agent/AttestAgent";
/// `spire.api.server.agent.v1.Agent/CreateJoinToken`: unary, on the admin socket.
pub const CREATE_JOIN_TOKEN: &str = "/spire.api.server.agent.v1.Agent/CreateJoinToken";

/// `spire.api.types.SPIFFEID`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpiffeId {
    /// Field 1: the trust domain name.
    #[prost(string, tag = "1")]
    pub trust_domain: String,
    /// Field 2: the path (with its leading `/`).
    #[prost(string, tag = "2")]
    pub path: String,
}

/// `spire.api.types.AttestationData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttestationData {
    /// Field 1 `type`: the node attestor's name (`x509pop`, `join_token`).
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// Field 2: the attestor's payload (x509pop: JSON `{"certificates":[…]}`; join_token: the token).
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
}

/// `spire.api.server.agent.v1.AgentX509SVIDParams`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentX509SvidParams {
    /// Field 1: a DER PKCS#10 request; the server takes only its public key.
    #[prost(bytes = "vec", tag = "1")]
    pub csr: Vec<u8>,
}

/// `spire.api.server.agent.v1.AttestAgentRequest.Params`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttestParams {
    /// Field 1.
    #[prost(message, optional, tag = "1")]
    pub data: Option<AttestationData>,
    /// Field 2.
    #[prost(message, optional, tag = "2")]
    pub params: Option<AgentX509SvidParams>,
}

/// `spire.api.server.agent.v1.AttestAgentRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttestAgentRequest {
    /// The `step` oneof.
    #[prost(oneof = "RequestStep", tags = "1, 2")]
    pub step: Option<RequestStep>,
}

/// `AttestAgentRequest.step`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum RequestStep {
    /// Field 1 `params`: the first message of a stream.
    #[prost(message, tag = "1")]
    Params(AttestParams),
    /// Field 2 `challenge_response`: the answer to the attestor's challenge.
    #[prost(bytes = "vec", tag = "2")]
    ChallengeResponse(Vec<u8>),
}

/// `spire.api.types.X509SVID`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct X509Svid {
    /// Field 1: DER certificates, the SVID first.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub cert_chain: Vec<Vec<u8>>,
    /// Field 2: the SVID's SPIFFE ID.
    #[prost(message, optional, tag = "2")]
    pub id: Option<SpiffeId>,
    /// Field 3: expiry, Unix seconds.
    #[prost(int64, tag = "3")]
    pub expires_at: i64,
}

/// `spire.api.server.agent.v1.AttestAgentResponse.Result`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttestResult {
    /// Field 1: the agent's X509-SVID.
    #[prost(message, optional, tag = "1")]
    pub svid: Option<X509Svid>,
    /// Field 2: whether the agent may attest again with the same evidence.
    #[prost(bool, tag = "2")]
    pub reattestable: bool,
}

/// `spire.api.server.agent.v1.AttestAgentResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttestAgentResponse {
    /// The `step` oneof.
    #[prost(oneof = "ResponseStep", tags = "1, 2")]
    pub step: Option<ResponseStep>,
}

/// `AttestAgentResponse.step`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ResponseStep {
    /// Field 1 `result`: attestation is complete.
    #[prost(message, tag = "1")]
    Result(AttestResult),
    /// Field 2 `challenge`: the attestor's challenge, to be answered on the stream.
    #[prost(bytes = "vec", tag = "2")]
    Challenge(Vec<u8>),
}

/// `spire.api.server.agent.v1.CreateJoinTokenRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateJoinTokenRequest {
    /// Field 1: seconds until the token expires (required, > 0).
    #[prost(int32, tag = "1")]
    pub ttl: i32,
    /// Field 2: the token's value (the server makes one when empty).
    #[prost(string, tag = "2")]
    pub token: String,
}

/// `spire.api.types.JoinToken`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JoinToken {
    /// Field 1: the token.
    #[prost(string, tag = "1")]
    pub value: String,
    /// Field 2: expiry, Unix seconds.
    #[prost(int64, tag = "2")]
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Protobuf's wire format written out by hand for one message of each shape the stream
    /// carries (tag = field << 3 | wire type; 2 = length-delimited, 0 = varint).
    #[test]
    fn messages_encode_to_protobuf_wire_format() {
        let request = AttestAgentRequest {
            step: Some(RequestStep::Params(AttestParams {
                data: Some(AttestationData {
                    r#type: "join_token".into(),
                    payload: b"tok".to_vec(),
                }),
                params: Some(AgentX509SvidParams { csr: vec![0xAA] }),
            })),
        };
        let data = [&[0x0a, 10][..], b"join_token", &[0x12, 3], b"tok"].concat();
        let params = [
            &[0x0a, data.len() as u8][..],
            &data,
            &[0x12, 3, 0x0a, 1, 0xAA],
        ]
        .concat();
        let want = [&[0x0a, params.len() as u8][..], &params].concat();
        assert_eq!(request.encode_to_vec(), want);

        let answer = AttestAgentRequest {
            step: Some(RequestStep::ChallengeResponse(b"{}".to_vec())),
        };
        assert_eq!(answer.encode_to_vec(), [0x12, 2, b'{', b'}']);

        // A result with one certificate, an ID, expiry 1 and reattestable, plus a field 4
        // (`hint`) that is not declared here: skipped on decode.
        let id = [&[0x0a, 1][..], b"t", &[0x12, 2], b"/a"].concat();
        let svid = [
            &[0x0a, 1, 0x30, 0x12, id.len() as u8][..],
            &id,
            &[0x18, 1, 0x22, 1, b'h'],
        ]
        .concat();
        let result = [&[0x0a, svid.len() as u8][..], &svid, &[0x10, 1]].concat();
        let wire = [&[0x0a, result.len() as u8][..], &result].concat();
        let decoded = AttestAgentResponse::decode(wire.as_slice()).unwrap();
        let Some(ResponseStep::Result(result)) = decoded.step else {
            panic!("{decoded:?}")
        };
        assert!(result.reattestable);
        let svid = result.svid.unwrap();
        assert_eq!(svid.cert_chain, vec![vec![0x30]]);
        assert_eq!(svid.expires_at, 1);
        assert_eq!(
            svid.id,
            Some(SpiffeId {
                trust_domain: "t".into(),
                path: "/a".into()
            })
        );
        let challenge = AttestAgentResponse::decode(&[0x12, 1, 7][..]).unwrap();
        assert_eq!(challenge.step, Some(ResponseStep::Challenge(vec![7])));
    }
}
