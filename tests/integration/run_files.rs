//! The files a run reads and writes: collisions refused before anything is written (symlinks
//! and hard links too), the writability preflight, locks against a second writer, the run
//! record that binds `--resume`, replay-state tampering, a failed state save, SIGINT, and the
//! exit status of `--max-rejected`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{data, gen, json_lines, output, verify_cmd};

const NOW: &str = "1795946400";

/// A copy of the JWT fixture fleet (config, keys, tokens, evidence) in a fresh folder.
fn fleet() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fleet");
    copy_dir(&data("jwt"), &root);
    (dir, root)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `verify` of the fleet in `root` at NOW, then `extra`.
fn verify(root: &Path, extra: &[&str]) -> Command {
    let mut cmd = verify_cmd(
        &root.join("fleet.toml"),
        &root.join("evidence.jsonl"),
        &["--now", NOW, "--no-progress"],
    );
    cmd.args(extra);
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `root` with its bytes.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else if let Ok(bytes) = fs::read(&path) {
            files.push((path, bytes));
        }
    }
    files.sort();
    files
}

/// Runs `extra` and expects exit 1 with a message naming both flags; nothing may have changed.
fn refused(root: &Path, extra: &[&str], first: &str, second: &str) {
    let before = snapshot(root);
    let out = output(verify(root, extra));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
    assert!(
        err.starts_with(&format!("error: {first} and {second} name the same file, "))
            && err.contains("refused before anything was written"),
        "{extra:?}: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
    assert!(snapshot(root) == before, "{extra:?} changed a file");
}

#[test]
fn a_run_never_writes_over_its_own_files() {
    let (_dir, root) = fleet();
    let input = root.join("evidence.jsonl");
    let config = root.join("fleet.toml");
    let jwks = root.join("keys/solo.jwks.json");
    let alias = root.join("alias.jsonl");
    symlink(&input, &alias).unwrap();
    let hard = root.join("hard.jsonl");
    fs::hard_link(&input, &hard).unwrap();
    let hard_config = root.join("hard.toml");
    fs::hard_link(&config, &hard_config).unwrap();

    // --output = --input: directly, through a symlink, through a hard link (was a bus error and
    // an evidence file truncated to nothing).
    for output in [&input, &alias, &hard] {
        refused(&root, &["--output", s(output)], "--output", "--input");
    }
    refused(&root, &["--summary", s(&input)], "--summary", "--input");
    refused(&root, &["--summary", s(&alias)], "--summary", "--input");
    refused(&root, &["--output", s(&config)], "--output", "--config");
    refused(
        &root,
        &["--output", s(&hard_config)],
        "--output",
        "--config",
    );
    refused(
        &root,
        &["--output", s(&jwks)],
        "--output",
        "jwt_issuer[1].jwks_path in --config",
    );
    let results = root.join("results.jsonl");
    let results_link = root.join("results-link.jsonl");
    symlink("results.jsonl", &results_link).unwrap(); // dangling until results.jsonl exists
    refused(
        &root,
        &["--output", s(&results), "--replay-state", s(&results_link)],
        "--output",
        "--replay-state",
    );
    refused(
        &root,
        &["--output", s(&results), "--summary", s(&results_link)],
        "--output",
        "--summary",
    );
    fs::write(&results, "").unwrap();
    let results_hard = root.join("results-hard.jsonl");
    fs::hard_link(&results, &results_hard).unwrap();
    refused(
        &root,
        &["--output", s(&results), "--summary", s(&results_hard)],
        "--output",
        "--summary",
    );
    refused(
        &root,
        &["--summary", s(&results), "--replay-state", s(&results_hard)],
        "--summary",
        "--replay-state",
    );
    // stdin and stdout count as the files they are.
    let out = output({
        let mut cmd = verify_cmd(
            &config,
            Path::new("-"),
            &["--now", NOW, "--output", s(&input)],
        );
        cmd.stdin(fs::File::open(&input).unwrap());
        cmd
    });
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output and --input name the same file"));
    let out = verify(&root, &[])
        .stdout(fs::OpenOptions::new().append(true).open(&input).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output and --input name the same file"));
    assert_eq!(
        fs::read(&input).unwrap(),
        fs::read(data("jwt/evidence.jsonl")).unwrap()
    );
    // A distinct output, and /dev/null for two flags, are fine.
    let out = output(verify(
        &root,
        &["--output", "/dev/null", "--summary", "/dev/null"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_file_that_cannot_be_written_fails_before_any_verifying() {
    let (_dir, root) = fleet();
    let results = root.join("results.jsonl");
    for (flag, path) in [
        ("--summary", root.join("nodir/summary.json")),
        ("--replay-state", root.join("nodir/replay.state")),
    ] {
        let out = output(verify(&root, &["--output", s(&results), flag, s(&path)]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("nodir/") && err.contains("cannot be written") && err.contains(flag),
            "{err}"
        );
        assert!(
            !err.contains(".tmp."),
            "names the user's path, not a temp file: {err}"
        );
        assert!(
            !results.exists(),
            "{flag}: the output was created before the check"
        );
    }
}

/// A `verify` writing to `output` (and `state`) that holds its locks until its stdin closes.
fn blocked_writer(root: &Path, output: &Path, state: &Path) -> Child {
    let mut child = verify_cmd(
        &root.join("fleet.toml"),
        Path::new("-"),
        &[
            "--now",
            NOW,
            "--output",
            s(output),
            "--replay-state",
            s(state),
        ],
    )
    .stdin(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // The first record, so the run is under way; the stream stays open.
    let line = fs::read_to_string(root.join("evidence.jsonl")).unwrap();
    let first = line.lines().next().unwrap();
    let stdin = child.stdin.as_mut().unwrap();
    writeln!(stdin, "{first}").unwrap();
    stdin.flush().unwrap();
    // Both locks are taken before the first record is judged: wait until /proc/locks shows them.
    let started = Instant::now();
    let pid = format!(" {} ", child.id());
    while fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("FLOCK") && line.contains(&pid))
        .count()
        < 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no locks taken"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_second_writer_is_refused_naming_the_process() {
    let (_dir, root) = fleet();
    let results = root.join("results.jsonl");
    let state = root.join("replay.state");
    let mut first = blocked_writer(&root, &results, &state);
    let holder = format!("in use by process {} (fleet-attest)", first.id());

    let other = root.join("other.jsonl");
    for (extra, file) in [
        (vec!["--output", s(&results)], results.clone()),
        (
            vec!["--output", s(&other), "--replay-state", s(&state)],
            root.join("replay.state.lock"),
        ),
    ] {
        let before = fs::read(&results).unwrap();
        let out = output(verify(&root, &extra));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: {}: {holder}", file.display())),
            "{err}"
        );
        assert_eq!(fs::read(&results).unwrap(), before, "the second run wrote");
    }
    drop(first.stdin.take());
    assert!(first.wait().unwrap().success());
    // Once the first run is over, the files are free.
    assert!(output(verify(&root, &["--output", s(&results)]))
        .status
        .success());
}

#[test]
fn resume_refuses_a_forged_line_and_a_run_that_is_not_the_same() {
    let (_dir, root) = fleet();
    let full = root.join("full.jsonl");
    assert!(output(verify(&root, &["--output", s(&full)]))
        .status
        .success());
    let full_bytes = fs::read_to_string(&full).unwrap();
    let record = fs::read(root.join("full.jsonl.run.json")).unwrap();
    let lines: Vec<&str> = full_bytes.lines().collect();
    // An interrupted output of 20 lines, with its run record.
    let partial = root.join("partial.jsonl");
    let record_path = root.join("partial.jsonl.run.json");
    let reset = |text: &str| {
        fs::write(&partial, text).unwrap();
        fs::write(&record_path, &record).unwrap();
    };
    let kept: String = lines[..20].iter().map(|l| format!("{l}\n")).collect();
    let resume = |extra: &[&str]| {
        let mut args = vec!["--output", s(&partial), "--resume"];
        args.extend_from_slice(extra);
        output(verify(&root, &args))
    };

    // A rejection in the kept lines edited into an attestation as an admin.
    let rejected = lines[..20]
        .iter()
        .position(|l| l.contains(r#""status":"rejected""#))
        .unwrap();
    let forged_line = {
        let v: serde_json::Value = serde_json::from_str(lines[rejected]).unwrap();
        format!(
            r#"{{"line":{},"id":{},"type":"jwt","status":"attested","agent_id":"spiffe://example.org/spire/agent/jwt/bootstrap/admin","selectors":[],"aliases":["spiffe://example.org/admins"]}}"#,
            v["line"], v["id"]
        )
    };
    let forged: String = lines[..20]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == rejected {
                format!("{forged_line}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    reset(&forged);
    let out = resume(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "partial.jsonl: line {} is not the result",
            rejected + 1
        )) && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&partial).unwrap(), forged, "untouched");

    // Another --now.
    reset(&kept);
    let out = output(verify_cmd(
        &root.join("fleet.toml"),
        &root.join("evidence.jsonl"),
        &["--now", "1795950000", "--output", s(&partial), "--resume"],
    ));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the interrupted run judged at --now 1795946400, this one at 1795950000"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&partial).unwrap(), kept);

    // A changed key set.
    let jwks = root.join("keys/solo.jwks.json");
    let original = fs::read(&jwks).unwrap();
    let reformatted: serde_json::Value = serde_json::from_slice(&original).unwrap();
    fs::write(&jwks, serde_json::to_vec_pretty(&reformatted).unwrap()).unwrap();
    reset(&kept);
    let out = resume(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("jwt_issuer[1].jwks_path")
            && err.contains("changed since the interrupted run"),
        "{err}"
    );
    fs::write(&jwks, &original).unwrap();

    // No run record.
    fs::write(&partial, &kept).unwrap();
    fs::remove_file(&record_path).unwrap();
    let out = resume(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("partial.jsonl.run.json: missing"),
        "{}",
        stderr(&out)
    );

    // An empty output (killed before its run record) has nothing to keep: resuming starts it.
    fs::write(&partial, "").unwrap();
    let out = resume(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&partial).unwrap(), full_bytes);

    // The same run, resumed: byte-identical.
    reset(&kept);
    let out = resume(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&partial).unwrap(), full_bytes);
}

#[test]
fn a_resume_without_now_judges_at_the_interrupted_runs_time() {
    let (_dir, root) = fleet();
    let out_path = root.join("clock.jsonl");
    // The interrupted run read the clock (no --now).
    let first = verify_cmd(
        &root.join("fleet.toml"),
        &root.join("evidence.jsonl"),
        &["--output", s(&out_path), "--no-progress"],
    );
    assert!(output(first).status.success());
    let full = fs::read_to_string(&out_path).unwrap();
    let kept: String = full.lines().take(5).map(|l| format!("{l}\n")).collect();
    fs::write(&out_path, &kept).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let resume = verify_cmd(
        &root.join("fleet.toml"),
        &root.join("evidence.jsonl"),
        &["--output", s(&out_path), "--resume", "--no-progress"],
    );
    let out = output(resume);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&out_path).unwrap(), full);
}

#[test]
fn an_emptied_or_rolled_back_state_file_is_refused() {
    let (_dir, root) = fleet();
    let state = root.join("replay.state");
    let run = || output(verify(&root, &["--replay-state", s(&state)]));
    assert!(run().status.success());
    let first = fs::read_to_string(&state).unwrap();
    assert!(first.contains(r#""generation":1"#), "{first}");
    let second_run = run();
    assert!(second_run.status.success());
    assert!(json_lines(&second_run.stdout)
        .iter()
        .any(|r| r["error"]["code"] == "replayed"));
    let second = fs::read_to_string(&state).unwrap();

    // Emptied, self-consistently: every consumed key would attest again.
    let header = second.lines().next().unwrap();
    let entries = header.split(r#""entries":"#).nth(1).unwrap();
    let emptied = header.replace(&format!(r#""entries":{entries}"#), r#""entries":0}"#);
    fs::write(&state, format!("{emptied}\n")).unwrap();
    let out = run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("replay.state: generation 2 differs from the one saved here"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // Rolled back to the first save.
    fs::write(&state, &first).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("generation 1, but generation 2 was saved here"));
    // Deleted.
    fs::remove_file(&state).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing, but generation 2 of it was saved here"));
    // Another trust domain.
    fs::write(&state, &second).unwrap();
    let config = fs::read_to_string(root.join("fleet.toml")).unwrap();
    fs::write(
        root.join("fleet.toml"),
        config.replace("example.org", "other.org"),
    )
    .unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"cannot serve trust domain "other.org""#),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failed_state_save_fails_the_run_and_resume_saves_it() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "20000",
            "--seed",
            "8",
            "--now",
            NOW,
            "--jwt-algs",
            "ES256",
        ],
    );
    let results = dir.path().join("results.jsonl");
    let summary = dir.path().join("summary.json");
    let state = dir.path().join("replay.state");
    let cmd = |resume: bool| {
        let mut cmd = verify_cmd(
            &dir.path().join("fleet.toml"),
            &dir.path().join("evidence.jsonl"),
            &[
                "--now",
                NOW,
                "--threads",
                "1",
                "--no-progress",
                "--output",
                s(&results),
                "--summary",
                s(&summary),
                "--replay-state",
                s(&state),
            ],
        );
        if resume {
            cmd.arg("--resume");
        }
        cmd
    };
    // Once the run is under way (past the preflight), a folder takes the place of the temp file
    // the save will write, so the save fails at the end as a full disk would make it fail.
    let mut child = cmd(false).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while fs::metadata(&results).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "no output");
        std::thread::sleep(Duration::from_millis(2));
    }
    let blocker = dir.path().join(format!(".replay.state.tmp.{}", child.id()));
    fs::create_dir(&blocker).unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the save could be made to fail; the test proves nothing"
    );
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the replay state was not saved")
            && err.contains("could attest again")
            && err.contains("rerun with --resume"),
        "{err}"
    );
    let written: serde_json::Value = serde_json::from_slice(&fs::read(&summary).unwrap()).unwrap();
    assert!(
        written["failed"]
            .as_str()
            .unwrap()
            .contains("the replay state was not saved"),
        "{written}"
    );
    assert!(!state.exists());

    // Fixed, the resume judges the output again, adds nothing and saves the state.
    fs::remove_dir(&blocker).unwrap();
    let full = fs::read(&results).unwrap();
    let out = output(cmd(true));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fs::read(&results).unwrap() == full);
    let written: serde_json::Value = serde_json::from_slice(&fs::read(&summary).unwrap()).unwrap();
    assert!(written.get("failed").is_none(), "{written}");
    // And single use holds: the same evidence again is all replays.
    let again = dir.path().join("again.jsonl");
    let out = output(verify_cmd(
        &dir.path().join("fleet.toml"),
        &dir.path().join("evidence.jsonl"),
        &[
            "--now",
            NOW,
            "--output",
            s(&again),
            "--replay-state",
            s(&state),
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let again = fs::read_to_string(&again).unwrap();
    assert!(!again.contains(r#""status":"attested""#));
}

#[test]
fn sigint_finishes_the_records_in_flight_and_says_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "20000",
            "--seed",
            "6",
            "--now",
            NOW,
            "--jwt-algs",
            "ES256",
        ],
    );
    let args = |output: &Path| -> Vec<String> {
        [
            "verify",
            "--config",
            s(&dir.path().join("fleet.toml")),
            "--input",
            s(&dir.path().join("evidence.jsonl")),
            "--now",
            NOW,
            "--threads",
            "1",
            "--no-progress",
            "--output",
            s(output),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let full = dir.path().join("full.jsonl");
    let out = output({
        let mut cmd = crate::support::bin();
        cmd.args(args(&full));
        cmd
    });
    assert!(out.status.success(), "{}", stderr(&out));
    let full_bytes = fs::read(&full).unwrap();

    let partial = dir.path().join("partial.jsonl");
    let mut child = crate::support::bin()
        .args(args(&partial))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fs::metadata(&partial).map_or(0, |m| m.len()) < (full_bytes.len() / 10) as u64 {
        assert!(started.elapsed() < Duration::from_secs(60), "no output");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the signal"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let kept = fs::read(&partial).unwrap();
    assert!(kept.len() < full_bytes.len(), "the run was not cut short");
    assert_eq!(kept.last(), Some(&b'\n'), "flushed whole lines");
    assert!(full_bytes.starts_with(&kept));
    let resume = err
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(env!("CARGO_BIN_EXE_fleet-attest"))
        })
        .unwrap_or_else(|| panic!("no command to resume with: {err}"));
    assert!(resume.ends_with(" --resume"), "{resume}");
    // The command it prints finishes the output.
    let out = Command::new("sh")
        .arg("-c")
        .arg(resume.trim())
        .env("FLEET_ATTEST_STATE_DIR", crate::support::state_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        fs::read(&partial).unwrap() == full_bytes,
        "resumed output differs"
    );
}

#[test]
fn too_many_rejections_exit_3() {
    let (_dir, root) = fleet();
    let out = output(verify(&root, &[]));
    assert!(out.status.success());
    let results = json_lines(&out.stdout);
    let rejected = results.iter().filter(|r| r["status"] == "rejected").count();
    let records = results.len();
    assert!(rejected > 0 && rejected < records);
    let percent = |p: f64| format!("{p}%");
    let at = rejected as f64 * 100.0 / records as f64;
    for (extra, code) in [
        (vec!["--fail-on-reject".to_owned()], 3),
        (vec!["--max-rejected".into(), rejected.to_string()], 0),
        (vec!["--max-rejected".into(), (rejected - 1).to_string()], 3),
        (vec!["--max-rejected".into(), percent(at.ceil())], 0),
        (vec!["--max-rejected".into(), percent(at.floor() - 1.0)], 3),
    ] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = output(verify(&root, &extra));
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {}", stderr(&out));
        // The results are all written either way.
        assert_eq!(json_lines(&out.stdout).len(), records);
        if code == 3 {
            assert!(
                stderr(&out).contains(&format!(
                    "error: {rejected} of {records} records were rejected, more than --max-rejected"
                )),
                "{}",
                stderr(&out)
            );
        }
    }
    let out = output(verify(&root, &["--max-rejected", "lots"]));
    assert_eq!(out.status.code(), Some(2));
}

/// An HS256 token of the fixture's `shared` issuer for `sub`.
fn shared_token(sub: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    use base64::Engine as _;
    let now: i64 = NOW.parse().unwrap();
    let header = B64URL.encode(r#"{"alg":"HS256","kid":"hs-1","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": "https://shared.example.org",
        "aud": "spire-server",
        "sub": sub,
        "iat": now,
        "exp": now + 600,
    });
    let payload = B64URL.encode(claims.to_string());
    let secret = B64URL
        .decode("lN6JLvcVEtlL7yuNz-cv70f6Rd35m2IALX-h9iD6lkA")
        .unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let signing_input = format!("{header}.{payload}");
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", B64URL.encode(tag.as_ref()))
}

#[test]
fn an_agent_id_of_two_attestors_is_reported_and_refused_when_strict() {
    let (_dir, root) = fleet();
    // The `shared` issuer's template gives the subject as the whole path: a token can name a
    // join token's agent ID.
    let config = fs::read_to_string(root.join("fleet.toml")).unwrap();
    let config = config.replace(
        "algorithms = [\"HS256\"]\nsingle_use = false",
        "algorithms = [\"HS256\"]\nsingle_use = false\nagent_path_template = \"/{{ .Subject }}\"",
    );
    fs::write(root.join("fleet.toml"), config).unwrap();
    let lines = [
        shared_token("join_token/jt-good"),
        r#"{"id":"jt","type":"join_token","token":"jt-good"}"#.to_owned(),
        shared_token("node-7"),
        shared_token("node-7"),
        r#"{"id":"jt-again","type":"join_token","token":"jt-good"}"#.to_owned(),
    ];
    fs::write(root.join("evidence.jsonl"), lines.join("\n") + "\n").unwrap();
    let summary = root.join("summary.json");
    let run = |strict: bool| {
        let mut extra = vec!["--summary", s(&summary)];
        if strict {
            extra.push("--strict-namespaces");
        }
        let out = output(verify(&root, &extra));
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value =
            serde_json::from_slice(&fs::read(&summary).unwrap()).unwrap();
        (json_lines(&out.stdout), summary, stderr(&out))
    };

    let (results, summary_json, err) = run(false);
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or("attested"))
        .collect();
    assert_eq!(
        codes,
        ["attested", "attested", "attested", "attested", "replayed"]
    );
    assert_eq!(
        results[0]["agent_id"],
        "spiffe://example.org/spire/agent/join_token/jt-good"
    );
    assert_eq!(results[1]["agent_id"], results[0]["agent_id"]);
    assert_eq!(
        summary_json["agent_id_collisions"],
        serde_json::json!({"count": 2, "first": [{
            "line": 2, "attestor": "join_token",
            "first_line": 1, "first_attestor": "jwt issuer \"shared\"",
        }, {
            "line": 5, "attestor": "join_token",
            "first_line": 1, "first_attestor": "jwt issuer \"shared\"",
        }]})
    );
    assert!(
        err.contains("2 records gave an agent ID that another attestor gave earlier"),
        "{err}"
    );

    // Strict: the later record is refused and claims nothing (its join token stays unused, so
    // the next copy is refused for its ID too, not as a replay).
    let (results, summary_json, _) = run(true);
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or("attested"))
        .collect();
    assert_eq!(
        codes,
        [
            "attested",
            "agent_id_collision",
            "attested",
            "attested",
            "agent_id_collision"
        ]
    );
    assert_eq!(results[1]["error"]["stage"], "policy");
    assert_eq!(
        results[1]["error"]["message"],
        "this agent ID was produced by line 1 (jwt issuer \"shared\") earlier in the run; \
         join_token may not attest it too (--strict-namespaces)"
    );
    assert_eq!(summary_json["agent_id_collisions"]["count"], 2);
    // Both thread counts agree.
    let one = output(verify(&root, &["--strict-namespaces", "--threads", "1"]));
    let two = output(verify(&root, &["--strict-namespaces", "--threads", "2"]));
    assert_eq!(one.stdout, two.stdout);
}
