//! Tokens built to attack the JWT attestor, as an attacker would: `alg: none` in every
//! spelling, non-canonical parts, and tokens signed by independent libraries (the fixtures of
//! `tests/data/jwt`, joserfc) taken apart and put together again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::Value;

use crate::support::{data, judge, rejection};

const NOW: i64 = 1_795_946_400;

/// The fixture's verifier and its record with `id`'s token.
fn fixture(id: &str) -> (fleet_attest::verifier::Verifier, String) {
    let verifier = fleet_attest::config::load(&data("jwt/fleet.toml")).unwrap();
    let evidence = std::fs::read_to_string(data("jwt/evidence.jsonl")).unwrap();
    let token = evidence
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| record["id"] == id)
        .and_then(|record| record["token"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no fixture record {id}"));
    (verifier, token)
}

fn code_of(verifier: &fleet_attest::verifier::Verifier, token: &str) -> (String, String) {
    let result = judge(verifier, token, NOW);
    rejection(&result).unwrap_or_else(|| ("attested".into(), "attested".into()))
}

/// `alg: none` is `decode/unsupported_alg` in every case and whatever follows it: an empty
/// signature part (how such tokens are written), a non-empty one, a `kid` of a configured key.
#[test]
fn alg_none_in_every_case_is_unsupported() {
    let (verifier, token) = fixture("es256-ok");
    let payload = token.split('.').nth(1).unwrap();
    for alg in ["none", "None", "NONE", "nOnE", "none "] {
        for kid in [None, Some("es-1")] {
            let mut header = serde_json::json!({ "alg": alg });
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            let header = B64.encode(header.to_string());
            for signature in ["", "AA", "c2lnbmF0dXJl"] {
                let forged = format!("{header}.{payload}.{signature}");
                assert_eq!(
                    code_of(&verifier, &forged),
                    ("decode".into(), "unsupported_alg".into()),
                    "alg {alg:?} kid {kid:?} signature {signature:?}"
                );
            }
        }
    }
    // A real algorithm with an empty signature is a malformed token.
    let (header, _) = token.split_once('.').unwrap();
    let unsigned = format!("{header}.{payload}.");
    let (stage, code) = code_of(&verifier, &unsigned);
    assert_eq!(
        (stage.as_str(), code.as_str()),
        ("decode", "malformed_token")
    );
}

/// `=` padding, whitespace or a character outside the alphabet in any part is
/// `decode/malformed_token`, checked before the signature: the payload's too, with a `kid` (the
/// payload is then decoded only after the signature) and without one (decoded for `iss`).
#[test]
fn every_part_must_be_canonical_base64url_before_the_signature() {
    for id in ["es256-ok", "nokid-ok", "hs256-ok"] {
        let (verifier, token) = fixture(id);
        assert_eq!(code_of(&verifier, &token).0, "attested", "{id}");
        let parts: Vec<&str> = token.split('.').collect();
        for part in 0..3 {
            for damage in ["=", "==", " ", "\t", "+", "/", "%3D"] {
                let mut forged: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
                forged[part].push_str(damage);
                let forged = forged.join(".");
                let (stage, code) = code_of(&verifier, &forged);
                assert_eq!(
                    (stage.as_str(), code.as_str()),
                    ("decode", "malformed_token"),
                    "{id}: part {part} with {damage:?}"
                );
            }
        }
    }
}

/// The attack fixture (`tests/data/jwt-attacks`, scripts/make-jwt-attack-fixtures.py: signed
/// with joserfc and `cryptography`, its expected results computed there in Python): every
/// record gets the result the script expects, at one and two threads — forged claim names,
/// the number corpus, surrogate escapes, duplicate names through escapes, `none`, `crit`,
/// `b64`, embedded and remote keys, `kid` tricks, algorithm confusion between every key type,
/// templates not evaluated from claim values, high-S ECDSA.
#[test]
fn the_attack_fixture_gives_the_results_computed_independently() {
    let dir = data("jwt-attacks");
    let expected = crate::support::json_lines(&std::fs::read(dir.join("expected.jsonl")).unwrap());
    for threads in ["1", "2"] {
        let out = crate::support::output(crate::support::verify_fleet(
            &dir,
            &["--now", "1795946400", "--threads", threads, "--no-progress"],
        ));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let results = crate::support::json_lines(&out.stdout);
        assert_eq!(results.len(), expected.len());
        for (got, want) in results.iter().zip(&expected) {
            let id = want["id"].as_str().unwrap();
            assert_eq!(got["id"], id);
            assert_eq!(got["status"], want["status"], "{id}: {got}");
            if want["status"] == "attested" {
                for field in ["agent_id", "selectors", "aliases"] {
                    assert_eq!(got[field], want[field], "{id}: {field}");
                }
            } else {
                assert_eq!(got["error"]["stage"], want["stage"], "{id}: {got}");
                assert_eq!(got["error"]["code"], want["code"], "{id}: {got}");
            }
        }
    }
}

/// The refusals of the attack fixture name what they refuse.
#[test]
fn attack_refusals_name_the_member() {
    let dir = data("jwt-attacks");
    let out = crate::support::output(crate::support::verify_fleet(
        &dir,
        &["--now", "1795946400", "--no-progress"],
    ));
    let results = crate::support::json_lines(&out.stdout);
    let message = |id: &str| {
        let result = results.iter().find(|r| r["id"] == id).unwrap();
        result["error"]["message"].as_str().unwrap().to_owned()
    };
    for (id, needle) in [
        (
            "claim-name-with-colon",
            r#"claim "team:a" holds ':' in its name"#,
        ),
        ("flat-claim-name-with-dot", r#"claim "k8s.ns" holds '.'"#),
        ("member-name-with-dot", r#"claim "k8s" has a member "ns.x""#),
        ("claim-name-colon-escaped", r#"claim "team:a""#),
        (
            "jti-lone-high",
            r#"member "jti" holds the unpaired UTF-16 surrogate escape "\\ud800""#,
        ),
        ("jti-lone-low", r#"member "jti" holds"#),
        ("jti-high-then-not-low", r#"member "jti" holds"#),
        (
            "header-lone-surrogate",
            r#"the header's member "kid" holds"#,
        ),
        ("exp-beyond-dates", "exp 1e+300 is beyond the dates"),
        (
            "exp-exponent-past-2-32",
            r#"member "exp" is the number 1e4294967297, beyond the range"#,
        ),
        (
            "nbf-exponent-past-2-32",
            r#"member "nbf" is the number 0.1e4294967296"#,
        ),
        (
            "exp-big-integer",
            "exp 123456789012345678901234567890 is beyond the dates",
        ),
        ("iat-year-10000", "iat 253402300800 is beyond the dates"),
        ("number-beyond-doubles", r#"member "x" is the number 1e400"#),
        ("template-in-sub", "{{.IssuerName}}"),
    ] {
        let got = message(id);
        assert!(got.contains(needle), "{id}: {got}");
    }
}
