//! Kill `verify` with SIGKILL mid-run, resume it, and get the bytes of an uninterrupted run,
//! with the same replay state saved.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{bin, gen};

const NOW: &str = "1795910400";

fn verify_cmd(dir: &Path, output: &Path, state: &Path) -> Command {
    let mut cmd = bin();
    cmd.args([
        "verify",
        "--config",
        dir.join("fleet.toml").to_str().unwrap(),
        "--input",
        dir.join("evidence.jsonl").to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--replay-state",
        state.to_str().unwrap(),
        "--now",
        NOW,
        "--threads",
        "2",
        "--no-progress",
    ]);
    cmd.stderr(Stdio::null()).stdout(Stdio::null());
    cmd
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
    let full = dir.path().join("full.jsonl");
    let full_state = dir.path().join("full.state");
    assert!(verify_cmd(dir.path(), &full, &full_state)
        .status()
        .unwrap()
        .success());
    let full_bytes = fs::read(&full).unwrap();
    let full_state_bytes = fs::read(&full_state).unwrap();
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
fn killed_while_saving_state_leaves_the_old_state_intact() {
    // The state is written to a temp file and renamed: a crash before the rename leaves the
    // previous file. Simulate the crash by leaving a stray temp file behind, as a killed save
    // would, and check that the next run loads the old state and ignores the stray file.
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "200",
            "--seed",
            "9",
            "--now",
            NOW,
            "--jwt-algs",
            "HS256",
        ],
    );
    let state = dir.path().join("replay.state");
    let out = dir.path().join("out.jsonl");
    assert!(verify_cmd(dir.path(), &out, &state)
        .status()
        .unwrap()
        .success());
    let saved = fs::read(&state).unwrap();
    let stray = dir.path().join(".replay.state.tmp.99999");
    fs::write(
        &stray,
        b"{\"fleet_attest_replay_state\":1,\"entries\":3}\n{\"key\":",
    )
    .unwrap();
    assert!(verify_cmd(dir.path(), &out, &state)
        .status()
        .unwrap()
        .success());
    let second = fs::read_to_string(&out).unwrap();
    assert!(second.contains("\"code\":\"replayed\""));
    assert!(
        !second.contains("\"status\":\"attested\""),
        "every single-use record attested in the first run must be a replay now"
    );
    assert_eq!(
        fs::read(&state).unwrap(),
        saved,
        "state after a full replay run is unchanged"
    );
}
