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
