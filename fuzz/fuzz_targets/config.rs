//! Config loading (TOML, templates, regexes, aliases): never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/jwt");
        let _ = fleet_attest::config::from_str(text, &base);
    }
});
