//! Exclusive locks (`flock`) on the files a run writes, held until the run ends, so that two
//! runs cannot write the same output or replay state at once. A second run is refused with the
//! process that holds the lock, read from `/proc/locks` (Linux; elsewhere the message says
//! "another process").

use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Takes the lock on `file` (opened from `path`, named by `what`) without waiting.
pub fn lock(file: &File, path: &Path, what: &str) -> Result<(), String> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(format!(
            "{}: in use by {} (the {what} of a run still going); wait for it to end",
            path.display(),
            holder(file).unwrap_or_else(|| "another process".into())
        )),
        Err(TryLockError::Error(err)) => Err(format!("{}: cannot lock it: {err}", path.display())),
    }
}

/// `process PID (NAME)` of the process holding an flock on `file`, from `/proc/locks`.
fn holder(file: &File) -> Option<String> {
    let metadata = file.metadata().ok()?;
    let dev = metadata.dev();
    // The kernel prints the device as MAJOR:MINOR in hex (glibc's encoding of dev_t).
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let id = format!("{major:02x}:{minor:02x}:{}", metadata.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid = locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF"
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&"FLOCK") && fields.get(5) == Some(&id.as_str()))
            .then(|| fields.get(4).and_then(|pid| pid.parse::<u32>().ok()))
            .flatten()
    })?;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim_end().to_owned())
        .unwrap_or_default();
    Some(if name.is_empty() {
        format!("process {pid}")
    } else {
        format!("process {pid} ({name})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let first = File::create(&path).unwrap();
        lock(&first, &path, "--output").unwrap();
        // Another open file description of the same file: flock refuses it, as it would another
        // process, and the holder is this process.
        let second = File::options().write(true).open(&path).unwrap();
        let err = lock(&second, &path, "--output").unwrap_err();
        let me = format!("in use by process {} (", std::process::id());
        assert!(err.contains(&me), "{err}");
        assert!(err.contains("the --output of a run still going"), "{err}");
        drop(first);
        lock(&second, &path, "--output").unwrap();
    }
}
