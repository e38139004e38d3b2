//! Certificates (DER), URIs and PEM through the Go-compatible parsers, and a parsed
//! certificate through chain verification against itself as the trust anchor.
#![no_main]
use fleet_attest::x509::{self, verify};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = x509::url::parse(data);
    let _ = x509::pem::blocks(data);
    if let Ok(cert) = x509::parse(data) {
        let _ = cert.uris.iter().map(|u| u.to_bytes()).count();
        let roots = verify::OwnedPool::new(vec![cert.clone()]);
        let intermediates = verify::Pool::default();
        let _ = verify::verify(
            &cert,
            &verify::Options {
                roots: &&roots,
                intermediates: &intermediates,
                now: 1_800_000_000,
                signatures: &verify::Direct,
            },
        );
    }
});
