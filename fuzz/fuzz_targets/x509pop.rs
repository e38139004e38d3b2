//! x509pop records (payload, challenge, response) through the x509pop fixture config.
#![no_main]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::judge(common::verifier("x509pop"), data);
});
