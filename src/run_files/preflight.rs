//! Before any record is verified, every file the run will write is shown to be writable: its
//! folder exists and takes a new file, and an existing file opens for writing (without being
//! changed). A missing folder is then a fatal error at once, not after a million records.

use std::fs::{self, OpenOptions};
use std::path::Path;

use super::paths::Named;

/// Checks each path of `writes` (`-`, stdout, is skipped).
pub fn check_writable(writes: &[Named]) -> Result<(), String> {
    for named in writes {
        if named.path == Path::new("-") {
            continue;
        }
        writable(&named.path).map_err(|err| {
            format!(
                "{}: cannot be written ({}): {err}; nothing was verified",
                named.path.display(),
                named.what
            )
        })?;
    }
    Ok(())
}

fn writable(path: &Path) -> Result<(), String> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => return Err("it is a folder".into()),
        // A device or a pipe: opening a pipe would wait for its reader; the run's own open tells.
        Ok(metadata) if !metadata.is_file() => return Ok(()),
        Ok(_) => {
            // Opened for writing, not truncated nor created: nothing changes.
            OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|err| err.to_string())?;
        }
        Err(_) => {}
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match fs::metadata(folder) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a folder", folder.display())),
        Err(err) => return Err(format!("folder {}: {err}", folder.display())),
    }
    // A file made and removed at once proves the folder takes new files (permissions, a
    // read-only file system), as the temp files of atomic saves need.
    tempfile::Builder::new()
        .prefix(".fleet-attest-preflight.")
        .tempfile_in(folder)
        .map(drop)
        .map_err(|err| format!("folder {}: {err}", folder.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_or_a_folder_as_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("summary.json");
        assert!(check_writable(&[Named::new("--summary", &ok)]).is_ok());
        assert!(!ok.exists(), "the preflight created the file");
        let missing = dir.path().join("nodir/summary.json");
        let err = check_writable(&[Named::new("--summary", &missing)]).unwrap_err();
        assert!(
            err.contains("nodir/summary.json: cannot be written (--summary)"),
            "{err}"
        );
        assert!(err.contains("No such file"), "{err}");
        let err = check_writable(&[Named::new("--output", dir.path())]).unwrap_err();
        assert!(err.contains("it is a folder"), "{err}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }
}
