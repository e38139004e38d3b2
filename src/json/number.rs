//! JSON numbers as read, and their selector form (SPEC §7).
//!
//! Every number RFC 8259's grammar allows is read. An integer (no fraction, no exponent) is kept
//! exactly, whatever its size: in 64 bits when it fits, else as its decimal text. Any other
//! number is the nearest IEEE 754 double (round half to even); one beyond the doubles'
//! range (about ±1.8e308) is refused where it is read, naming its member.

/// A JSON number as parsed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number<'i> {
    /// A negative integer, or `-0`.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// An integer beyond 64 bits, as its decimal text (the grammar makes it canonical: no
    /// leading zeros, no `+`, `-` only when negative).
    Big(&'i str),
    /// A number written with a fraction or an exponent: the nearest double, finite.
    Float(f64),
}

/// Doubles of integral value below this print as integers; above it zmij writes an exponent.
const INTEGRAL_AS_INTEGER_BELOW: f64 = 1e16;

impl Number<'_> {
    /// The value as f64 (integers beyond 2^53 round; integers beyond the doubles' range are
    /// infinite).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::UInt(v) => v as f64,
            Number::Big(text) => text.parse().unwrap_or(f64::NAN),
            Number::Float(v) => v,
        }
    }

    /// Appends the selector form: integers as their decimal text; other numbers in the shortest
    /// form that reads back as the same double, as serde_json writes it (zmij: plain decimals
    /// from 1e-5 up to 1e16, `1e-7`, `1e+300` outside), except that an integral double below
    /// 1e16 is written as that integer (`2.0` → `2`, `1e3` → `1000`) and negative zero as `0`.
    pub fn render(self, out: &mut String) {
        match self {
            Number::Int(v) => out.push_str(itoa::Buffer::new().format(v)),
            Number::UInt(v) => out.push_str(itoa::Buffer::new().format(v)),
            Number::Big(text) => out.push_str(text),
            // Float patterns compare with ==: this arm takes -0.0 too.
            Number::Float(0.0) => out.push('0'),
            Number::Float(v) if v.fract() == 0.0 && v.abs() < INTEGRAL_AS_INTEGER_BELOW => {
                // Exact: |v| < 1e16 < 2^63.
                out.push_str(itoa::Buffer::new().format(v as i64))
            }
            Number::Float(v) => out.push_str(zmij::Buffer::new().format_finite(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(n: Number<'_>) -> String {
        let mut s = String::new();
        n.render(&mut s);
        s
    }

    #[test]
    fn renders_numbers_as_the_readme_says() {
        assert_eq!(render(Number::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(render(Number::Int(-3)), "-3");
        assert_eq!(render(Number::Int(0)), "0");
        assert_eq!(
            render(Number::Big("-123456789012345678901234567890")),
            "-123456789012345678901234567890"
        );
        for (v, want) in [
            (1.5, "1.5"),
            (3.0, "3"),
            (2.0, "2"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (1e-7, "1e-7"),
            (0.00001, "0.00001"),
            (1e300, "1e+300"),
            (9_007_199_254_740_994.0, "9007199254740994"),
            (9_999_999_999_999_998.0, "9999999999999998"),
            (1e16, "1e+16"),
            (-2.5e-10, "-2.5e-10"),
            (1.234_567_890_123_456_8e29, "1.2345678901234568e+29"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(render(Number::Float(v)), want, "{v:e}");
        }
    }

    proptest::proptest! {
        /// Any finite double renders as the shortest decimal that reads back as it (no
        /// representation with fewer significant digits does), in one of the documented
        /// shapes. Checked with Rust's own float parsing and `{:e}` formatting, not zmij.
        #[test]
        fn floats_render_in_shortest_round_trip_form(bits in proptest::num::u64::ANY) {
            let v = f64::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            let text = render(Number::Float(v));
            let back: f64 = text.parse().unwrap();
            proptest::prop_assert!(back == v, "{v:e} -> {text}");
            let shape = regex::Regex::new(
                r"^(0|-?[1-9][0-9]{0,15}|-?(0|[1-9][0-9]*)\.[0-9]*[1-9]|-?[1-9](\.[0-9]*[1-9])?e[-+][1-9][0-9]*)$",
            ).unwrap();
            proptest::prop_assert!(shape.is_match(&text), "{v:e} -> {text}");
            let digits = text
                .trim_start_matches('-')
                .split('e')
                .next()
                .unwrap()
                .replace('.', "");
            let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
            if significant > 1 {
                let shorter: f64 = format!("{:.*e}", significant - 2, v).parse().unwrap();
                proptest::prop_assert!(shorter != v, "{v:e} -> {text}: fewer digits round-trip");
            }
        }
    }
}
