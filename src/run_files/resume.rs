//! What binds a resumable output to the run that wrote it, and what `--resume` keeps of it.
//!
//! Before a run truncates its `--output FILE`, it writes the *run record* `FILE.run.json`
//! beside it: the tool's version, the SHA-256 of the config and of every file it names (key
//! sets, CA bundles, join tokens), the input's path, `--now`, the shard, and the replay state it
//! started from (path, generation and SHA-256) or the Redis store. `--resume` reads it back and
//! refuses, naming what differs, a run that is not the same: a resume with another `--now`,
//! config, key set or input would mix verdicts judged two ways.
//!
//! The kept lines themselves are checked by derivation rather than by a stored digest: the
//! resumed run judges the kept records again anyway (to rebuild single-use state), so each kept
//! line must be byte for byte the line this run gives for its record; the first that is not
//! stops the run before anything is written (see `pipeline`). That catches an edited line
//! (a rejection turned into `"status":"attested"` with another agent ID) whoever edited it,
//! without a key to keep secret, and at no cost to runs that are not resumed. What it cannot
//! catch: someone who can also change the config, its keys or the replay state can make the
//! edited line the true verdict, as they could for any run; and the run record itself is not
//! protected (rewriting it only changes which differences are named: the line check holds).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::hex;

/// Version of the run record's format.
const RUN_RECORD_VERSION: u32 = 1;

/// A file the run was built from, with its digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestedFile {
    /// What names it: `--config`, `jwt_issuer[0].jwks_path`, …
    pub key: String,
    /// Its canonical path.
    pub path: PathBuf,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

impl DigestedFile {
    /// Reads and digests `path`.
    pub fn read(key: &str, path: &Path) -> Result<DigestedFile, String> {
        let bytes = fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(DigestedFile {
            key: key.to_owned(),
            path: fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            sha256: sha256_hex(&bytes),
        })
    }
}

/// Where the run's single-use state came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayOrigin {
    /// In memory only: none carried over.
    None,
    /// A `--replay-state` file, as loaded at the start.
    State {
        /// Its canonical path.
        path: PathBuf,
        /// The generation loaded (0 when the file did not exist).
        generation: u64,
        /// SHA-256 of the file as loaded (empty when it did not exist).
        sha256: String,
    },
    /// A Redis store (the address without password).
    Store {
        /// The address.
        address: String,
    },
}

/// What produced an output: written before its first line, checked by `--resume`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The format version.
    pub fleet_attest_run: u32,
    /// The fleet-attest version that wrote it.
    pub version: String,
    /// The config and every file it names, in order.
    pub files: Vec<DigestedFile>,
    /// The input's canonical path.
    pub input: PathBuf,
    /// The evaluation time.
    pub now: i64,
    /// `K/N`.
    pub shard: String,
    /// The single-use state the run started from.
    pub replay: ReplayOrigin,
}

impl RunRecord {
    /// A record for this version of the tool.
    pub fn new(
        files: Vec<DigestedFile>,
        input: &Path,
        now: i64,
        shard: String,
        replay: ReplayOrigin,
    ) -> RunRecord {
        RunRecord {
            fleet_attest_run: RUN_RECORD_VERSION,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            files,
            input: fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf()),
            now,
            shard,
            replay,
        }
    }

    /// Where the run record of `output` lives: `OUTPUT.run.json`.
    pub fn path_for(output: &Path) -> PathBuf {
        let mut name = output.as_os_str().to_owned();
        name.push(".run.json");
        PathBuf::from(name)
    }

    /// Writes the record atomically (temp file, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(self).map_err(|err| err.to_string())?;
        text.push('\n');
        write_atomically(path, text.as_bytes()).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Reads the record of an interrupted run.
    pub fn read(path: &Path) -> Result<RunRecord, String> {
        let text = fs::read_to_string(path).map_err(|err| {
            if err.kind() == io::ErrorKind::NotFound {
                format!(
                    "{}: missing: --resume continues only an output whose run record is beside \
                     it (start over without --resume)",
                    path.display()
                )
            } else {
                format!("{}: {err}", path.display())
            }
        })?;
        serde_json::from_str(&text)
            .map_err(|err| format!("{}: not a fleet-attest run record: {err}", path.display()))
    }

    /// The first way `self` (this run) differs from `then` (the interrupted run), as a sentence.
    pub fn difference(&self, then: &RunRecord) -> Option<String> {
        if then.fleet_attest_run != self.fleet_attest_run || then.version != self.version {
            return Some(format!(
                "it was written by fleet-attest {} (run record version {}), this is {}",
                then.version, then.fleet_attest_run, self.version
            ));
        }
        if then.now != self.now {
            return Some(format!(
                "the interrupted run judged at --now {}, this one at {}",
                then.now, self.now
            ));
        }
        if then.input != self.input {
            return Some(format!(
                "the interrupted run read --input {}, this one {}",
                then.input.display(),
                self.input.display()
            ));
        }
        if then.shard != self.shard {
            return Some(format!(
                "the interrupted run took --shard {}, this one {}",
                then.shard, self.shard
            ));
        }
        for (i, file) in self.files.iter().enumerate() {
            match then.files.get(i) {
                Some(old) if old == file => {}
                Some(old) if old.key == file.key && old.path == file.path => {
                    return Some(format!(
                        "{} {} changed since the interrupted run (SHA-256 {} then, {} now)",
                        file.key,
                        file.path.display(),
                        old.sha256,
                        file.sha256
                    ))
                }
                Some(old) => {
                    return Some(format!(
                        "the interrupted run's {} was {}, this one's {} is {}",
                        old.key,
                        old.path.display(),
                        file.key,
                        file.path.display()
                    ))
                }
                None => {
                    return Some(format!(
                        "the config names {} {}, which the interrupted run's did not",
                        file.key,
                        file.path.display()
                    ))
                }
            }
        }
        if then.files.len() > self.files.len() {
            let old = &then.files[self.files.len()];
            return Some(format!(
                "the interrupted run's config named {} {}, this one's does not",
                old.key,
                old.path.display()
            ));
        }
        if then.replay != self.replay {
            return Some(match (&then.replay, &self.replay) {
                (
                    ReplayOrigin::State {
                        path, generation, ..
                    },
                    ReplayOrigin::State {
                        path: now_path,
                        generation: now_generation,
                        ..
                    },
                ) if path == now_path => format!(
                    "the interrupted run started from generation {generation} of --replay-state \
                     {}, which is now at generation {now_generation}{}: the kept results \
                     cannot be judged again as they were",
                    path.display(),
                    if now_generation == generation {
                        " but holds other entries"
                    } else {
                        " (another run saved it since)"
                    }
                ),
                (then, now) => format!(
                    "the interrupted run's single-use state was {}, this one's is {}",
                    describe(then),
                    describe(now)
                ),
            });
        }
        None
    }
}

fn describe(origin: &ReplayOrigin) -> String {
    match origin {
        ReplayOrigin::None => "in memory only".into(),
        ReplayOrigin::State { path, .. } => format!("--replay-state {}", path.display()),
        ReplayOrigin::Store { address } => format!("--replay-store {address}"),
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::lower(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Writes `bytes` to `path` through a temp file in its folder: write, fsync, rename, fsync of
/// the folder. Whoever reads `path` sees the old file or the new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".fleet-attest.")
        .tempfile_in(folder)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|err| err.error)?;
    if let Ok(folder) = File::open(folder) {
        // Persist the rename; not every platform can fsync a folder, hence no error.
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Drops a torn last line from an interrupted run's output, and every line from the first
/// `replay/store_unavailable` result on (those records must be judged again); returns the lines
/// kept. Only a regular file can be continued (a device such as /dev/full reads forever).
pub fn keep_complete_lines(path: &Path) -> io::Result<u64> {
    // Inside a JSON string every `"` is escaped, so this can only match the error object.
    let unavailable =
        memchr::memmem::Finder::new(br#""error":{"stage":"replay","code":"store_unavailable""#);
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::other(
            "not a regular file; --resume continues files only",
        ));
    }
    let mut reader = io::BufReader::with_capacity(1 << 20, &file);
    let mut line = Vec::new();
    let mut lines = 0u64;
    let mut keep_end = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        let complete = n > 0 && line.last() == Some(&b'\n');
        if !complete || unavailable.find(&line).is_some() {
            break;
        }
        lines += 1;
        keep_end += n as u64;
    }
    drop(reader);
    if keep_end != metadata.len() {
        file.set_len(keep_end)?;
        file.sync_all()?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        RunRecord::new(
            vec![DigestedFile {
                key: "--config".into(),
                path: "/etc/fleet.toml".into(),
                sha256: "aa".into(),
            }],
            Path::new("/data/in.jsonl"),
            100,
            "0/1".into(),
            ReplayOrigin::State {
                path: "/var/replay.state".into(),
                generation: 3,
                sha256: "bb".into(),
            },
        )
    }

    #[test]
    fn each_difference_is_named() {
        let then = record();
        assert_eq!(record().difference(&then), None);
        let mut now = record();
        now.now = 200;
        assert_eq!(
            now.difference(&then).unwrap(),
            "the interrupted run judged at --now 100, this one at 200"
        );
        let mut changed = record();
        changed.files[0].sha256 = "cc".into();
        assert!(changed
            .difference(&then)
            .unwrap()
            .contains("--config /etc/fleet.toml changed since the interrupted run"));
        let mut state = record();
        state.replay = ReplayOrigin::State {
            path: "/var/replay.state".into(),
            generation: 4,
            sha256: "dd".into(),
        };
        assert!(state
            .difference(&then)
            .unwrap()
            .contains("generation 3 of --replay-state /var/replay.state, which is now at generation 4 (another run saved it since)"));
        let mut version = record();
        version.version = "9.9.9".into();
        assert!(version
            .difference(&then)
            .unwrap()
            .starts_with("it was written by fleet-attest "));
    }

    #[test]
    fn the_record_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.jsonl");
        let path = RunRecord::path_for(&output);
        assert_eq!(path, dir.path().join("out.jsonl.run.json"));
        record().write(&path).unwrap();
        assert_eq!(RunRecord::read(&path).unwrap(), record());
        fs::write(&path, "{}").unwrap();
        assert!(RunRecord::read(&path)
            .unwrap_err()
            .contains("not a fleet-attest run record"));
    }
}
