//! Output bytes depend only on input, config, --now and replay state: not on threads or runs.

use std::fs;

use std::path::Path;

use crate::support::{gen, output, verify_cmd, verify_fleet};

#[test]
fn same_bytes_at_one_and_two_threads_and_twice() {
    let dir = tempfile::tempdir().unwrap();
    gen(
        dir.path(),
        &[
            "--nodes",
            "3000",
            "--seed",
            "7",
            "--now",
            "1795910400",
            "--invalid-fraction",
            "0.3",
            "--jwt-algs",
            "ES256,EdDSA,HS256",
        ],
    );
    let outputs: Vec<Vec<u8>> = ["1", "2", "2", "1"]
        .iter()
        .map(|threads| {
            let out = output(verify_fleet(
                dir.path(),
                &["--now", "1795910400", "--threads", threads],
            ));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        })
        .collect();
    assert!(outputs[0].len() > 100_000);
    for other in &outputs[1..] {
        assert!(
            other == &outputs[0],
            "output differs between runs or thread counts"
        );
    }
    // stdin streaming gives the same bytes as the mapped file.
    let mut cmd = verify_cmd(
        &dir.path().join("fleet.toml"),
        Path::new("-"),
        &["--now", "1795910400"],
    );
    cmd.stdin(fs::File::open(dir.path().join("evidence.jsonl")).unwrap());
    let piped = output(cmd);
    assert!(
        piped.stdout == outputs[0],
        "stdin output differs from file output"
    );
}
