//! Property: any bytes, cut into lines, give exactly one result per non-empty line, in order,
//! each a JSON object with a stage and code when rejected; nothing panics.

use std::io::Write;

use fleet_attest::input::Input;
use fleet_attest::pipeline::{self, RunOptions};
use fleet_attest::replay::{ReplayStore, SingleUse};
use fleet_attest::shard::Shard;
use proptest::prelude::*;

use crate::support::{data, json_lines};

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "[ -~]{0,120}".prop_map(String::into_bytes),
        // JSON-ish records and token-ish lines, to get past the first checks.
        ("[a-z_]{0,8}", "[A-Za-z0-9_.\\-]{0,80}").prop_map(|(kind, token)| {
            format!(r#"{{"id":"p","type":"{kind}","token":"{token}"}}"#).into_bytes()
        }),
        "eyJ[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn one_result_per_nonempty_line(lines in proptest::collection::vec(line_strategy(), 1..40),
                                    threads in 1usize..3) {
        let verifier = fleet_attest::config::load(&data("jwt/fleet.toml")).unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut expected = Vec::new();
        let mut line_no = 0u64;
        for line in &lines {
            // Each generated line may hold '\n' itself: count lines as the reader will.
            for piece in line.split(|&b| b == b'\n') {
                line_no += 1;
                let body = piece.strip_suffix(b"\r").unwrap_or(piece);
                if !body.is_empty() {
                    expected.push(line_no);
                }
            }
            file.write_all(line).unwrap();
            file.write_all(b"\n").unwrap();
        }
        file.flush().unwrap();
        let input = Input::open(file.path()).unwrap();
        let mut out = Vec::new();
        let options = RunOptions { threads, now: 1_795_946_400, skip_records: 0, progress: false, shard: Shard::ALL, ..RunOptions::default() };
        let stats = pipeline::run(&verifier, &input, &mut out, &mut SingleUse::Memory(ReplayStore::new()), &options).unwrap();
        let results = json_lines(&out);
        prop_assert_eq!(results.len(), expected.len());
        prop_assert_eq!(stats.records as usize, expected.len());
        for (result, line) in results.iter().zip(&expected) {
            prop_assert_eq!(result["line"].as_u64(), Some(*line));
            let status = result["status"].as_str().unwrap();
            if status == "rejected" {
                prop_assert!(result["error"]["stage"].is_string());
                prop_assert!(result["error"]["code"].is_string());
                prop_assert!(result["error"]["message"].is_string());
            } else {
                prop_assert_eq!(status, "attested");
            }
        }
    }
}
