// Shared by the fuzz targets: a verifier over the committed fixtures (JWT, join tokens, x509pop).
use std::path::Path;
use std::sync::OnceLock;

use fleet_attest::verifier::{Scratch, Verifier};

pub fn verifier(fixture: &str) -> &'static Verifier {
    static JWT: OnceLock<Verifier> = OnceLock::new();
    static X509: OnceLock<Verifier> = OnceLock::new();
    let cell = if fixture == "jwt" { &JWT } else { &X509 };
    cell.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data")
            .join(fixture)
            .join("fleet.toml");
        fleet_attest::config::load(&path).expect("fixture config")
    })
}

/// Judges one line and checks the result line is one JSON object with a status.
pub fn judge(verifier: &Verifier, line: &[u8]) {
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    if line.is_empty() || line.contains(&b'\n') {
        return;
    }
    verifier.judge(1, line, 1_795_946_400, &mut scratch, &mut out);
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
}
