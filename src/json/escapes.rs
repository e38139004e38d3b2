//! Unpaired UTF-16 surrogate escapes (`"\ud800"`, `"x\udc00"`, `"\ud800\ue000"`).
//!
//! RFC 8259 §8.2 leaves strings holding them unpredictable, and simd-json decodes them
//! inconsistently: a lone high surrogate as U+0000 (so `"\ud800"`, `"\udbff"` and `"\u0000"`
//! read as one string), a high one before another non-low escape as an unrelated character
//! (`"\ud800\ue000"` as U+10400, the string `"\ud801\udc00"`), a lone low one as an error. They
//! are found here, in the raw text, before simd-json reads it, and refused whatever the case,
//! as serde_json and Go's go-jose refuse them.

/// The `\u` escape at `at` (the backslash), if its four hex digits are there.
fn escape_at(json: &[u8], at: usize) -> Option<u32> {
    let hex = json.get(at + 2..at + 6)?;
    let text = std::str::from_utf8(hex).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

const HIGH: std::ops::RangeInclusive<u32> = 0xd800..=0xdbff;
const LOW: std::ops::RangeInclusive<u32> = 0xdc00..=0xdfff;

/// Calls `found` with the offset of the backslash of each `\u` escape of an unpaired surrogate
/// in the strings of `json`. Backslashes occur only inside strings in JSON (anywhere else the
/// parse fails), and each escape is stepped over whole, so `"\\ud800"` (an escaped backslash,
/// then text) is not one.
pub fn unpaired_surrogates(json: &[u8], mut found: impl FnMut(usize)) {
    let mut from = 0;
    while let Some(at) = json
        .get(from..)
        .and_then(|rest| memchr::memchr(b'\\', rest))
    {
        let at = from + at;
        from = at + 2;
        if json.get(at + 1) != Some(&b'u') {
            continue;
        }
        let Some(unit) = escape_at(json, at) else {
            continue; // not four hex digits: the parser says so
        };
        from = at + 6;
        if HIGH.contains(&unit) {
            let paired = json.get(at + 6..at + 8) == Some(b"\\u")
                && escape_at(json, at + 6).is_some_and(|next| LOW.contains(&next));
            if paired {
                from = at + 12;
                continue;
            }
            found(at);
        } else if LOW.contains(&unit) {
            found(at);
        }
    }
}

/// Rewrites the escape at `at` (from [`unpaired_surrogates`]) as `\u0000`, the same length, so
/// that the text parses and the member holding it can be named.
pub fn neutralize(json: &mut [u8], at: usize) {
    if let Some(hex) = json.get_mut(at + 2..at + 6) {
        hex.copy_from_slice(b"0000");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpaired(text: &str) -> Vec<usize> {
        let mut found = Vec::new();
        unpaired_surrogates(text.as_bytes(), |at| found.push(at));
        found
    }

    #[test]
    fn finds_every_unpaired_surrogate_and_no_other_escape() {
        assert_eq!(unpaired(r#"["\ud800"]"#), [2]);
        assert_eq!(unpaired(r#"["\udbff"]"#), [2]);
        assert_eq!(unpaired(r#"["x\udc00"]"#), [3]);
        assert_eq!(unpaired(r#"["\ud800\ue000"]"#), [2]);
        assert_eq!(unpaired(r#"["\ud800\ud800\udc00"]"#), [2]);
        assert_eq!(unpaired(r#"["\udc00\ud800"]"#), [2, 8]);
        assert_eq!(
            unpaired(r#"["\uD83D\uDE00", "\u00e9", "\\ud800", "\\\ud800"]"#),
            [41]
        );
        assert!(unpaired(r#"["\u12", "\uZZZZ", "\"", "\\"]"#).is_empty());
        assert!(unpaired(r#"{"a":"\ud83d\ude00"}"#).is_empty());
    }
}
