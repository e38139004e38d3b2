//! Kill `verify` with SIGKILL mid-run, resume it, and get the bytes of an uninterrupted run,
//! with the same replay state saved.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{gen, verify_fleet};

const NOW: &str = "1795910400";

fn verify_cmd(dir: &Path, output: &Path, state: &Path) -> Command {
    let mut cmd = verify_fleet(
        dir,
        &[
            "--output",
            output.to_str().unwrap(),
            "--replay-state",
            state.to_str().unwrap(),
            "--now",
            NOW,
            "--threads",
            "2",
            "--no-progress",
        ],
    );
    cmd.stderr(Stdio::null()).stdout(Stdio::null());
    cmd
}

/// The output and saved replay state of an uninterrupted run over the fleet in `dir`.
fn uninterrupted(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let output = dir.join("full.jsonl");
    let state = dir.join("full.state");
    assert!(verify_cmd(dir, &output, &state).status().unwrap().success());
    (fs::read(&output).unwrap(), fs::read(&state).unwrap())
}

#[test]
fn sigkill_at_several_points_then_resume_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "6000",
            "--seed",
            "5",
            "--now",
            NOW,
            "--jwt-algs",
            "HS256,EdDSA",
            "--invalid-fraction",
            "0.2",
            "--x509pop-fraction",
            "0.05",
            "--join-token-fraction",
            "0.1",
        ],
    );
    let (full_bytes, full_state_bytes) = uninterrupted(dir.path());
    assert!(full_bytes.len() > 1_000_000);

    // Kill when the output reaches these fractions of its final size (0: right away).
    for (n, fraction) in [0.0, 0.1, 0.45, 0.8].into_iter().enumerate() {
        let output = dir.path().join(format!("killed-{n}.jsonl"));
        let state = dir.path().join(format!("killed-{n}.state"));
        let mut child = verify_cmd(dir.path(), &output, &state).spawn().unwrap();
        let target = (full_bytes.len() as f64 * fraction) as u64;
        let started = Instant::now();
        loop {
            let size = fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            if size >= target || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break; // finished before the kill point: resume must still hold
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let kept = fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
        let mut resume = verify_cmd(dir.path(), &output, &state);
        resume.arg("--resume");
        assert!(
            resume.status().unwrap().success(),
            "resume after kill {n} failed"
        );
        let resumed = fs::read(&output).unwrap();
        assert!(
            resumed == full_bytes,
            "kill {n} at {kept} of {} bytes: resumed output differs",
            full_bytes.len()
        );
        assert_eq!(
            fs::read(&state).unwrap(),
            full_state_bytes,
            "kill {n}: replay state differs"
        );
    }
}

#[test]
fn sigkill_while_saving_state_leaves_the_old_state_intact() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let big = dir.path().join("big");
    gen(
        &small,
        &[
            "--nodes",
            "50",
            "--seed",
            "9",
            "--now",
            NOW,
            "--jwt-algs",
            "HS256",
        ],
    );
    gen(
        &big,
        &[
            "--nodes",
            "60000",
            "--seed",
            "10",
            "--now",
            NOW,
            "--jwt-algs",
            "HS256",
            "--join-token-fraction",
            "0",
        ],
    );
    let state = dir.path().join("replay.state");
    let out = dir.path().join("out.jsonl");
    assert!(verify_cmd(&small, &out, &state).status().unwrap().success());
    let before = fs::read(&state).unwrap();

    // Kill the big run as soon as its temporary state file appears, i.e. during the save.
    let mut child = verify_cmd(&big, &out, &state).spawn().unwrap();
    let started = Instant::now();
    let mut killed_during_save = false;
    while started.elapsed() < Duration::from_secs(120) {
        let saving = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".replay.state.tmp")
            });
        if saving {
            child.kill().unwrap();
            killed_during_save = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    child.wait().unwrap();
    assert!(
        killed_during_save,
        "the save was not caught in the act; the test proves nothing"
    );
    let after = fs::read(&state).unwrap();
    assert!(
        after == before || after.len() > before.len() * 100,
        "the state is either the old file or the complete new one, never a torn mix"
    );
    // And it loads: a run over the small fleet again sees its own keys as consumed.
    assert!(verify_cmd(&small, &out, &state).status().unwrap().success());
    let rerun = fs::read_to_string(&out).unwrap();
    assert!(rerun.contains("\"code\":\"replayed\""));
    assert!(!rerun.contains("\"status\":\"attested\""));
}

#[test]
fn a_write_error_leaves_complete_lines_and_resume_finishes() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "3000",
            "--seed",
            "4",
            "--now",
            NOW,
            "--jwt-algs",
            "HS256",
        ],
    );
    let (full_bytes, _) = uninterrupted(dir.path());

    // A file-size limit makes writes past it fail with EFBIG, as a full disk would fail them
    // with ENOSPC (SIGXFSZ is ignored so the write returns the error instead of killing).
    let output = dir.path().join("limited.jsonl");
    let state = dir.path().join("limited.state");
    let cmd = verify_cmd(dir.path(), &output, &state);
    let mut line = vec!["trap '' XFSZ; ulimit -f 400; exec \"$0\" \"$@\"".to_owned()];
    line.push(cmd.get_program().to_string_lossy().into_owned());
    line.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let limited = Command::new("sh")
        .arg("-c")
        .args(&line)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(limited.status.code(), Some(1), "{limited:?}");
    let stderr = String::from_utf8_lossy(&limited.stderr);
    assert!(
        stderr.contains("limited.jsonl") && stderr.contains("--resume"),
        "{stderr}"
    );
    let kept = fs::read(&output).unwrap();
    assert!(!kept.is_empty() && kept.len() < full_bytes.len());
    assert_eq!(kept.last(), Some(&b'\n'), "only complete lines are left");
    assert!(full_bytes.starts_with(&kept));

    let mut resume = verify_cmd(dir.path(), &output, &state);
    resume.arg("--resume");
    assert!(resume.status().unwrap().success());
    assert!(
        fs::read(&output).unwrap() == full_bytes,
        "resumed output differs"
    );
}
