//! Bytewise `<` for short strings, decided inline where it can be: the order checks on member
//! names (the duplicate search) and on selectors run for every record, and a `memcmp` call
//! costs more than comparing such short strings.

/// `a < b` bytewise, as `[u8]` and `str` order. Strings that differ early — member names,
/// selectors sharing their type prefix (`jwt:`) — are decided by their first eight bytes read
/// as one big-endian number, or by their first bytes when either is shorter; the rest go to
/// the slice comparison.
pub fn less(a: &[u8], b: &[u8]) -> bool {
    if let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        if x != y {
            return u64::from_be_bytes(*x) < u64::from_be_bytes(*y);
        }
    } else if let (Some(x), Some(y)) = (a.first(), b.first()) {
        if x != y {
            return x < y;
        }
    }
    a < b
}

#[cfg(test)]
mod tests {
    use super::less;
    use proptest::prelude::*;

    /// Bytes that make ties and edge cases likely: zero, one and 255 besides any byte.
    fn edge_bytes(with_any: bool) -> impl Strategy<Value = Vec<u8>> {
        let edge = prop_oneof![Just(0u8), Just(1u8), Just(255u8)];
        let byte = if with_any {
            prop_oneof![edge, any::<u8>()].boxed()
        } else {
            edge.boxed()
        };
        prop::collection::vec(byte, 0..12)
    }

    proptest! {
        /// Strings: short names over a small alphabet, so that first bytes often tie, and any
        /// strings; `b` is sometimes `a` itself.
        #[test]
        fn orders_strings_as_str_does(
            a in prop_oneof!["[ab\u{e9}]{0,3}", ".*"],
            other in prop_oneof!["[ab\u{e9}]{0,3}", ".*"],
            same in any::<bool>(),
        ) {
            let b = if same { a.clone() } else { other };
            prop_assert_eq!(less(a.as_bytes(), b.as_bytes()), a < b, "{:?} {:?}", a, b);
            prop_assert_eq!(less(b.as_bytes(), a.as_bytes()), b < a, "{:?} {:?}", b, a);
        }

        /// Bytes: `b` shares a prefix of `a` of any length (or is `a`), then goes its own way,
        /// so heads of eight bytes both tie and differ.
        #[test]
        fn orders_bytes_as_slices_do(
            a in edge_bytes(true),
            other in edge_bytes(false),
            shared in 0usize..12,
            same in any::<bool>(),
        ) {
            let mut b: Vec<u8> = a.iter().copied().take(shared).collect();
            if same {
                b = a.clone();
            } else {
                b.extend(other);
            }
            prop_assert_eq!(less(&a, &b), a < b);
            prop_assert_eq!(less(&b, &a), b < a);
        }
    }
}
