//! Single use across runs (--replay-state) and --resume of an interrupted output.

use std::fs;

use crate::support::{data, json_lines, output, verify_fleet};

fn verify(extra: &[&str]) -> std::process::Output {
    let mut cmd = verify_fleet(&data("jwt"), &["--now", "1795946400"]);
    cmd.args(extra);
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn state_carries_single_use_into_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("replay.state");
    let state = state.to_str().unwrap();
    let first = json_lines(&verify(&["--replay-state", state]).stdout);
    assert_eq!(first[0]["status"], "attested");
    assert!(fs::metadata(state).unwrap().len() > 0);
    let second = json_lines(&verify(&["--replay-state", state]).stdout);
    for id in ["es256-ok", "rs256-ok", "join-ok", "line-10"] {
        let r = second.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(r["error"]["code"], "replayed", "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("earlier run"),
            "{r}"
        );
    }
    // Not single use: attests again.
    let r = second.iter().find(|r| r["id"] == "hs256-ok").unwrap();
    assert_eq!(r["status"], "attested");
    // A corrupt state file is fatal, naming the file.
    fs::write(state, "{\"fleet_attest_replay_state\":1,\"entries\":5}\n").unwrap();
    let out = output(verify_fleet(&data("jwt"), &["--replay-state", state]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("replay.state"));
}

#[test]
fn resume_drops_a_torn_line_and_finishes_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.jsonl");
    verify(&["--output", full.to_str().unwrap()]);
    let full_bytes = fs::read(&full).unwrap();
    let newlines: Vec<usize> = full_bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    // Cut after 0, 1, and 25 complete lines, each time with a torn half line after them.
    for kept in [0usize, 1, 25, newlines.len()] {
        let cut = if kept == 0 { 0 } else { newlines[kept - 1] + 1 };
        let torn = (cut + 17).min(full_bytes.len());
        let partial = dir.path().join(format!("partial-{kept}.jsonl"));
        fs::write(&partial, &full_bytes[..torn]).unwrap();
        // The run record that binds the output to its run goes with it.
        fs::copy(
            dir.path().join("full.jsonl.run.json"),
            dir.path().join(format!("partial-{kept}.jsonl.run.json")),
        )
        .unwrap();
        verify(&["--output", partial.to_str().unwrap(), "--resume"]);
        assert!(
            fs::read(&partial).unwrap() == full_bytes,
            "resume after {kept} lines differs"
        );
    }
}
