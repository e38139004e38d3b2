//! `fleet-attest load` against a real spire-server v1.13.3 (built by scripts/spire/build.sh,
//! started by scripts/spire/server.sh): 200 x509pop nodes and 50 join tokens attest, and the
//! server's own agent list must hold exactly their 250 agent IDs, each with the selectors that
//! `fleet-attest verify` computes offline for the same node; the load report's counts must be
//! the server's. Then a second pass (x509pop re-attestation keeps every agent ID, used join
//! tokens are refused), and a pass after the server's x509pop CA is rotated (exactly the nodes
//! whose leaves are not under the new CA fail).
//!
//! Skipped, with the reason printed, when spire-server is not built (`FLEET_ATTEST_SPIRE_BIN`,
//! else target/spire/bin); scripts/test.sh builds it when Go is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{bin, json_lines, output, verify_fleet};

fn spire_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("FLEET_ATTEST_SPIRE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spire/bin"));
    dir.join("spire-server").is_file().then_some(dir)
}

/// A spire-server of scripts/spire/server.sh, stopped when dropped.
struct Server {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Server {
    fn script(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/spire/server.sh");
        let out = Command::new(script)
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .env("SPIRE_BIN", &self.bin)
            .output()
            .expect("run scripts/spire/server.sh");
        assert!(
            out.status.success(),
            "server.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Writes the config trusting `cas` and starts the server; returns its bundle file.
    fn start(&self, cas: &[PathBuf]) -> PathBuf {
        let cas: Vec<&str> = cas.iter().map(|p| p.to_str().unwrap()).collect();
        let port = self.port.to_string();
        self.script(&["config", "--port", &port, "--x509pop-ca", &cas.join(",")]);
        self.script(&["start"]);
        let bundle = self.dir.join("bundle.pem");
        std::fs::write(&bundle, self.script(&["bundle"]).stdout).unwrap();
        bundle
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("api.sock")
    }

    /// `spire-server agent list -output json`: agent ID -> (attestation type, selectors
    /// sorted, can_reattest).
    fn agents(&self) -> BTreeMap<String, (String, Vec<String>, bool)> {
        let out = Command::new(self.bin.join("spire-server"))
            .args(["agent", "list", "-output", "json", "-socketPath"])
            .arg(self.socket())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut agents = BTreeMap::new();
        for agent in list["agents"].as_array().unwrap() {
            let id = format!(
                "spiffe://{}{}",
                agent["id"]["trust_domain"].as_str().unwrap(),
                agent["id"]["path"].as_str().unwrap()
            );
            let mut selectors: Vec<String> = agent["selectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}",
                        s["type"].as_str().unwrap(),
                        s["value"].as_str().unwrap()
                    )
                })
                .collect();
            selectors.sort();
            let kind = agent["attestation_type"].as_str().unwrap().to_owned();
            let reattest = agent["can_reattest"].as_bool().unwrap();
            assert!(
                agents
                    .insert(id.clone(), (kind, selectors, reattest))
                    .is_none(),
                "{id} twice"
            );
        }
        agents
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/spire/server.sh");
        let _ = Command::new(script)
            .args(["stop", "--dir"])
            .arg(&self.dir)
            .env("SPIRE_BIN", &self.bin)
            .output();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `load` against the server; returns its summary and its output lines.
fn load(
    server: &Server,
    fleet: &Path,
    bundle: &Path,
    name: &str,
    extra: &[&str],
) -> (Value, Vec<Value>) {
    let summary = server.dir.join(format!("{name}.summary.json"));
    let lines = server.dir.join(format!("{name}.jsonl"));
    let mut cmd = bin();
    cmd.args(["load", "--server", &format!("127.0.0.1:{}", server.port)])
        .arg("--bundle")
        .arg(bundle)
        .arg("--fleet")
        .arg(fleet)
        .args(["--concurrency", "8", "--no-progress", "--summary"])
        .arg(&summary)
        .arg("--output")
        .arg(&lines)
        .args(extra);
    let out = output(cmd);
    assert!(
        out.status.success(),
        "load {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    (summary, json_lines(&std::fs::read(&lines).unwrap()))
}

#[test]
fn load_attests_a_fleet_that_the_server_lists_as_verify_computes_it() {
    let Some(spire) = spire_bin() else {
        eprintln!(
            "skipped: spire-server is not built (run scripts/spire/build.sh, or set FLEET_ATTEST_SPIRE_BIN)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet");
    let out = output({
        let mut cmd = bin();
        cmd.args(["gen", "--live", "--nodes", "200", "--join-tokens", "50"])
            .args(["--next-ca-fraction", "0.25", "--seed", "7", "--out"])
            .arg(&fleet);
        cmd
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // What fleet-attest computes offline, from transcripts of the same leaves.
    let out = output(verify_fleet(&fleet, &[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut offline: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for result in json_lines(&out.stdout) {
        assert_eq!(result["status"], "attested", "{result}");
        let selectors: Vec<String> = result["selectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        offline.insert(
            result["id"].as_str().unwrap().to_owned(),
            (result["agent_id"].as_str().unwrap().to_owned(), selectors),
        );
    }
    assert_eq!(offline.len(), 250);
    let nodes = json_lines(&std::fs::read(fleet.join("nodes.jsonl")).unwrap());
    let kind_of: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(kind_of.values().filter(|k| *k == "x509pop").count(), 200);

    let server = Server {
        dir: tmp.path().join("server"),
        bin: spire,
        port: free_port(),
    };
    let ca = fleet.join("ca");
    let bundle = server.start(&[ca.join("root.pem"), ca.join("next-root.pem")]);
    let socket = server.socket();
    let socket = socket.to_str().unwrap();

    // Pass 1: every node once; join tokens registered first through CreateJoinToken.
    let (summary, first) = load(
        &server,
        &fleet,
        &bundle,
        "first",
        &["--register-tokens", "--admin-socket", socket],
    );
    let agents = server.agents();
    let offline_ids: BTreeSet<&String> = offline.values().map(|(id, _)| id).collect();
    let server_ids: BTreeSet<&String> = agents.keys().collect();
    assert_eq!(
        server_ids, offline_ids,
        "the server's agents are the fleet's"
    );
    for (node, (agent_id, selectors)) in &offline {
        let (kind, server_selectors, reattest) = &agents[agent_id];
        assert_eq!(kind, &kind_of[node], "{node}");
        assert_eq!(server_selectors, selectors, "{node}: selectors");
        assert_eq!(*reattest, kind == "x509pop", "{node}: can_reattest");
    }
    for attestor in ["x509pop", "join_token"] {
        let on_server = agents.values().filter(|(k, _, _)| k == attestor).count();
        let stats = &summary["by_attestor"][attestor];
        assert_eq!(stats["attempts"], on_server, "{attestor}: {summary}");
        assert_eq!(stats["successes"], on_server, "{attestor}: {summary}");
        assert_eq!(stats["failures"], 0, "{attestor}: {summary}");
    }
    assert_eq!(summary["by_attestor"]["x509pop"]["reattestable"], 200);
    assert_eq!(summary["by_attestor"]["join_token"]["reattestable"], 0);
    assert_eq!(first.len(), 250);
    for line in &first {
        let node = line["node"].as_str().unwrap();
        assert_eq!(line["outcome"], "attested", "{line}");
        assert_eq!(
            line["agent_id"].as_str(),
            Some(offline[node].0.as_str()),
            "{line}"
        );
    }
    let first_path = server.dir.join("first.jsonl");
    let first_path = first_path.to_str().unwrap();

    // Pass 2: x509pop nodes re-attest and keep their IDs; used join tokens are refused.
    let (summary, _) = load(
        &server,
        &fleet,
        &bundle,
        "again",
        &["--attestor", "x509pop", "--previous", first_path],
    );
    let x509pop = &summary["by_attestor"]["x509pop"];
    assert_eq!(x509pop["successes"], 200, "{summary}");
    assert_eq!(x509pop["against_previous"]["kept"], 200, "{summary}");
    let (summary, _) = load(
        &server,
        &fleet,
        &bundle,
        "tokens-again",
        &["--attestor", "join_token"],
    );
    let tokens = &summary["by_attestor"]["join_token"];
    assert_eq!(tokens["failures"], 50, "{summary}");
    assert_eq!(
        tokens["failures_by_kind"],
        serde_json::json!([{"code": "InvalidArgument", "count": 50,
            "message": "failed to attest: join token does not exist or has already been used"}])
    );
    assert_eq!(server.agents().len(), 250);

    // Pass 3: the server now trusts the next CA only; the nodes still on the current CA fail.
    server.script(&["stop"]);
    let bundle = server.start(&[ca.join("next-root.pem")]);
    let (summary, rotated) = load(
        &server,
        &fleet,
        &bundle,
        "rotated",
        &["--attestor", "x509pop", "--previous", first_path],
    );
    let on_next: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n["ca"] == "next")
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        (30..=70).contains(&on_next.len()),
        "{} under the next CA",
        on_next.len()
    );
    assert_eq!(rotated.len(), 200);
    for line in &rotated {
        let node = line["node"].as_str().unwrap();
        if on_next.contains(node) {
            assert_eq!(line["outcome"], "attested", "{line}");
            assert_eq!(line["previous"], "kept", "{line}");
        } else {
            assert_eq!(line["outcome"], "failed", "{line}");
            assert_eq!(line["code"], "PermissionDenied", "{line}");
            assert_eq!(line["previous"], "lost", "{line}");
            assert_eq!(
                line["message"],
                "nodeattestor(x509pop): certificate verification failed: x509: certificate \
                 signed by unknown authority",
                "{line}"
            );
        }
    }
    let x509pop = &summary["by_attestor"]["x509pop"];
    assert_eq!(x509pop["successes"], on_next.len(), "{summary}");
    assert_eq!(
        x509pop["against_previous"]["lost"],
        200 - on_next.len(),
        "{summary}"
    );
}
