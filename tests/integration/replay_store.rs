//! Single use in Redis across processes (`--replay-store`, `--shard`), against a real
//! `redis-server`: the one `scripts/test.sh` starts (`FLEET_ATTEST_TEST_REDIS`, one database per
//! test), or one of the test's own (always for the tests that kill it or speak TLS).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{data, gen, json_lines, output, verify_fleet};

const NOW: &str = "1795910400";

/// A `redis-server` of this test's own: loopback, a free port, every write fsynced to an
/// append-only file so that a killed server comes back with its keys.
struct OwnRedis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// TLS only (tests/data/redis-tls), no plain port.
    tls: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl OwnRedis {
    fn spawn() -> OwnRedis {
        OwnRedis::spawn_with(false)
    }

    fn spawn_with(tls: bool) -> OwnRedis {
        let mut server = OwnRedis {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            tls,
        };
        server.start();
        server
    }

    fn start(&mut self) {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1"]);
        if self.tls {
            let tls = data("redis-tls");
            cmd.args([
                "--port",
                "0",
                "--tls-port",
                &port,
                "--tls-auth-clients",
                "no",
            ])
            .arg("--tls-cert-file")
            .arg(tls.join("server.pem"))
            .arg("--tls-key-file")
            .arg(tls.join("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(tls.join("ca.pem"));
        } else {
            cmd.args(["--port", &port]);
        }
        let child = cmd
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package; scripts/test.sh installs it)");
        self.child = Some(child);
        if self.tls {
            let started = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "TLS redis not up"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            wait_until_up(&self.url(0));
        }
    }

    /// SIGKILL: a crash, not a shutdown.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self, db: u8) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_until_up(url: &str) {
    let started = Instant::now();
    loop {
        let pong = redis::Client::open(url)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if pong.is_ok() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis at {url} did not come up: {pong:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Redis database for one test, emptied: database `db` of the server `scripts/test.sh`
/// started, or of a server of the test's own (returned, to keep it alive).
fn test_database(db: u8) -> (Option<OwnRedis>, String) {
    let (own, url) = match std::env::var("FLEET_ATTEST_TEST_REDIS") {
        Ok(base) if !base.is_empty() => (None, format!("{}/{db}", base.trim_end_matches('/'))),
        _ => {
            let own = OwnRedis::spawn();
            let url = own.url(db);
            (Some(own), url)
        }
    };
    wait_until_up(&url);
    let mut conn = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("connect");
    redis::cmd("FLUSHDB")
        .query::<()>(&mut conn)
        .expect("FLUSHDB");
    (own, url)
}

/// A fleet of `nodes` valid records (JWTs, x509pop, join tokens), and an input that holds it
/// `copies` times over.
fn fleet(dir: &Path, nodes: u64, copies: usize) -> PathBuf {
    gen(
        dir,
        &[
            "--nodes",
            &nodes.to_string(),
            "--seed",
            "11",
            "--now",
            NOW,
            "--jwt-algs",
            "ES256,EdDSA",
            "--x509pop-fraction",
            "0.1",
            "--join-token-fraction",
            "0.1",
        ],
    );
    let once = fs::read(dir.join("evidence.jsonl")).unwrap();
    let input = dir.join("copies.jsonl");
    fs::write(&input, once.repeat(copies)).unwrap();
    input
}

fn verify_shard(dir: &Path, input: &Path, out: &Path, url: &str, shard: &str) -> Command {
    let mut cmd = crate::support::verify_cmd(
        &dir.join("fleet.toml"),
        input,
        &[
            "--output",
            out.to_str().unwrap(),
            "--now",
            NOW,
            "--threads",
            "1",
            "--no-progress",
            "--replay-store",
            url,
            "--shard",
            shard,
        ],
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

/// Runs `shards` concurrent processes over `copies` of a fleet against one Redis database and
/// checks: every line of the input has exactly one result in exactly its shard's output, and each
/// record that attests alone attests exactly once in the union, every other copy a replay.
/// Returns the attested records' types.
fn shards_attest_exactly_once(shards: u32, db: u8) -> BTreeMap<String, usize> {
    let (_own, url) = test_database(db);
    let dir = tempfile::tempdir().unwrap();
    let nodes = 2003u64; // not a multiple of 2 or 3: the copies of a record fall in other shards
    let copies = 3usize;
    let input = fleet(dir.path(), nodes, copies);
    let alone = output(verify_fleet(dir.path(), &["--now", NOW]));
    assert!(alone.status.success());
    let attests: BTreeSet<String> = json_lines(&alone.stdout)
        .iter()
        .filter(|r| r["status"] == "attested")
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(attests.len() > nodes as usize * 9 / 10);

    let children: Vec<(u32, PathBuf, Child)> = (0..shards)
        .map(|k| {
            let out = dir.path().join(format!("shard{k}.jsonl"));
            let child = verify_shard(dir.path(), &input, &out, &url, &format!("{k}/{shards}"))
                .spawn()
                .unwrap();
            (k, out, child)
        })
        .collect();
    let mut attested: BTreeMap<String, usize> = BTreeMap::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines_seen = BTreeSet::new();
    let mut cross_shard_replays = 0;
    for (k, out, child) in children {
        let done = child.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "shard {k}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        for result in json_lines(&fs::read(&out).unwrap()) {
            let line = result["line"].as_u64().unwrap();
            assert_eq!((line - 1) % u64::from(shards), u64::from(k), "{result}");
            assert!(lines_seen.insert(line), "line {line} twice");
            let id = result["id"].as_str().unwrap().to_owned();
            if result["status"] == "attested" {
                *attested.entry(id).or_default() += 1;
                *types
                    .entry(result["type"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            } else {
                assert!(attests.contains(&id), "{result}");
                assert_eq!(result["error"]["code"], "replayed", "{result}");
                let message = result["error"]["message"].as_str().unwrap();
                if message.contains("of shard") {
                    cross_shard_replays += 1;
                }
            }
        }
    }
    assert_eq!(
        lines_seen.len(),
        nodes as usize * copies,
        "a result per line"
    );
    assert_eq!(
        attested.keys().cloned().collect::<BTreeSet<_>>(),
        attests,
        "the records that attest alone, and only they, attest in the union"
    );
    for (id, n) in &attested {
        assert_eq!(*n, 1, "{id} attested {n} times");
    }
    assert!(cross_shard_replays > 0, "copies must meet across shards");
    types
}

#[test]
fn two_concurrent_shards_attest_each_key_exactly_once() {
    let types = shards_attest_exactly_once(2, 1);
    assert!(types["jwt"] > 0);
}

#[test]
fn three_concurrent_shards_attest_each_key_exactly_once_x509pop_and_join_tokens_too() {
    let types = shards_attest_exactly_once(3, 2);
    for kind in ["jwt", "x509pop", "join_token"] {
        assert!(
            types.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {types:?}"
        );
    }
}

#[test]
fn one_process_on_redis_writes_what_the_in_memory_store_writes() {
    let (_own, url) = test_database(3);
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path(), 500, 2);
    let run = |extra: &[&str]| {
        let mut args = vec!["--now", NOW, "--no-progress"];
        args.extend_from_slice(extra);
        let done = output(crate::support::verify_cmd(
            &dir.path().join("fleet.toml"),
            &input,
            &args,
        ));
        assert!(done.status.success());
        done.stdout
    };
    let memory = run(&[]);
    let redis = run(&["--replay-store", &url]);
    assert_eq!(
        String::from_utf8(redis).unwrap(),
        String::from_utf8(memory).unwrap()
    );
    // A second run against the same store: every key is taken, by "another run".
    let again = json_lines(&run(&["--replay-store", &url]));
    assert!(again.iter().all(|r| r["status"] == "rejected"));
    assert!(again.iter().any(|r| r["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("of another run")));
}

#[test]
fn tls_verifies_the_server_against_the_given_root_and_refuses_others() {
    let server = OwnRedis::spawn_with(true);
    let url = server.url(0);
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path(), 300, 2);
    let tls = data("redis-tls");
    let run = |extra: &[&str]| {
        let mut args = vec!["--now", NOW, "--no-progress"];
        args.extend_from_slice(extra);
        output(crate::support::verify_cmd(
            &dir.path().join("fleet.toml"),
            &input,
            &args,
        ))
    };
    let memory = run(&[]);
    let ca = tls.join("ca.pem");
    let over_tls = run(&[
        "--replay-store",
        &url,
        "--replay-store-ca",
        ca.to_str().unwrap(),
    ]);
    assert!(
        over_tls.status.success(),
        "{}",
        String::from_utf8_lossy(&over_tls.stderr)
    );
    assert_eq!(over_tls.stdout, memory.stdout);

    let other = tls.join("other-ca.pem");
    for refused in [
        run(&[
            "--replay-store",
            &url,
            "--replay-store-ca",
            other.to_str().unwrap(),
        ]),
        run(&["--replay-store", &url]), // the system's roots do not know the test CA
    ] {
        assert_eq!(refused.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.starts_with(&format!("error: {url}: ")), "{stderr}");
        assert!(refused.stdout.is_empty());
    }
    let plain = format!("redis://127.0.0.1:{}/0", server.port);
    let mixed = run(&[
        "--replay-store",
        &plain,
        "--replay-store-ca",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(mixed.status.code(), Some(2), "a CA for a plain-text URL");
}

#[test]
fn redis_unreachable_at_start_is_fatal_naming_the_address() {
    let port = free_port(); // the listener is gone: nothing listens there
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path(), 10, 1);
    let url = format!("redis://127.0.0.1:{port}/0");
    let done = output(crate::support::verify_cmd(
        &dir.path().join("fleet.toml"),
        &input,
        &["--now", NOW, "--replay-store", &url],
    ));
    assert_eq!(done.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.starts_with(&format!("error: {url}: ")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(done.stdout.is_empty());
}

#[test]
fn redis_killed_mid_run_attests_nothing_unchecked_and_resume_finishes_the_job() {
    let mut redis = OwnRedis::spawn();
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path(), 2000, 15);
    let urls = [redis.url(0), redis.url(1)];
    let run = |out: &Path, db: usize, resume: bool| {
        let mut cmd = verify_shard(dir.path(), &input, out, &urls[db], "0/1");
        if resume {
            cmd.arg("--resume");
        }
        cmd
    };
    let reference = dir.path().join("reference.jsonl");
    let done = run(&reference, 1, false).output().unwrap();
    assert!(done.status.success());
    let reference = fs::read_to_string(&reference).unwrap();

    let out = dir.path().join("out.jsonl");
    let child = run(&out, 0, false).spawn().unwrap();
    let started = Instant::now();
    while fs::metadata(&out).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "no output");
        std::thread::sleep(Duration::from_millis(2));
    }
    redis.kill();
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    let error = stderr.lines().last().unwrap();
    assert!(
        error.starts_with(&format!("error: {}: ", urls[0])),
        "{error}"
    );
    assert!(error.contains("replay/store_unavailable") && error.contains("--resume"));

    // Nothing lost, nothing attested unchecked: a result per record; before the loss exactly
    // the reference; from it on, every record that needed a single-use check is
    // store_unavailable and every other one is what it is in the reference.
    let interrupted = fs::read_to_string(&out).unwrap();
    let got: Vec<&str> = interrupted.lines().collect();
    let want: Vec<&str> = reference.lines().collect();
    assert_eq!(got.len(), want.len());
    let first_loss = got
        .iter()
        .position(|l| l.contains(r#""code":"store_unavailable""#))
        .expect("the loss shows in the output");
    assert!(
        first_loss < got.len() / 2,
        "the server died early in the run"
    );
    assert_eq!(got[..first_loss], want[..first_loss]);
    for (got, want) in got[first_loss..].iter().zip(&want[first_loss..]) {
        let want_value: Value = serde_json::from_str(want).unwrap();
        let checked =
            want_value["status"] == "attested" || want_value["error"]["code"] == "replayed";
        if checked {
            let got: Value = serde_json::from_str(got).unwrap();
            assert_eq!(got["error"]["stage"], "replay", "{got}");
            assert_eq!(got["error"]["code"], "store_unavailable", "{got}");
            assert_eq!(got["line"], want_value["line"]);
        } else {
            assert_eq!(got, want);
        }
    }

    // The server comes back with its keys; --resume re-judges from the first unavailable
    // result and ends with the bytes of the uninterrupted run.
    redis.start();
    let done = run(&out, 0, true).output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), reference);
}
