//! x509pop attestation (in progress: the config loader refuses `[x509pop]` until it lands).

use serde_json::value::RawValue;

use crate::error::Rejection;
use crate::selectors::SelectorSet;

/// The compiled `[x509pop]` section.
pub struct X509Pop {
    _private: (),
}

/// Per-worker buffers for x509pop.
#[derive(Default)]
pub struct X509PopScratch {}

impl X509Pop {
    /// Verifies one transcript.
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &self,
        _payload: &RawValue,
        _challenge: &RawValue,
        _response: &RawValue,
        _now: i64,
        _trust_domain: &str,
        _max_selectors: usize,
        _scratch: &mut X509PopScratch,
        _selectors: &mut SelectorSet,
        _agent_path: &mut String,
        _replay_key: &mut String,
    ) -> Result<Option<i64>, Rejection> {
        Err(Rejection::UntrustedChain {
            reason: "x509pop is not implemented".into(),
        })
    }
}
