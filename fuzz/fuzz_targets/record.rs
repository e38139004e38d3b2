//! Any input line, through the record parser and the whole verifier (JWT fixture config).
#![no_main]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::judge(common::verifier("jwt"), data);
});
