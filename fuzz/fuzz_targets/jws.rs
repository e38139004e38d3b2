//! Bare compact-JWS lines: structure, base64url, header, key selection, claims.
#![no_main]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Keep the line a bare token (not a JSON record).
    if data.first() != Some(&b'{') {
        common::judge(common::verifier("jwt"), data);
    }
});
