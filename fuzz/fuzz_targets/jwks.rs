//! JWK Set loading: never panics, whatever the text.
#![no_main]
use fleet_attest::keys::{load_jwks, Alg, JwksPolicy};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = load_jwks(text, &JwksPolicy { algorithms: &Alg::ALL });
    }
});
