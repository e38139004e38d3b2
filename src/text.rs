//! Quoting untrusted text in messages.

/// Longest piece of untrusted input quoted back in a message, in characters.
const MAX_QUOTED_CHARS: usize = 80;

/// Returns `s` shortened to `MAX_QUOTED_CHARS` (80) characters, with `…` when cut.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_and_cuts_long_on_char_boundaries() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }
}
