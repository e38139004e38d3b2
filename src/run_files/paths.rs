//! Which file each path names, so that no run writes over a file it reads or writes otherwise.
//!
//! A path is resolved to the file it names: symbolic links followed (dangling ones too, to where
//! the file would be created), then the device and inode of an existing file, which is what
//! makes two hard links the same file; a file not yet there is known by its folder's canonical
//! path and its name. Only regular files (and files still to be created) take part: two flags
//! naming `/dev/null`, a terminal or a pipe do not collide. `-` stands for stdin or stdout,
//! resolved through the descriptor, so `--input - < evidence.jsonl --output evidence.jsonl`
//! is caught too.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// A path a run reads or writes, with what names it (a flag, or a config key and its flag).
#[derive(Clone, Debug)]
pub struct Named {
    /// What names the path, for messages: `--output`, `jwt_issuer[0].jwks_path in --config`, …
    pub what: String,
    /// The path as given (`-` for stdin or stdout).
    pub path: PathBuf,
}

impl Named {
    /// `path`, named by `what`.
    pub fn new(what: impl Into<String>, path: impl Into<PathBuf>) -> Named {
        Named {
            what: what.into(),
            path: path.into(),
        }
    }
}

/// The file a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Identity {
    /// An existing regular file.
    Inode { dev: u64, ino: u64 },
    /// A file still to be created, by its canonical folder and name.
    Path(PathBuf),
}

/// Symbolic links followed before giving up, as the kernel's own limit (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The file `named` stands for, with a path to show; `None` for what cannot collide (a device,
/// a pipe, a folder, a stream that is not a file).
fn identify(named: &Named, stdin: bool) -> Option<(Identity, PathBuf)> {
    if named.path == Path::new("-") {
        let metadata = if stdin {
            io::stdin().as_fd().try_clone_to_owned().map(File::from)
        } else {
            io::stdout().as_fd().try_clone_to_owned().map(File::from)
        }
        .and_then(|file| file.metadata())
        .ok()?;
        let shown = if stdin {
            "standard input"
        } else {
            "standard output"
        };
        return metadata.is_file().then(|| {
            (
                Identity::Inode {
                    dev: metadata.dev(),
                    ino: metadata.ino(),
                },
                PathBuf::from(shown),
            )
        });
    }
    let mut path = named.path.clone();
    for _ in 0..MAX_LINKS {
        match fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => {
                let shown = fs::canonicalize(&path).unwrap_or(path);
                return Some((
                    Identity::Inode {
                        dev: metadata.dev(),
                        ino: metadata.ino(),
                    },
                    shown,
                ));
            }
            Ok(_) => return None,
            Err(_) => {}
        }
        // Not there (or not reachable): a dangling link is followed to where the file would be
        // created; otherwise the file would be created at the path itself.
        match fs::read_link(&path) {
            Ok(target) => {
                path = match path.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            Err(_) => {
                let resolved = to_be_created(&path);
                return Some((Identity::Path(resolved.clone()), resolved));
            }
        }
    }
    None // a loop of links: opening it fails anyway
}

/// Where a file not yet there would be: its folder canonicalized (when it exists), its name.
fn to_be_created(path: &Path) -> PathBuf {
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::canonicalize(&parent) {
        Ok(parent) => parent.join(name),
        Err(_) => lexical(&std::env::current_dir().unwrap_or_default().join(path)),
    }
}

/// `path` with `.` and `..` taken out as written (for a folder that does not exist yet).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Fails when a written path names the same file as another written path or as a read path:
/// one line naming both and the file. `reads` and `writes` may both hold the replay state
/// (read, then replaced through a temp file): an entry of `writes` whose `what` equals that of
/// the read entry it matches is that case, and allowed.
pub fn check_collisions(reads: &[Named], writes: &[Named]) -> Result<(), String> {
    let reads: Vec<(&Named, Identity, PathBuf)> = reads
        .iter()
        .filter_map(|named| identify(named, true).map(|(id, shown)| (named, id, shown)))
        .collect();
    let writes: Vec<(&Named, Identity, PathBuf)> = writes
        .iter()
        .filter_map(|named| identify(named, false).map(|(id, shown)| (named, id, shown)))
        .collect();
    for (i, (written, id, shown)) in writes.iter().enumerate() {
        if let Some((other, _, _)) = writes[..i].iter().find(|(_, other, _)| other == id) {
            return Err(collision(other, written, shown));
        }
        if let Some((read, _, _)) = reads
            .iter()
            .find(|(read, other, _)| other == id && read.what != written.what)
        {
            return Err(collision(written, read, shown));
        }
    }
    Ok(())
}

fn collision(first: &Named, second: &Named, file: &Path) -> String {
    format!(
        "{} and {} name the same file, {}: refused before anything was written",
        first.what,
        second.what,
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(what: &str, path: &Path) -> Named {
        Named::new(what, path)
    }

    #[test]
    fn links_and_new_files_resolve_to_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, "x\n").unwrap();
        let hard = dir.path().join("hard.jsonl");
        fs::hard_link(&input, &hard).unwrap();
        let soft = dir.path().join("soft.jsonl");
        std::os::unix::fs::symlink("in.jsonl", &soft).unwrap();
        let dangling = dir.path().join("dangling.jsonl");
        std::os::unix::fs::symlink("new.jsonl", &dangling).unwrap();
        let new = dir.path().join("sub/../new.jsonl");
        fs::create_dir(dir.path().join("sub")).unwrap();

        let reads = [named("--input", &input)];
        for alias in [&input, &hard, &soft] {
            let err = check_collisions(&reads, &[named("--output", alias)]).unwrap_err();
            assert!(
                err.starts_with("--output and --input name the same file, "),
                "{err}"
            );
            let shown = fs::canonicalize(alias).unwrap();
            assert!(
                err.contains(&format!("{}: refused", shown.display())),
                "{err}"
            );
        }
        // A dangling link names the file it would create.
        let err = check_collisions(
            &[],
            &[named("--output", &dangling), named("--summary", &new)],
        )
        .unwrap_err();
        assert!(
            err.starts_with("--output and --summary name the same file"),
            "{err}"
        );
        assert!(check_collisions(&reads, &[named("--output", &new)]).is_ok());
        // The replay state may be read and written by the same flag.
        let state = dir.path().join("replay.state");
        assert!(check_collisions(
            &[named("--replay-state", &state)],
            &[named("--replay-state", &state)]
        )
        .is_ok());
        // Devices never collide.
        let null = Path::new("/dev/null");
        assert!(check_collisions(
            &[named("--input", null)],
            &[named("--output", null), named("--summary", null)]
        )
        .is_ok());
    }

    #[test]
    fn a_loop_of_links_is_left_to_the_open_that_fails() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(check_collisions(&[], &[named("--output", &a), named("--summary", &b)]).is_ok());
    }
}
