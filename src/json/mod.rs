//! Borrowed JSON views over a simd-json tape, for JWS headers and JWT claims.
//!
//! simd-json parses a buffer in place into a flat tape of nodes; [`Json`] walks that tape without
//! building a tree. simd-json keeps the last of duplicate members silently, so
//! [`first_duplicate_key`] scans every object on the tape once to refuse them (SPEC §5).
//!
//! What simd-json does not read exactly is read again from the text ([`exact`]): integers beyond
//! 64 bits (an error in simd-json), numbers with a fraction or an exponent (simd-json misreads
//! exponents beyond 2^31, `1e4294967297` as 10: a tape holding any is read again, the doubles
//! by Rust's own parser), and unpaired surrogate escapes ([`escapes`], refused). Documents
//! with none of these, almost every token, take simd-json's tape as it is.

mod escapes;
mod exact;
mod number;

pub use number::Number;

use std::fmt;

use simd_json::{Node, StaticNode};

/// Deepest object/array nesting accepted in claims; a bound for the recursive walks.
pub const MAX_DEPTH: usize = 32;

/// Why a document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON: simd-json's message.
    Syntax(String),
    /// A string with an unpaired UTF-16 surrogate escape; `member` names where (clipped).
    UnpairedSurrogate {
        /// The member whose name or value holds it.
        member: String,
        /// The escape, as written.
        escape: String,
    },
    /// A number with a fraction or exponent beyond the doubles' range (about ±1.8e308).
    NumberOutOfRange {
        /// The member holding it (clipped).
        member: String,
        /// The number, as written (clipped).
        number: String,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax(message) => write!(f, "not JSON: {message}"),
            JsonError::UnpairedSurrogate { member, escape } => write!(
                f,
                "member {member:?} holds the unpaired UTF-16 surrogate escape {escape:?}, \
                 which is no character"
            ),
            JsonError::NumberOutOfRange { member, number } => write!(
                f,
                "member {member:?} is the number {number}, beyond the range of a 64-bit float \
                 (about ±1.8e308)"
            ),
        }
    }
}

impl JsonError {
    /// The error as said of a document: `the header is not JSON: …`, `the payload's member …`.
    pub fn describe(&self, document: &str) -> String {
        match self {
            JsonError::Syntax(_) => format!("the {document} is {self}"),
            _ => format!("the {document}'s {self}"),
        }
    }
}

/// Reusable parse buffers (one set per worker thread), and a spare tape so that a parse does
/// not allocate.
#[derive(Default)]
pub struct JsonBuffers {
    buffers: simd_json::Buffers,
    spare: Option<simd_json::Tape<'static>>,
    /// The document as written, for reading it exactly.
    pristine: Vec<u8>,
    /// A copy of it parsed for its structure only.
    probe: Vec<u8>,
}

impl JsonBuffers {
    /// Parses the document `fill` writes (into the buffer it is given, empty) into a tape; give
    /// the tape back with [`recycle`] (dropping it instead costs the next parse an allocation).
    ///
    /// `fill` writes into `first`, which simd-json parses in place; when the document needs the
    /// exact reading (see the module doc), `fill` is called again and the tape returned is read
    /// from `second`. Both must be able to hold the same document each time.
    ///
    /// [`recycle`]: JsonBuffers::recycle
    pub fn parse<'i>(
        &mut self,
        fill: impl Fn(&mut Vec<u8>),
        first: &'i mut Vec<u8>,
        second: &'i mut Vec<u8>,
    ) -> Result<simd_json::Tape<'i>, JsonError> {
        first.clear();
        fill(first);
        // Backslashes appear only in strings with escapes: most documents have none.
        let escaped = memchr::memchr(b'\\', first).is_some();
        if !(escaped && has_unpaired_surrogate(first)) {
            let mut tape = self.take_tape();
            match simd_json::fill_tape(first, &mut self.buffers, &mut tape) {
                Ok(()) if !has_float(&tape) => return Ok(tape),
                Ok(()) => {}
                Err(err) if *err.error() != simd_json::ErrorType::InvalidNumber => {
                    self.recycle(tape);
                    return Err(JsonError::Syntax(err.to_string()));
                }
                Err(_) => {}
            }
            self.recycle(tape);
        }
        exact::read(self, fill, second)
    }

    /// Parses `text` (a convenience for documents read once, such as key sets).
    pub fn parse_text<'i>(
        &mut self,
        text: &[u8],
        first: &'i mut Vec<u8>,
        second: &'i mut Vec<u8>,
    ) -> Result<simd_json::Tape<'i>, JsonError> {
        self.parse(|buf| buf.extend_from_slice(text), first, second)
    }

    fn take_tape<'i>(&mut self) -> simd_json::Tape<'i> {
        match self.spare.take() {
            Some(tape) => tape.reset(),
            None => simd_json::Tape(Vec::new()),
        }
    }

    /// Keeps a tape's storage for the next parse.
    pub fn recycle(&mut self, tape: simd_json::Tape<'_>) {
        self.spare = Some(tape.reset());
    }
}

fn has_unpaired_surrogate(json: &[u8]) -> bool {
    let mut found = false;
    escapes::unpaired_surrogates(json, |_| found = true);
    found
}

/// True when simd-json read a number with a fraction or an exponent.
#[inline]
fn has_float(tape: &simd_json::Tape<'_>) -> bool {
    tape.0
        .iter()
        .any(|node| matches!(node, Node::Static(StaticNode::F64(_))))
}

/// A JSON value on a tape.
///
/// `nodes` runs from the value to the end of the tape, not to the end of the value: the texts
/// of integers beyond 64 bits are kept at the end of the tape (see [`exact`]), and every value
/// can reach them. A value's own nodes are the first [`span`] of them.
#[derive(Clone, Copy)]
pub struct Json<'t, 'i> {
    nodes: &'t [Node<'i>],
}

/// The kind of a JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// The number of tape nodes a value occupies, itself included.
fn span(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

impl<'t, 'i> Json<'t, 'i> {
    /// The root value of a tape.
    pub fn root(tape: &'t simd_json::Tape<'i>) -> Json<'t, 'i> {
        Json { nodes: &tape.0 }
    }

    fn head(&self) -> Option<&'t Node<'i>> {
        self.nodes.first()
    }

    /// The value's kind.
    pub fn kind(&self) -> Kind {
        match self.head() {
            Some(Node::String(_)) => Kind::String,
            Some(Node::Object { .. }) => Kind::Object,
            Some(Node::Array { .. }) => Kind::Array,
            Some(Node::Static(StaticNode::Bool(_))) => Kind::Bool,
            Some(Node::Static(StaticNode::Null)) | None => Kind::Null,
            Some(Node::Static(_)) => Kind::Number,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&'i str> {
        match self.head() {
            Some(Node::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<Number<'i>> {
        match self.head() {
            Some(Node::Static(StaticNode::I64(v))) => Some(if *v < 0 {
                Number::Int(*v)
            } else {
                Number::UInt(*v as u64)
            }),
            Some(Node::Static(StaticNode::U64(v))) => Some(Number::UInt(*v)),
            Some(Node::Static(StaticNode::F64(v))) if v.is_nan() => {
                let at = self.nodes.len().checked_sub(1 + exact::big_index(*v))?;
                match self.nodes.get(at) {
                    Some(Node::String(text)) => Some(Number::Big(text)),
                    _ => None,
                }
            }
            Some(Node::Static(StaticNode::F64(v))) => Some(Number::Float(*v)),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.head() {
            Some(Node::Static(StaticNode::Bool(b))) => Some(*b),
            _ => None,
        }
    }

    /// The members of an object, in document order (empty for non-objects).
    pub fn members(&self) -> Members<'t, 'i> {
        match self.head() {
            Some(Node::Object { len, .. }) => Members {
                rest: self.nodes.get(1..).unwrap_or(&[]),
                left: *len,
            },
            _ => Members { rest: &[], left: 0 },
        }
    }

    /// The elements of an array (empty for non-arrays).
    pub fn elements(&self) -> Elements<'t, 'i> {
        match self.head() {
            Some(Node::Array { len, .. }) => Elements {
                rest: self.nodes.get(1..).unwrap_or(&[]),
                left: *len,
            },
            _ => Elements { rest: &[], left: 0 },
        }
    }

    /// The member named `key` of an object.
    pub fn get(&self, key: &str) -> Option<Json<'t, 'i>> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Appends a scalar in selector form (strings as they are); `false` for non-scalars and null.
    pub fn render_scalar(&self, out: &mut String) -> bool {
        match self.head() {
            Some(Node::String(s)) => out.push_str(s),
            Some(Node::Static(StaticNode::Bool(b))) => {
                out.push_str(if *b { "true" } else { "false" })
            }
            _ => match self.as_number() {
                Some(n) => n.render(out),
                None => return false,
            },
        }
        true
    }
}

/// Iterator over an object's members.
#[derive(Clone)]
pub struct Members<'t, 'i> {
    rest: &'t [Node<'i>],
    left: usize,
}

impl<'t, 'i> Iterator for Members<'t, 'i> {
    type Item = (&'i str, Json<'t, 'i>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let Some((Node::String(key), after)) = self.rest.split_first() else {
            self.left = 0;
            return None;
        };
        let len = span(after.first()?).min(after.len());
        self.rest = after.get(len..).unwrap_or_default();
        Some((key, Json { nodes: after }))
    }
}

/// Iterator over an array's elements.
#[derive(Clone)]
pub struct Elements<'t, 'i> {
    rest: &'t [Node<'i>],
    left: usize,
}

impl<'t, 'i> Iterator for Elements<'t, 'i> {
    type Item = Json<'t, 'i>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let value = self.rest;
        let len = span(value.first()?).min(value.len());
        self.rest = value.get(len..).unwrap_or_default();
        Some(Json { nodes: value })
    }
}

/// Objects up to this many members are checked for duplicates pairwise, without allocating.
const PAIRWISE_MAX: usize = 24;

/// The first member name that occurs twice in any object on the tape, if any.
pub fn first_duplicate_key<'i>(tape: &simd_json::Tape<'i>) -> Option<&'i str> {
    let nodes = &tape.0;
    for (at, node) in nodes.iter().enumerate() {
        let Node::Object { len, .. } = *node else {
            continue;
        };
        if len < 2 {
            continue;
        }
        let object = Json {
            nodes: &nodes[at..],
        };
        // Encoders that sort member names (most do) give strictly increasing names, which
        // cannot repeat: one comparison per member instead of the search below.
        let mut names = object.members().map(|(name, _)| name);
        let mut previous = names.next();
        if names.all(|name| {
            let increasing =
                previous.is_some_and(|p| crate::order::less(p.as_bytes(), name.as_bytes()));
            previous = Some(name);
            increasing
        }) {
            continue;
        }
        if len <= PAIRWISE_MAX {
            // Names and a cheap fingerprint of each (length, first and last byte): full
            // comparisons only between names whose fingerprints match.
            let mut names = [("", 0u32); PAIRWISE_MAX];
            for (slot, (name, _)) in names.iter_mut().zip(object.members()) {
                *slot = (name, fingerprint(name));
            }
            let names = names.get(..len).unwrap_or(&[]);
            for (i, &(name, print)) in names.iter().enumerate() {
                let later = names.get(i + 1..).unwrap_or(&[]);
                if later.iter().any(|&(other, p)| p == print && other == name) {
                    return Some(name);
                }
            }
        } else {
            let mut keys: Vec<&'i str> = object.members().map(|(k, _)| k).collect();
            keys.sort_unstable();
            if let Some(pair) = keys.windows(2).find(|w| w[0] == w[1]) {
                return Some(pair[0]);
            }
        }
    }
    None
}

fn fingerprint(name: &str) -> u32 {
    let bytes = name.as_bytes();
    let first = bytes.first().copied().unwrap_or(0);
    let last = bytes.last().copied().unwrap_or(0);
    (name.len() as u32) << 16 | u32::from(first) << 8 | u32::from(last)
}

/// True when objects and arrays on the tape nest deeper than `max`.
pub fn deeper_than(tape: &simd_json::Tape<'_>, max: usize) -> bool {
    // Nesting deeper than `max` takes more than `max` containers, each a node of its own: a tape
    // of no more nodes (a JWT payload of a dozen claims, say) cannot, and is not walked.
    if tape.0.len() <= max {
        return false;
    }
    // Each container closes after `span` nodes; a stack of end positions gives the depth.
    let mut ends = [0usize; MAX_DEPTH + 1];
    let max = max.min(MAX_DEPTH);
    let mut open = 0usize;
    for (at, node) in tape.0.iter().enumerate() {
        while open > 0 && ends[open - 1] <= at {
            open -= 1;
        }
        if let Node::Object { .. } | Node::Array { .. } = node {
            if open == max {
                return true;
            }
            ends[open] = at + span(node);
            open += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_tape<R>(text: &str, f: impl FnOnce(&simd_json::Tape<'_>) -> R) -> R {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut buffers = JsonBuffers::default();
        let tape = buffers
            .parse_text(text.as_bytes(), &mut first, &mut second)
            .unwrap();
        f(&tape)
    }

    #[test]
    fn walks_members_and_elements() {
        with_tape(r#"{"a":[1,{"b":true}],"c":"x","d":null}"#, |tape| {
            let root = Json::root(tape);
            let names: Vec<_> = root.members().map(|(k, _)| k).collect();
            assert_eq!(names, ["a", "c", "d"]);
            let a = root.get("a").unwrap();
            assert_eq!(a.elements().count(), 2);
            assert_eq!(root.get("c").unwrap().as_str(), Some("x"));
            assert_eq!(root.get("d").unwrap().kind(), Kind::Null);
            assert!(deeper_than(tape, 2));
            assert!(!deeper_than(tape, 3));
        });
    }

    #[test]
    fn finds_duplicates_at_any_depth() {
        with_tape(r#"{"a":1,"b":2}"#, |t| {
            assert_eq!(first_duplicate_key(t), None)
        });
        with_tape(r#"{"a":1,"b":2,"a":3}"#, |t| {
            assert_eq!(first_duplicate_key(t), Some("a"))
        });
        with_tape(r#"{"x":[{"k":1,"k":2}]}"#, |t| {
            assert_eq!(first_duplicate_key(t), Some("k"))
        });
        // Same length, first and last byte: the fingerprints match, the names do not.
        with_tape(r#"{"axb":1,"ayb":2,"":0,"a":1}"#, |t| {
            assert_eq!(first_duplicate_key(t), None)
        });
        with_tape(r#"{"axb":1,"ayb":2,"":0,"axb":3}"#, |t| {
            assert_eq!(first_duplicate_key(t), Some("axb"))
        });
        with_tape(r#"{"":1,"b":{"":2,"":3}}"#, |t| {
            assert_eq!(first_duplicate_key(t), Some(""))
        });
        // The largest object on the pairwise path, its duplicate last.
        let mut edge: Vec<String> = (1..PAIRWISE_MAX).map(|i| format!("\"m{i}\":{i}")).collect();
        edge.push("\"m1\":0".into());
        with_tape(&format!("{{{}}}", edge.join(",")), |t| {
            assert_eq!(first_duplicate_key(t), Some("m1"))
        });
        // Large objects take the sorting path.
        let mut big: Vec<String> = (0..40).map(|i| format!("\"m{i}\":{i}")).collect();
        with_tape(&format!("{{{}}}", big.join(",")), |t| {
            assert_eq!(first_duplicate_key(t), None)
        });
        big.push("\"m7\":0".into());
        with_tape(&format!("{{{}}}", big.join(",")), |t| {
            assert_eq!(first_duplicate_key(t), Some("m7"))
        });
    }

    proptest::proptest! {
        /// Whatever the order of the names (sorted ones take the fast path), a duplicate is
        /// found exactly when there is one, and the name reported is one that repeats.
        #[test]
        fn duplicates_found_exactly_when_present(
            mut names in proptest::collection::vec("[ab]{0,2}", 0..40),
            sort in proptest::bool::ANY,
        ) {
            if sort {
                names.sort();
            }
            let text = format!(
                "{{{}}}",
                names.iter().map(|n| format!("\"{n}\":0")).collect::<Vec<_>>().join(",")
            );
            let repeated = |name: &str| names.iter().filter(|n| n.as_str() == name).count() > 1;
            let any = names.iter().any(|n| repeated(n));
            with_tape(&text, |t| match first_duplicate_key(t) {
                Some(name) => assert!(repeated(name), "{text}: {name:?}"),
                None => assert!(!any, "{text}"),
            });
        }
    }

    /// Depth of a serde_json value: scalars 0, a container one more than its deepest child.
    fn depth(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(members) => {
                1 + members.values().map(depth).max().unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn nested() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<u8>().prop_map(Into::into)
        ];
        leaf.prop_recursive(8, 64, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Small tapes (answered without a walk) and large ones agree with a recursive depth,
        /// for every bound around the value's own depth.
        #[test]
        fn deeper_than_is_the_nesting_depth(value in nested()) {
            let text = value.to_string();
            let want = depth(&value);
            with_tape(&text, |t| {
                for max in 0..=want + 1 {
                    assert_eq!(deeper_than(t, max), want > max, "{text} max {max}");
                }
            });
        }
    }
}

/// The reading of numbers and strings against serde_json's (with `arbitrary_precision`: every
/// valid number accepted, its text kept; unpaired surrogates refused).
#[cfg(test)]
mod against_serde_json {
    use super::*;
    use proptest::prelude::*;

    fn parsed<R>(text: &str, f: impl FnOnce(Result<Json<'_, '_>, JsonError>) -> R) -> R {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut buffers = JsonBuffers::default();
        match buffers.parse_text(text.as_bytes(), &mut first, &mut second) {
            Ok(tape) => f(Ok(Json::root(&tape))),
            Err(err) => f(Err(err)),
        }
    }

    /// JSON numbers of every shape: long integers, long fractions, exponents of any size
    /// (simd-json misread those beyond 2^31), leading zeros in exponents.
    fn number() -> impl Strategy<Value = String> {
        let int = prop_oneof![
            Just("0".to_owned()),
            "[1-9][0-9]{0,3}",
            "[1-9][0-9]{15,20}",
            "[1-9][0-9]{20,45}",
        ];
        let frac = prop_oneof![Just(String::new()), "\\.[0-9]{1,3}", "\\.[0-9]{15,30}"];
        let exp = prop_oneof![
            Just(String::new()),
            ("[eE][-+]?", 0u32..30).prop_map(|(e, n)| format!("{e}{n}")),
            ("[eE][-+]?", 280u32..340).prop_map(|(e, n)| format!("{e}{n}")),
            ("[eE][-+]?0{0,3}", 2_147_483_600u64..50_000_000_000)
                .prop_map(|(e, n)| format!("{e}{n}")),
            // Near a multiple of 2^32: what simd-json's 32-bit exponent wraps into a plausible one.
            ("[eE][-+]?", 1u64..10, -330i64..310)
                .prop_map(|(e, k, d)| { format!("{e}{}", (k << 32).saturating_add_signed(d)) }),
        ];
        ("-?", int, frac, exp).prop_map(|(sign, int, frac, exp)| format!("{sign}{int}{frac}{exp}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Every number serde_json reads is read, as the same value: integers exactly (beyond
        /// 64 bits as their text; `-0` as 0), other numbers as the double serde_json gives;
        /// a non-integer beyond the doubles refuses the document, naming its member.
        #[test]
        fn numbers_read_as_serde_json_reads_them(
            numbers in proptest::collection::vec(number(), 1..6),
            escaped in any::<bool>(),
        ) {
            // A string with an escape sends the document down the other path of the first parse.
            let text = format!(
                r#"{{"s":"{}","n":[{}]}}"#,
                if escaped { "a\\nb" } else { "ab" },
                numbers.join(",")
            );
            let oracle: serde_json::Value = serde_json::from_str(&text).unwrap();
            let oracle = oracle["n"].as_array().unwrap().clone();
            let first_too_large = oracle.iter().position(|n| {
                let n = n.as_number().unwrap().as_str();
                n.contains(['.', 'e', 'E']) && n.parse::<f64>().unwrap().is_infinite()
            });
            parsed(&text, |got| {
                match (got, first_too_large) {
                    (Err(err), Some(at)) => prop_assert_eq!(
                        err,
                        JsonError::NumberOutOfRange {
                            member: format!("n[{at}]"),
                            number: crate::error::clip(&numbers[at]),
                        }
                    ),
                    (Ok(root), None) => {
                        let got: Vec<Number<'_>> = root
                            .get("n")
                            .unwrap()
                            .elements()
                            .map(|n| n.as_number().unwrap())
                            .collect();
                        prop_assert_eq!(got.len(), oracle.len());
                        for (got, want) in got.iter().zip(&oracle) {
                            let want = want.as_number().unwrap();
                            let written = want.as_str();
                            if written.contains(['.', 'e', 'E']) {
                                let want = want.as_f64().unwrap();
                                prop_assert!(
                                    matches!(got, Number::Float(v) if v.to_bits() == want.to_bits()),
                                    "{written}: {got:?}, want {want:?}"
                                );
                            } else {
                                // Integers as their decimal text; `-0` is the integer 0.
                                let mut decimal = String::new();
                                got.render(&mut decimal);
                                prop_assert_eq!(decimal, if written == "-0" { "0" } else { written });
                                let fits = want.as_u64().is_some() || want.as_i64().is_some();
                                prop_assert_eq!(matches!(got, Number::Big(_)), !fits, "{}", written);
                            }
                        }
                        prop_assert_eq!(root.get("s").unwrap().as_str(), Some(if escaped { "a\nb" } else { "ab" }));
                    }
                    (got, want) => prop_assert!(false, "{text}: {:?}, want refusal at {want:?}", got.err()),
                }
                Ok(())
            })?;
        }
    }

    /// Strings of escapes likely to pair or not: surrogates of both halves, other code units,
    /// escaped backslashes before `u`, plain text.
    fn escaped_string() -> impl Strategy<Value = String> {
        let unit = prop_oneof![
            0xd800u32..0xdc00,
            0xdc00u32..0xe000,
            0u32..0x80,
            0xe000u32..0x1_0000,
            Just(0xd800u32),
            Just(0xdbff),
            Just(0xdc00),
        ];
        let piece = prop_oneof![
            (unit, any::<bool>()).prop_map(|(u, upper)| if upper {
                format!("\\u{u:04X}")
            } else {
                format!("\\u{u:04x}")
            }),
            Just("\\\\".to_owned()),
            Just("\\\\u".to_owned()),
            Just("\\\"".to_owned()),
            Just("\\n".to_owned()),
            "[a-z0-9]{1,3}",
            Just("é".to_owned()),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// A string reads as serde_json reads it, or, where serde_json refuses it (an unpaired
        /// surrogate), the document is refused naming the member; in a value or a member name.
        /// Two spellings thus give one string only when they are the same characters.
        #[test]
        fn strings_read_as_serde_json_reads_them(s in escaped_string(), as_name in any::<bool>()) {
            let text = if as_name {
                format!(r#"{{"a":{{"{s}":1}}}}"#)
            } else {
                format!(r#"{{"a":["x","{s}"]}}"#)
            };
            let oracle = serde_json::from_str::<serde_json::Value>(&text);
            parsed(&text, |got| {
                match (got, oracle) {
                    (Ok(root), Ok(want)) => {
                        let a = root.get("a").unwrap();
                        let got = if as_name {
                            a.members().next().map(|(name, _)| name)
                        } else {
                            a.elements().nth(1).and_then(|v| v.as_str())
                        };
                        let want = if as_name {
                            want["a"].as_object().unwrap().keys().next().cloned()
                        } else {
                            want["a"][1].as_str().map(str::to_owned)
                        };
                        prop_assert_eq!(got.map(str::to_owned), want, "{}", text);
                    }
                    (Err(JsonError::UnpairedSurrogate { member, .. }), Err(_)) => {
                        if as_name {
                            prop_assert!(member.starts_with("a."), "{text}: {member}");
                        } else {
                            prop_assert_eq!(member, "a[1]", "{}", text);
                        }
                    }
                    (got, want) => prop_assert!(false, "{text}: {:?} / serde_json {:?}", got.err(), want.err()),
                }
                Ok(())
            })?;
        }
    }
}
