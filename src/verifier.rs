//! The compiled configuration, and the judgement of one record.
//!
//! A [`Verifier`] is immutable and shared by all workers; everything a record needs that does
//! not depend on other records happens in [`Verifier::judge`], which writes the record's result
//! line as if its single-use key were fresh. The ordered writer makes the replay decision.

use crate::error::Rejection;
use crate::join_token::JoinTokens;
use crate::jwt::{JwtLimits, JwtOutput, JwtScratch, JwtSource, JwtVerifier, StagedJwt};
use crate::namespaces::{Attestor, Namespaces};
use crate::record::{Evidence, Record};
use crate::replay::NEVER;
use crate::selectors::{AliasIndex, AliasScratch, SelectorSet};
use crate::sink::{self, RecordId};
use crate::x509pop::{X509Pop, X509PopOutput, X509PopScratch};

/// Size limits (`[limits]`). Each bounds the work one record can cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest input line. 64 KiB holds a token or an x509pop transcript with a few
    /// certificates many times over.
    pub max_record_bytes: usize,
    /// Longest compact JWT. 16 KiB, after go-jose's decompression/size advisories
    /// (GHSA-c6gw-w398-hv78): real node tokens are under 2 KiB.
    pub max_token_bytes: usize,
    /// Most selectors per record; SPIRE stores them all per agent.
    pub max_selectors: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_record_bytes: 65_536,
            max_token_bytes: 16_384,
            max_selectors: 256,
        }
    }
}

/// Everything loaded from the configuration, ready to verify.
pub struct Verifier {
    pub(crate) trust_domain: Box<str>,
    /// `spiffe://<td>/spire/agent`.
    pub(crate) agent_prefix: Box<str>,
    pub(crate) limits: Limits,
    pub(crate) jwt: JwtVerifier,
    pub(crate) join_tokens: Option<JoinTokens>,
    pub(crate) x509pop: Option<X509Pop>,
    pub(crate) aliases: AliasIndex,
    /// The files the configuration named and the verifier was built from.
    pub(crate) files: Vec<ConfigFile>,
    /// The attestors' agent ID namespaces: JWT issuers in order, then x509pop, then join tokens.
    pub(crate) namespaces: Namespaces,
}

/// A file the configuration named (a key set, a CA bundle, the join tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    /// The config key naming it: `jwt_issuer[0].jwks_path`, `x509pop.ca_bundle_paths[1]`, …
    pub key: String,
    /// Its path, relative paths joined to the config file's folder.
    pub path: std::path::PathBuf,
}

/// Per-worker buffers, reused from record to record.
#[derive(Default)]
pub struct Scratch {
    jwt: JwtScratch,
    x509pop: X509PopScratch,
    selectors: SelectorSet,
    agent_path: String,
    aliases: AliasScratch,
    /// The single-use key of the last attested record.
    pub replay_key: String,
    /// Decoded signatures of a record judged alone.
    signatures: Vec<u8>,
    /// The issuer and key of the last JWT.
    jwt_source: JwtSource,
}

impl Scratch {
    /// The agent path of the last record attested.
    pub fn agent_path(&self) -> &str {
        &self.agent_path
    }

    /// The `kid` of the last judged record when it named no configured key (clipped), else
    /// empty.
    pub fn unknown_kid(&self) -> &str {
        &self.jwt_source.unknown_kid
    }

    /// The JWT buffers, and the outputs a JWT verification fills.
    fn for_jwt(&mut self) -> (&mut JwtScratch, JwtOutput<'_>) {
        let out = JwtOutput {
            selectors: &mut self.selectors,
            agent_path: &mut self.agent_path,
            replay_key: &mut self.replay_key,
            source: &mut self.jwt_source,
        };
        (&mut self.jwt, out)
    }
}

/// A record between the passes of a batch (see [`Verifier::stage`]).
pub struct Staged<'a> {
    stage: Stage<'a>,
    signature_ok: bool,
}

enum Stage<'a> {
    /// The line is over the record limit; `bare` when it is not a JSON object.
    TooLarge { bare: bool },
    /// The envelope, and the staged JWT when its signature is the next check.
    Parsed {
        record: Record<'a>,
        jwt: Option<StagedJwt>,
    },
}

/// The verdict on one record, as the ordered writer needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Attested; `Some(expiry)` when the record consumes `Scratch::replay_key`.
    Attested(Option<i64>),
    /// Rejected with this code.
    Rejected(&'static str),
    /// Rejected with this code, and its single-use key consumed all the same (SPIRE deletes a
    /// join token before it checks the token's expiry and ID): a later record with the key
    /// is a replay.
    RejectedConsuming(&'static str, i64),
}

impl Verdict {
    /// The expiry of the single-use key the record consumes, if it consumes one.
    pub fn claims(self) -> Option<i64> {
        match self {
            Verdict::Attested(expiry) => expiry,
            Verdict::RejectedConsuming(_, expiry) => Some(expiry),
            Verdict::Rejected(_) => None,
        }
    }
}

/// Where the verdict part of a result line starts, to patch replays.
pub struct Judged {
    /// The verdict.
    pub verdict: Verdict,
    /// Who attested (when attested): see [`Verifier::namespaces`].
    pub attestor: Attestor,
    /// Offset in the output buffer where the line's prefix ends.
    pub prefix_end: usize,
    /// What the record was, for the run's summary.
    pub source: Source,
}

/// A record's type as the summary counts it: the three this engine verifies, or another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// `jwt`, or a bare token line.
    Jwt,
    /// `x509pop`.
    X509Pop,
    /// `join_token`.
    JoinToken,
    /// Any other type, or none that could be read.
    #[default]
    Other,
}

impl RecordKind {
    fn of(kind: Option<&str>) -> RecordKind {
        match kind {
            Some("jwt") => RecordKind::Jwt,
            Some("x509pop") => RecordKind::X509Pop,
            Some("join_token") => RecordKind::JoinToken,
            _ => RecordKind::Other,
        }
    }

    /// The name the summary shows.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Jwt => "jwt",
            RecordKind::X509Pop => "x509pop",
            RecordKind::JoinToken => "join_token",
            RecordKind::Other => "other",
        }
    }
}

/// What a record was, for the run's summary ("which issuer failed"): its type and, for a JWT,
/// the configured issuer and key it was judged with as far as its checks got. Never used for
/// a decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The record's type.
    pub kind: RecordKind,
    /// The JWT issuer, by its place in the config.
    pub issuer: Option<u32>,
    /// The key, by its place among the issuer's keys.
    pub key: Option<u32>,
    /// The token named a `kid` that no configured JWK Set holds: [`Scratch::unknown_kid`].
    pub unknown_kid: bool,
}

impl Verifier {
    /// The trust domain.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The attestors and their agent ID namespaces.
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// The files the configuration named, in the order it names them.
    pub fn files(&self) -> &[ConfigFile] {
        &self.files
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The JWT issuers.
    pub fn jwt(&self) -> &JwtVerifier {
        &self.jwt
    }

    /// The node aliases.
    pub fn aliases(&self) -> &AliasIndex {
        &self.aliases
    }

    /// The number of join tokens configured, when join tokens are.
    pub fn join_token_count(&self) -> Option<usize> {
        self.join_tokens.as_ref().map(JoinTokens::len)
    }

    /// The x509pop attestor, when configured.
    pub fn x509pop(&self) -> Option<&X509Pop> {
        self.x509pop.as_ref()
    }

    /// Judges one non-empty input line and appends its result line to `out`: [`Verifier::stage`],
    /// [`Verifier::check_signature`] and [`Verifier::finish`] for one record.
    pub fn judge(
        &self,
        line_no: u64,
        line: &[u8],
        now: i64,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Judged {
        let mut signatures = std::mem::take(&mut scratch.signatures);
        signatures.clear();
        let mut staged = self.stage(line, scratch, &mut signatures);
        self.check_signature(&mut staged, &signatures);
        scratch.signatures = signatures;
        self.finish(line_no, staged, now, scratch, out)
    }

    /// The first pass over a record of a batch: its envelope parsed and, for a JWT with a `kid`,
    /// everything before the signature check done ([`JwtVerifier::stage`]), its decoded
    /// signature appended to `signatures`. Workers stage a few records, check their signatures
    /// in a row, then finish them: the signature code and tables stay hot in the CPU's caches
    /// instead of being evicted by the JSON and output code of every record.
    pub fn stage<'a>(
        &self,
        line: &'a [u8],
        scratch: &mut Scratch,
        signatures: &mut Vec<u8>,
    ) -> Staged<'a> {
        if line.len() > self.limits.max_record_bytes {
            return Staged {
                stage: Stage::TooLarge {
                    bare: line.first() != Some(&b'{'),
                },
                signature_ok: false,
            };
        }
        let record = Record::parse(line);
        let jwt = match &record.evidence {
            Ok(Evidence::Jwt(token)) => {
                self.jwt
                    .stage(token, self.jwt_limits(), &mut scratch.jwt, signatures)
            }
            _ => None,
        };
        Staged {
            stage: Stage::Parsed { record, jwt },
            signature_ok: false,
        }
    }

    /// The second pass: the signature check of a staged JWT (nothing for other records).
    pub fn check_signature(&self, staged: &mut Staged<'_>, signatures: &[u8]) {
        if let Stage::Parsed {
            record:
                Record {
                    evidence: Ok(Evidence::Jwt(token)),
                    ..
                },
            jwt: Some(jwt),
        } = &staged.stage
        {
            staged.signature_ok = self.jwt.check_signature(jwt, token, signatures);
        }
    }

    /// The last pass: judges the staged record and appends its result line to `out`.
    pub fn finish(
        &self,
        line_no: u64,
        staged: Staged<'_>,
        now: i64,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Judged {
        let (record, jwt) = match staged.stage {
            Stage::TooLarge { bare } => {
                sink::write_prefix(out, line_no, RecordId::Line, bare.then_some("jwt"));
                let prefix_end = out.len();
                let rejection = Rejection::RecordTooLarge {
                    max: self.limits.max_record_bytes,
                };
                sink::write_rejected(out, &rejection);
                let kind = if bare {
                    RecordKind::Jwt
                } else {
                    RecordKind::Other
                };
                return Judged {
                    verdict: Verdict::Rejected(rejection.code()),
                    attestor: 0,
                    prefix_end,
                    source: Source {
                        kind,
                        ..Source::default()
                    },
                };
            }
            Stage::Parsed { record, jwt } => (record, jwt),
        };
        let id = match &record.id {
            Some(id) => RecordId::Given(id),
            None => RecordId::Line,
        };
        sink::write_prefix(out, line_no, id, record.kind.as_deref());
        let prefix_end = out.len();
        let kind = RecordKind::of(record.kind.as_deref());
        // A record that is not a JWT leaves the source empty.
        scratch.jwt_source.clear();
        let evidence = record.evidence.map_err(|rejection| match rejection {
            Rejection::UnknownType { kind, .. } => self.not_enabled(&kind),
            other => other,
        });
        let issuers = self.jwt.issuers().len();
        let attestor = match &evidence {
            Ok(Evidence::X509Pop { .. }) => Some(issuers),
            Ok(Evidence::JoinToken(_)) => Some(issuers + 1),
            _ => None,
        };
        let attested = evidence.and_then(|evidence| match (evidence, &jwt) {
            (Evidence::Jwt(token), Some(jwt)) => {
                let (buffers, out) = scratch.for_jwt();
                self.jwt.finish_staged(
                    jwt,
                    staged.signature_ok,
                    &token,
                    now,
                    &self.trust_domain,
                    self.jwt_limits(),
                    buffers,
                    out,
                )
            }
            (evidence, _) => self.attest(evidence, now, scratch),
        });
        let verdict = match attested {
            Ok(expiry) => {
                let aliases = self
                    .aliases
                    .matches(&scratch.selectors, &mut scratch.aliases);
                sink::write_attested(
                    out,
                    &self.agent_prefix,
                    &scratch.agent_path,
                    scratch.selectors.iter(),
                    aliases,
                );
                Verdict::Attested(expiry)
            }
            Err(rejection) => {
                sink::write_rejected(out, &rejection);
                if rejection.consumes_join_token() {
                    Verdict::RejectedConsuming(rejection.code(), NEVER)
                } else {
                    Verdict::Rejected(rejection.code())
                }
            }
        };
        let jwt = &scratch.jwt_source;
        let index = |i: Option<usize>| i.and_then(|i| u32::try_from(i).ok());
        Judged {
            verdict,
            attestor: attestor
                .unwrap_or_else(|| scratch.jwt.issuer())
                .try_into()
                .unwrap_or(Attestor::MAX),
            prefix_end,
            source: Source {
                kind,
                issuer: index(jwt.issuer),
                key: index(jwt.key),
                unknown_kid: !jwt.unknown_kid.is_empty(),
            },
        }
    }

    fn jwt_limits(&self) -> JwtLimits {
        JwtLimits {
            max_token_bytes: self.limits.max_token_bytes,
            max_selectors: self.limits.max_selectors,
        }
    }

    /// Verifies the evidence; fills the scratch's selectors, agent path and replay key.
    fn attest(
        &self,
        evidence: Evidence<'_>,
        now: i64,
        scratch: &mut Scratch,
    ) -> Result<Option<i64>, Rejection> {
        match evidence {
            Evidence::Jwt(token) => {
                let (buffers, out) = scratch.for_jwt();
                self.jwt.verify(
                    &token,
                    now,
                    &self.trust_domain,
                    self.jwt_limits(),
                    buffers,
                    out,
                )
            }
            Evidence::JoinToken(token) => {
                let tokens = self
                    .join_tokens
                    .as_ref()
                    .ok_or_else(|| self.not_enabled("join_token"))?;
                // The key is set first: an expired token or one that makes no agent ID is
                // consumed too (see Verdict::RejectedConsuming).
                scratch.replay_key.clear();
                scratch.replay_key.push_str("join_token:");
                scratch.replay_key.push_str(&token);
                tokens.check(&token, now)?;
                scratch.selectors.clear();
                scratch.agent_path.clear();
                scratch.agent_path.push_str("/join_token/");
                scratch.agent_path.push_str(&token);
                Ok(Some(NEVER))
            }
            Evidence::X509Pop {
                payload,
                challenge,
                response,
            } => {
                let x509pop = self
                    .x509pop
                    .as_ref()
                    .ok_or_else(|| self.not_enabled("x509pop"))?;
                x509pop.verify(
                    payload,
                    challenge,
                    response,
                    now,
                    &self.trust_domain,
                    self.limits.max_selectors,
                    &mut scratch.x509pop,
                    X509PopOutput {
                        selectors: &mut scratch.selectors,
                        agent_path: &mut scratch.agent_path,
                        replay_key: &mut scratch.replay_key,
                    },
                )
            }
        }
    }

    fn not_enabled(&self, kind: &str) -> Rejection {
        let mut enabled = vec!["jwt"];
        if self.x509pop.is_some() {
            enabled.push("x509pop");
        }
        if self.join_tokens.is_some() {
            enabled.push("join_token");
        }
        Rejection::UnknownType {
            kind: kind.into(),
            enabled: enabled.join(", "),
        }
    }
}
