//! The `--replay-state` file: single use carried from run to run, and what stops it from being
//! emptied, rolled back or mixed up between trust domains unnoticed.
//!
//! # Format
//! JSON Lines. The first line is a header:
//!
//! ```text
//! {"fleet_attest_replay_state":3,"trust_domain":"example.org",
//!  "issuers":{"bootstrap":"https://bootstrap.example.org"},
//!  "generation":7,"previous":"<SHA-256 of generation 6's file>","entries":2}
//! ```
//!
//! then one `{"key":"<32 hex digits>","expires_at":..}` per entry, sorted by key so the file is
//! deterministic. A save writes a temp file in the same folder, fsyncs it, renames it over the
//! old one and fsyncs the folder, so a crash leaves the old file or the new one.
//!
//! # What is checked at load
//! - The header's entry count against the lines (a truncated file), every line's shape.
//! - `trust_domain` against the config's: a state is never applied to another trust domain.
//! - `issuers` (name → `iss`) against the config's: a name that now stands for another issuer,
//!   or an issuer under another name (whose consumed `jti`s would then attest again), is refused.
//! - The *witness*: each save also records the file's generation and SHA-256 in the fleet-attest
//!   state folder (outside the state file's folder). At load the file must be the one last saved
//!   (same generation and digest), or the one after it (a save whose witness update was cut
//!   short: generation + 1 whose `previous` is the witnessed digest). An emptied or edited file,
//!   an older copy put back (the generation went backwards), or a missing file the witness
//!   knows of are fatal errors naming the file.
//!
//! What this does not cover: a file this machine has no witness of (first use here, or the
//! state folder removed) is taken as it is; and whoever can write the state folder as well can
//! rewrite the witness too.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::table::{Entry, KeyDigest};
use super::ReplayStore;

/// The format this version writes.
const STATE_VERSION: u32 = 3;
/// The format before trust domain, issuers and generations (read as generation 0).
const LEGACY_VERSION: u32 = 2;

/// What a state file must agree with: the config's trust domain and JWT issuers.
#[derive(Clone, Debug, Default)]
pub struct StateBinding {
    /// The trust domain.
    pub trust_domain: String,
    /// Issuer name → `iss`.
    pub issuers: BTreeMap<String, String>,
}

/// The state a store was loaded from: what its next save follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateOrigin {
    /// The generation loaded (0: no file).
    pub generation: u64,
    /// SHA-256 of the file loaded, lowercase hex (empty: no file).
    pub sha256: String,
    /// The issuers the file named.
    issuers: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateHeader {
    fleet_attest_replay_state: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trust_domain: Option<String>,
    #[serde(default)]
    issuers: BTreeMap<String, String>,
    #[serde(default)]
    generation: u64,
    #[serde(default)]
    previous: String,
    entries: u64,
}

#[derive(Serialize, Deserialize)]
struct StateEntry<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    expires_at: i64,
}

/// The witness of a state file: its last saved generation and digest.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct Witness {
    state: PathBuf,
    generation: u64,
    sha256: String,
}

fn from_hex(text: &str) -> Option<KeyDigest> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Reads through to `inner`, digesting what it reads.
struct Digesting<R> {
    inner: R,
    digest: aws_lc_rs::digest::Context,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Writes through to `inner`, digesting what it writes.
struct DigestingWriter<W> {
    inner: W,
    digest: aws_lc_rs::digest::Context,
}

impl<W: Write> Write for DigestingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn sha256() -> aws_lc_rs::digest::Context {
    aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256)
}

/// The canonical path of `path`, also when the file is not there yet (its folder canonical).
fn canonical(path: &Path) -> PathBuf {
    if let Ok(path) = fs::canonicalize(path) {
        return path;
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_path_buf(),
    }
}

/// Where the witness of the state file `path` lives in the state folder `folder`.
pub fn witness_path(folder: &Path, path: &Path) -> PathBuf {
    let name = crate::hex::lower(
        &aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical(path).as_os_str().as_encoded_bytes(),
        )
        .as_ref()[..16],
    );
    folder.join("replay-state").join(format!("{name}.json"))
}

fn read_witness(path: &Path) -> Result<Option<Witness>, String> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|err| format!("{}: not a replay-state witness: {err}", path.display())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

impl ReplayStore {
    /// Loads the state file `path`, dropping entries that expired before `now`, after checking
    /// it against `binding` and against its witness in `state_folder` (see the module doc). A
    /// missing file is an empty store, unless its witness knows of it.
    pub fn load(
        path: &Path,
        now: i64,
        binding: &StateBinding,
        state_folder: &Path,
    ) -> Result<ReplayStore, String> {
        let witness_file = witness_path(state_folder, path);
        let witness = read_witness(&witness_file)?;
        let mut store = ReplayStore::new();
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if let Some(witness) = witness.filter(|w| w.generation > 0) {
                    return Err(format!(
                        "{}: missing, but generation {} of it was saved here (witness {}): \
                         restore it, or remove the witness knowingly to start over (every key \
                         the state held could then attest again)",
                        path.display(),
                        witness.generation,
                        witness_file.display()
                    ));
                }
                return Ok(store);
            }
            Err(err) => return Err(format!("{}: {err}", path.display())),
        };
        let corrupt = |line: usize, what: String| {
            format!(
                "{}: line {line}: {what}; the replay state is corrupt (restore it or remove it \
                 knowingly: every key it holds could then attest again)",
                path.display()
            )
        };
        let mut reader = BufReader::new(Digesting {
            inner: file,
            digest: sha256(),
        });
        let mut text = String::new();
        reader
            .read_line(&mut text)
            .map_err(|err| corrupt(1, err.to_string()))?;
        if text.is_empty() {
            return Err(corrupt(1, "empty file".into()));
        }
        let header: StateHeader =
            serde_json::from_str(&text).map_err(|err| corrupt(1, format!("bad header: {err}")))?;
        match (header.fleet_attest_replay_state, &header.trust_domain) {
            (STATE_VERSION, Some(_)) | (LEGACY_VERSION, None) => {}
            (version, _) => {
                return Err(corrupt(
                    1,
                    format!("version {version} is not {STATE_VERSION}"),
                ))
            }
        }
        check_binding(&header, binding).map_err(|err| format!("{}: {err}", path.display()))?;
        // The header's count is only a hint until the lines bear it out (the reserve is capped).
        store.reserve(usize::try_from(header.entries).unwrap_or(usize::MAX));
        let mut count = 0u64;
        let mut line_no = 1;
        loop {
            text.clear();
            line_no += 1;
            let n = reader
                .read_line(&mut text)
                .map_err(|err| corrupt(line_no, err.to_string()))?;
            if n == 0 {
                break;
            }
            let line = text.strip_suffix('\n').unwrap_or(&text);
            let entry: StateEntry<'_> =
                serde_json::from_str(line).map_err(|err| corrupt(line_no, err.to_string()))?;
            let key = from_hex(&entry.key)
                .ok_or_else(|| corrupt(line_no, "key is not 32 hex digits".into()))?;
            count += 1;
            if entry.expires_at >= now {
                store.shard(&key).insert(
                    &key,
                    Entry {
                        expires_at: entry.expires_at,
                        line: 0,
                    },
                );
            }
        }
        if count != header.entries {
            return Err(corrupt(
                count as usize + 2,
                format!("{count} entries, the header says {}", header.entries),
            ));
        }
        let sha256 = crate::hex::lower(reader.into_inner().digest.finish().as_ref());
        if let Some(witness) = &witness {
            check_witness(&header, &sha256, witness).map_err(|err| {
                format!(
                    "{}: {err} (witness {}); restore the file last saved, or remove the \
                     witness knowingly to accept this one",
                    path.display(),
                    witness_file.display()
                )
            })?;
        }
        store.origin = StateOrigin {
            generation: header.generation,
            sha256,
            issuers: header.issuers,
        };
        Ok(store)
    }

    /// The state file this store was loaded from.
    pub fn origin(&self) -> &StateOrigin {
        &self.origin
    }

    /// Saves the store atomically (temp file, fsync, rename, fsync of the folder) as the next
    /// generation of the file it was loaded from, leaving out entries that expired before `now`
    /// (sorted, so the file is deterministic), then records it in its witness.
    pub fn save(
        &self,
        path: &Path,
        now: i64,
        binding: &StateBinding,
        state_folder: &Path,
    ) -> Result<(), String> {
        let mut live: Vec<(KeyDigest, i64)> = self
            .shards
            .iter()
            .flat_map(|shard| shard.iter())
            .filter(|(_, entry)| entry.expires_at >= now)
            .map(|(key, entry)| (key, entry.expires_at))
            .collect();
        live.sort_unstable();
        let mut issuers = self.origin.issuers.clone();
        issuers.extend(
            binding
                .issuers
                .iter()
                .map(|(name, iss)| (name.clone(), iss.clone())),
        );
        let header = StateHeader {
            fleet_attest_replay_state: STATE_VERSION,
            trust_domain: Some(binding.trust_domain.clone()),
            issuers,
            generation: self.origin.generation + 1,
            previous: self.origin.sha256.clone(),
            entries: live.len() as u64,
        };
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        let tmp = temp_path(path)?;
        let io = |err: io::Error| format!("{}: {err}", tmp.display());
        let file = File::create(&tmp).map_err(io)?;
        let mut out = DigestingWriter {
            inner: BufWriter::new(file),
            digest: sha256(),
        };
        let written = (|| {
            write_line(&mut out, &header)?;
            for (key, expires_at) in &live {
                let entry = StateEntry {
                    key: std::borrow::Cow::Owned(crate::hex::lower(key)),
                    expires_at: *expires_at,
                };
                write_line(&mut out, &entry)?;
            }
            out.flush()
        })();
        if let Err(err) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(err));
        }
        let sha256 = crate::hex::lower(out.digest.finish().as_ref());
        let file = out.inner.into_inner().map_err(|err| io(err.into_error()))?;
        if let Err(err) = file.sync_all() {
            let _ = fs::remove_file(&tmp);
            return Err(io(err));
        }
        drop(file);
        fs::rename(&tmp, path).map_err(|err| format!("{}: {err}", path.display()))?;
        if let Ok(folder) = File::open(folder) {
            // Persist the rename; not every platform can fsync a folder, hence no error.
            let _ = folder.sync_all();
        }
        let witness = Witness {
            state: canonical(path),
            generation: header.generation,
            sha256,
        };
        write_witness(&witness_path(state_folder, path), &witness)
    }
}

/// The temp file a save of `path` writes first: `.NAME.tmp.PID` in the same folder.
pub fn temp_path(path: &Path) -> Result<PathBuf, String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", path.display()))?;
    Ok(path.with_file_name(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

fn write_witness(path: &Path, witness: &Witness) -> Result<(), String> {
    let fail = |err: io::Error| format!("{}: {err}", path.display());
    let folder = path.parent().unwrap_or(Path::new("."));
    create_private_folder(folder).map_err(fail)?;
    let mut text = serde_json::to_string(witness).map_err(|err| err.to_string())?;
    text.push('\n');
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut file = File::create(&tmp).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)
}

/// Creates `folder` and its parents, readable by the owner only.
pub fn create_private_folder(folder: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
}

fn check_binding(header: &StateHeader, binding: &StateBinding) -> Result<(), String> {
    if let Some(td) = &header.trust_domain {
        if *td != binding.trust_domain {
            return Err(format!(
                "the replay state of trust domain {td:?} cannot serve trust domain {:?}",
                binding.trust_domain
            ));
        }
    }
    for (name, iss) in &header.issuers {
        if let Some(now) = binding.issuers.get(name).filter(|now| *now != iss) {
            return Err(format!(
                "jwt_issuer {name:?} was issuer {iss:?} in the replay state and is {now:?} in the \
                 config: the jtis it consumed would count for another issuer (give a new issuer \
                 a new name)"
            ));
        }
        if let Some((renamed, _)) = binding
            .issuers
            .iter()
            .find(|(other, now)| *now == iss && *other != name)
        {
            return Err(format!(
                "issuer {iss:?} was jwt_issuer {name:?} in the replay state and is {renamed:?} \
                 in the config: the jtis it consumed would attest again (keep its name)"
            ));
        }
    }
    Ok(())
}

fn check_witness(header: &StateHeader, sha256: &str, witness: &Witness) -> Result<(), String> {
    let (got, last) = (header.generation, witness.generation);
    if got < last {
        return Err(format!(
            "generation {got}, but generation {last} was saved here: an older copy was put back"
        ));
    }
    if got == last && sha256 != witness.sha256 {
        return Err(format!(
            "generation {got} differs from the one saved here (SHA-256 {sha256}, saved {}): \
             it was changed",
            witness.sha256
        ));
    }
    if got > last && !(got == last + 1 && header.previous == witness.sha256) {
        return Err(format!(
            "generation {got} does not follow generation {last}, the last saved here"
        ));
    }
    Ok(())
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{ConsumedBy, NEVER};

    fn binding() -> StateBinding {
        StateBinding {
            trust_domain: "example.org".into(),
            issuers: [("a".to_owned(), "https://a".to_owned())].into(),
        }
    }

    #[test]
    fn state_round_trips_and_drops_expired() {
        let dir = tempfile::tempdir().unwrap();
        let witnesses = dir.path().join("witnesses");
        let path = dir.path().join("state.jsonl");
        let mut store = ReplayStore::new();
        store.try_consume("jwt:a:1", 100, 1, 0).unwrap();
        store.try_consume("join_token:t", NEVER, 2, 0).unwrap();
        store.try_consume("x509pop:old", 10, 3, 0).unwrap();
        store.save(&path, 50, &binding(), &witnesses).unwrap();
        let mut loaded = ReplayStore::load(&path, 60, &binding(), &witnesses).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded.origin().generation, 1);
        assert_eq!(
            loaded.try_consume("jwt:a:1", 100, 9, 60),
            Err(ConsumedBy::EarlierRun)
        );
        let later = ReplayStore::load(&path, 200, &binding(), &witnesses).unwrap();
        assert_eq!(later.len(), 1, "the jwt entry expired at 100");
        later.save(&path, 200, &binding(), &witnesses).unwrap();
        let header = fs::read_to_string(&path).unwrap();
        assert!(header.starts_with(
            r#"{"fleet_attest_replay_state":3,"trust_domain":"example.org","issuers":{"a":"https://a"},"generation":2,"previous":""#
        ), "{header}");
    }

    #[test]
    fn corrupt_or_truncated_state_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let witnesses = dir.path().join("witnesses");
        let path = dir.path().join("state.jsonl");
        let mut store = ReplayStore::new();
        store.try_consume("jwt:a:1", 100, 1, 0).unwrap();
        store.try_consume("jwt:a:2", 100, 2, 0).unwrap();
        store.save(&path, 0, &binding(), &witnesses).unwrap();
        let load = || ReplayStore::load(&path, 0, &binding(), &witnesses);
        let text = fs::read_to_string(&path).unwrap();
        let truncated: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        fs::write(&path, truncated).unwrap();
        let err = load().err().unwrap();
        assert!(err.contains("the header says 2"), "{err}");
        fs::write(&path, "garbage\n").unwrap();
        assert!(load().err().unwrap().contains("corrupt"));
        fs::write(&path, "").unwrap();
        assert!(load().is_err());
        let absent = dir.path().join("absent");
        assert!(ReplayStore::load(&absent, 0, &binding(), &witnesses)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn emptied_rolled_back_or_removed_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let witnesses = dir.path().join("witnesses");
        let path = dir.path().join("state.jsonl");
        let mut store = ReplayStore::new();
        store.try_consume("jwt:a:1", 100, 1, 0).unwrap();
        store.save(&path, 0, &binding(), &witnesses).unwrap();
        let first = fs::read(&path).unwrap();
        let mut store = ReplayStore::load(&path, 0, &binding(), &witnesses).unwrap();
        store.try_consume("jwt:a:2", 100, 2, 0).unwrap();
        store.save(&path, 0, &binding(), &witnesses).unwrap();
        let second = fs::read_to_string(&path).unwrap();
        let load = || ReplayStore::load(&path, 0, &binding(), &witnesses);
        assert_eq!(load().unwrap().len(), 2);

        // A self-consistent emptying: same generation, no entries.
        let header = second
            .lines()
            .next()
            .unwrap()
            .replace(r#""entries":2"#, r#""entries":0"#);
        fs::write(&path, format!("{header}\n")).unwrap();
        let err = load().err().unwrap();
        assert!(
            err.contains("generation 2 differs from the one saved here"),
            "{err}"
        );
        // The same, under a later generation.
        let later = header.replace(r#""generation":2"#, r#""generation":3"#);
        fs::write(&path, format!("{later}\n")).unwrap();
        let err = load().err().unwrap();
        assert!(
            err.contains("generation 3 does not follow generation 2"),
            "{err}"
        );
        // An older copy put back.
        fs::write(&path, &first).unwrap();
        let err = load().err().unwrap();
        assert!(
            err.contains("generation 1, but generation 2 was saved here"),
            "{err}"
        );
        // Removed.
        fs::remove_file(&path).unwrap();
        let err = load().err().unwrap();
        assert!(
            err.contains("missing, but generation 2 of it was saved here"),
            "{err}"
        );
        // Back as saved: fine.
        fs::write(&path, &second).unwrap();
        assert_eq!(load().unwrap().len(), 2);
    }

    #[test]
    fn a_version_2_file_loads_as_generation_0_and_saves_as_version_3() {
        let dir = tempfile::tempdir().unwrap();
        let witnesses = dir.path().join("witnesses");
        let path = dir.path().join("state.jsonl");
        let key = crate::hex::lower(&crate::replay::digest_key("jwt:a:1"));
        fs::write(
            &path,
            format!(
                "{{\"fleet_attest_replay_state\":2,\"entries\":1}}\n{{\"key\":\"{key}\",\"expires_at\":100}}\n"
            ),
        )
        .unwrap();
        let mut store = ReplayStore::load(&path, 0, &binding(), &witnesses).unwrap();
        assert_eq!(store.origin().generation, 0);
        assert_eq!(
            store.try_consume("jwt:a:1", 100, 1, 0),
            Err(ConsumedBy::EarlierRun)
        );
        store.save(&path, 0, &binding(), &witnesses).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(r#"{"fleet_attest_replay_state":3,"#),
            "{text}"
        );
        assert!(text.contains(r#""generation":1"#), "{text}");
    }

    #[test]
    fn a_save_whose_witness_was_not_updated_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let witnesses = dir.path().join("witnesses");
        let path = dir.path().join("state.jsonl");
        ReplayStore::new()
            .save(&path, 0, &binding(), &witnesses)
            .unwrap();
        let witness = fs::read(witness_path(&witnesses, &path)).unwrap();
        let store = ReplayStore::load(&path, 0, &binding(), &witnesses).unwrap();
        store.save(&path, 0, &binding(), &witnesses).unwrap();
        // As if the process died between the rename and the witness update.
        fs::write(witness_path(&witnesses, &path), witness).unwrap();
        assert_eq!(
            ReplayStore::load(&path, 0, &binding(), &witnesses)
                .unwrap()
                .origin()
                .generation,
            2
        );
    }

    #[test]
    fn another_trust_domain_or_a_renamed_issuer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let witnesses = dir.path().join("witnesses");
        let path = dir.path().join("state.jsonl");
        ReplayStore::new()
            .save(&path, 0, &binding(), &witnesses)
            .unwrap();
        let mut other = binding();
        other.trust_domain = "other.org".into();
        let err = ReplayStore::load(&path, 0, &other, &witnesses)
            .err()
            .unwrap();
        assert!(
            err.contains(r#"trust domain "example.org" cannot serve trust domain "other.org""#),
            "{err}"
        );
        let mut renamed = binding();
        renamed.issuers = [("b".to_owned(), "https://a".to_owned())].into();
        let err = ReplayStore::load(&path, 0, &renamed, &witnesses)
            .err()
            .unwrap();
        assert!(
            err.contains(r#"issuer "https://a" was jwt_issuer "a""#),
            "{err}"
        );
        let mut reused = binding();
        reused.issuers = [("a".to_owned(), "https://new".to_owned())].into();
        let err = ReplayStore::load(&path, 0, &reused, &witnesses)
            .err()
            .unwrap();
        assert!(
            err.contains(r#"jwt_issuer "a" was issuer "https://a""#),
            "{err}"
        );
        // A new issuer beside the old one is fine, and both are kept.
        let mut more = binding();
        more.issuers.insert("c".into(), "https://c".into());
        let store = ReplayStore::load(&path, 0, &more, &witnesses).unwrap();
        store.save(&path, 0, &more, &witnesses).unwrap();
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains(r#""issuers":{"a":"https://a","c":"https://c"}"#));
    }
}
