//! Agent ID namespaces: which attestor produced which agent ID in a run.
//!
//! Each attestor (every JWT issuer, x509pop, join tokens) renders agent IDs from its own
//! template, and a template can reach into another attestor's IDs: a JWT template
//! `/{{ .Subject }}` with `sub` = `x509pop/<fingerprint>` attests as that x509pop node. A run
//! therefore notes, for every agent ID that could belong to two attestors, the first attestor
//! (and line) that produced it; a later record of another attestor producing the same ID is
//! counted in the summary, and with `--strict-namespaces` rejected as `policy/agent_id_collision`.
//! The first record in input order keeps the ID, so the outcome is the same at any thread count.
//!
//! What "could belong to two" means: every path an attestor renders starts with its template's
//! constant prefix (`/jwt/bootstrap/`, `/x509pop/`, `/join_token/`). A path of attestor A can
//! equal a path of B only if it starts with B's prefix; a record is noted only then. With the
//! default templates no prefix starts another, no record is noted and the check costs nothing.
//! When one does (`/{{ .Subject }}` has the prefix `/`, which every path starts with), each noted
//! record costs one entry of 20 bytes (12 bytes of the ID's SHA-256 — a false match needs ~2^48
//! IDs — the attestor and the line) in a hash table: 21–48 bytes per noted record depending on
//! how full the table is, so 0.2–0.5 GB for 10 million noted records.
//!
//! What this does not cover: IDs produced in other runs (a per-run check), and IDs of two records
//! of the same attestor (one node attesting twice is normal).

use std::collections::HashMap;

/// Which attestor produced an agent path: the JWT issuers in order, then x509pop, then join
/// tokens (see [`Namespaces::name`]).
pub type Attestor = u16;

/// The attestors of a config and the constant prefixes of their agent paths.
#[derive(Clone, Debug, Default)]
pub struct Namespaces {
    names: Vec<String>,
    /// `None` for an attestor that is not configured.
    prefixes: Vec<Option<String>>,
    /// Some prefix starts another attestor's (else nothing is ever noted).
    overlap: bool,
}

impl Namespaces {
    /// Attestors, each with its name (for messages: `jwt issuer "a"`, `x509pop`, …) and the
    /// prefix its paths start with (`None`: not configured, it attests nothing).
    pub fn new(attestors: Vec<(String, Option<String>)>) -> Namespaces {
        let (names, prefixes): (Vec<String>, Vec<Option<String>>) = attestors.into_iter().unzip();
        let overlap = prefixes.iter().enumerate().any(|(a, pa)| {
            prefixes.iter().enumerate().any(|(b, pb)| match (pa, pb) {
                (Some(pa), Some(pb)) => a != b && pa.starts_with(pb.as_str()),
                _ => false,
            })
        });
        Namespaces {
            names,
            prefixes,
            overlap,
        }
    }

    /// The attestor's name, for messages.
    pub fn name(&self, attestor: Attestor) -> &str {
        self.names
            .get(usize::from(attestor))
            .map_or("an attestor", String::as_str)
    }

    /// True when no record is ever noted (no prefix starts another).
    pub fn disjoint(&self) -> bool {
        !self.overlap
    }

    /// True when `path`, rendered by `attestor`, could also be rendered by another attestor.
    pub fn shared(&self, attestor: Attestor, path: &str) -> bool {
        self.overlap
            && self.prefixes.iter().enumerate().any(|(b, prefix)| {
                b != usize::from(attestor)
                    && prefix
                        .as_deref()
                        .is_some_and(|prefix| path.starts_with(prefix))
            })
    }
}

/// The digest an agent path is noted by.
pub type PathDigest = [u8; 12];

/// The digest of an agent path.
pub fn digest(path: &str) -> PathDigest {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, path.as_bytes());
    let mut out = [0u8; 12];
    out.copy_from_slice(&hash.as_ref()[..12]);
    out
}

/// An agent ID produced by two attestors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collision {
    /// The attestor that produced it first, and on which line.
    pub first: (Attestor, u64),
    /// The attestor producing it again, and on which line.
    pub again: (Attestor, u64),
}

/// The noted agent paths of a run: who produced each first.
#[derive(Default)]
pub struct AgentIds {
    /// Digest → attestor (2 bytes) and line (6 bytes), little-endian: 20 bytes an entry.
    first: HashMap<PathDigest, [u8; 8], foldhash::fast::RandomState>,
}

/// Lines above 2^48 are noted as 2^48 - 1 (a message then names a line too early).
const MAX_LINE: u64 = (1 << 48) - 1;

impl AgentIds {
    /// Notes that `attestor` produced the path of `digest` on `line`; returns the collision when
    /// another attestor produced it first.
    pub fn note(&mut self, digest: PathDigest, attestor: Attestor, line: u64) -> Option<Collision> {
        let packed = u64::from(attestor) | (line.min(MAX_LINE) << 16);
        let held = u64::from_le_bytes(*self.first.entry(digest).or_insert(packed.to_le_bytes()));
        let first = held as u16;
        (first != attestor).then_some(Collision {
            first: (first, held >> 16),
            again: (attestor, line),
        })
    }

    /// How many paths are noted.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces(prefixes: &[&str]) -> Namespaces {
        Namespaces::new(
            prefixes
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("a{i}"), Some(p.to_string())))
                .collect(),
        )
    }

    #[test]
    fn only_paths_inside_another_prefix_are_shared() {
        let default = namespaces(&["/jwt/a/", "/jwt/b/", "/x509pop/", "/join_token/"]);
        assert!(default.disjoint());
        assert!(!default.shared(0, "/x509pop/abc"));
        let open = namespaces(&["/", "/x509pop/", "/join_token/"]);
        assert!(!open.disjoint());
        assert!(open.shared(0, "/x509pop/abc"));
        assert!(!open.shared(0, "/node-1"));
        assert!(open.shared(1, "/x509pop/abc"), "inside the open prefix");
    }

    #[test]
    fn the_first_attestor_keeps_a_path() {
        let mut ids = AgentIds::default();
        let path = digest("/x509pop/abc");
        assert_eq!(ids.note(path, 1, 3), None);
        assert_eq!(ids.note(path, 1, 5), None, "the same attestor again");
        assert_eq!(
            ids.note(path, 0, 9),
            Some(Collision {
                first: (1, 3),
                again: (0, 9)
            })
        );
        assert_eq!(ids.note(digest("/other"), 0, 10), None);
        assert_eq!(ids.len(), 2);
    }
}
