//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleet_attest::verifier::{Scratch, Verifier};
use serde_json::Value;

/// The built binary, keeping fleet-attest's own state (the replay-state witnesses) in the
/// build's temp folder rather than in the home folder.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleet-attest"));
    cmd.env("FLEET_ATTEST_STATE_DIR", state_dir());
    cmd
}

/// fleet-attest's own state folder in the tests.
pub fn state_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet-attest-state")
}

/// `fleet-attest verify --config CONFIG --input INPUT`, then `extra`.
pub fn verify_cmd(config: &Path, input: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.arg("verify")
        .arg("--config")
        .arg(config)
        .arg("--input")
        .arg(input)
        .args(extra);
    cmd
}

/// `verify` of the fleet in `dir` (its `fleet.toml` and `evidence.jsonl`), then `extra`.
pub fn verify_fleet(dir: &Path, extra: &[&str]) -> Command {
    verify_cmd(&dir.join("fleet.toml"), &dir.join("evidence.jsonl"), extra)
}

/// Runs a command to completion, returning its output.
pub fn output(mut cmd: Command) -> Output {
    cmd.output().expect("run fleet-attest")
}

/// Runs the binary with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run fleet-attest")
}

/// A folder under `tests/data`.
pub fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

/// Loads a config from TOML text, with relative paths under `base`.
pub fn verifier(toml: &str, base: &Path) -> Result<Verifier, String> {
    fleet_attest::config::from_str(toml, base)
}

/// Judges one line through the library and parses its result line.
pub fn judge(verifier: &Verifier, line: &str, now: i64) -> Value {
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    verifier.judge(1, line.as_bytes(), now, &mut scratch, &mut out);
    assert_eq!(out.last(), Some(&b'\n'));
    serde_json::from_slice(&out).expect("result line is JSON")
}

/// The `(stage, code)` of a result, or `None` when attested.
pub fn rejection(result: &Value) -> Option<(String, String)> {
    let error = result.get("error")?;
    Some((
        error["stage"].as_str()?.to_owned(),
        error["code"].as_str()?.to_owned(),
    ))
}

/// Parses JSON Lines.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect()
}

/// Generates a fleet with `gen` into `dir`.
pub fn gen(dir: &Path, args: &[&str]) {
    let mut all = vec!["gen", "--out", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "gen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
