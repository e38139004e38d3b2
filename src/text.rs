//! Words for people: untrusted text quoted in messages (clipped) and made safe to print on a
//! terminal, counts with their noun in the right number.

/// Longest piece of untrusted input quoted back in a message, in characters.
const MAX_QUOTED_CHARS: usize = 80;

/// Returns `s` shortened to `MAX_QUOTED_CHARS` (80) characters, with `…` when cut.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// `1 record`, `2 records`, `1,000 records`: `n` (with thousands separators) and `noun`,
/// with an `s` unless `n` is 1.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", thousands(n))
    }
}

/// `n` with thousands separators: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `s` clipped to 80 characters, with control characters (escape sequences that would drive
/// the terminal, newlines that would break a table) written as Rust escapes.
pub fn printable(s: &str) -> String {
    let clipped = clip(s);
    if !clipped.chars().any(char::is_control) {
        return clipped;
    }
    clipped
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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

    #[test]
    fn counts_thousands_and_printable_text() {
        assert_eq!(count(1, "record"), "1 record");
        assert_eq!(count(0, "record"), "0 records");
        assert_eq!(count(2, "thread"), "2 threads");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(printable("node-1"), "node-1");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }
}
