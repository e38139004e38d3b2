//! Lowercase hex, the form SPIRE prints fingerprints, serial numbers and hashes in.

use std::fmt::Write as _;

/// `bytes` as lowercase hex, two digits a byte.
pub fn lower(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lowercase_digits_a_byte() {
        assert_eq!(super::lower(&[0x00, 0x0a, 0xff]), "000aff");
        assert_eq!(super::lower(&[]), "");
    }
}
