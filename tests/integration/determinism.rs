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

/// Library callers may keep one worker pool for many runs (`pipeline::run_in`): the workers'
/// scratch buffers then outlive a run and meet other configs; the bytes must not change.
#[test]
fn a_pool_kept_across_runs_and_configs_writes_what_a_fresh_one_writes() {
    use fleet_attest::input::Input;
    use fleet_attest::pipeline::{self, RunOptions};
    use fleet_attest::replay::{ReplayStore, SingleUse};
    use fleet_attest::shard::Shard;

    let now = "1795910400";
    let fleets: Vec<tempfile::TempDir> = [
        ["--seed", "3", "--jwt-algs", "ES256,RS256"],
        ["--seed", "4", "--jwt-algs", "EdDSA,HS256"],
    ]
    .iter()
    .map(|args| {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec!["--nodes", "1200", "--now", now, "--invalid-fraction", "0.3"];
        all.extend_from_slice(args);
        gen(dir.path(), &all);
        dir
    })
    .collect();
    let options = RunOptions {
        threads: 2,
        now: now.parse().unwrap(),
        skip_records: 0,
        progress: false,
        shard: Shard::ALL,
        ..RunOptions::default()
    };
    let judge = |dir: &Path, pool: Option<&rayon::ThreadPool>| -> Vec<u8> {
        let verifier = fleet_attest::config::load(&dir.join("fleet.toml")).unwrap();
        let input = Input::open(&dir.join("evidence.jsonl")).unwrap();
        let mut store = SingleUse::Memory(ReplayStore::new());
        let mut out = Vec::new();
        match pool {
            Some(pool) => pipeline::run_in(pool, &verifier, &input, &mut out, &mut store, &options),
            None => pipeline::run(&verifier, &input, &mut out, &mut store, &options),
        }
        .unwrap();
        out
    };
    let fresh: Vec<Vec<u8>> = fleets.iter().map(|dir| judge(dir.path(), None)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for turn in 0..4 {
        let which = turn % 2;
        let kept = judge(fleets[which].path(), Some(&pool));
        assert!(kept.len() > 10_000);
        assert!(
            kept == fresh[which],
            "fleet {which}, turn {turn}: a kept pool wrote other bytes"
        );
    }
}
