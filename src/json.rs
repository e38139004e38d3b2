//! Borrowed JSON views over a simd-json tape, for JWS headers and JWT claims.
//!
//! simd-json parses a buffer in place into a flat tape of nodes; [`Json`] walks that tape without
//! building a tree. simd-json keeps the last of duplicate members silently, so
//! [`first_duplicate_key`] scans every object on the tape once to refuse them (SPEC §5).

use simd_json::{Node, StaticNode};

/// Deepest object/array nesting accepted in claims; a bound for the recursive walks.
pub const MAX_DEPTH: usize = 32;

/// Reusable parse buffers (one set per worker thread), and a spare tape so that a parse does
/// not allocate.
#[derive(Default)]
pub struct JsonBuffers {
    buffers: simd_json::Buffers,
    spare: Option<simd_json::Tape<'static>>,
}

impl JsonBuffers {
    /// Parses `input` (modified in place) into a tape; give the tape back with [`recycle`]
    /// (dropping it instead costs the next parse an allocation).
    ///
    /// [`recycle`]: JsonBuffers::recycle
    pub fn parse<'i>(&mut self, input: &'i mut [u8]) -> Result<simd_json::Tape<'i>, String> {
        let mut tape = match self.spare.take() {
            Some(tape) => tape.reset(),
            None => simd_json::Tape(Vec::new()),
        };
        simd_json::fill_tape(input, &mut self.buffers, &mut tape).map_err(|err| err.to_string())?;
        Ok(tape)
    }

    /// Keeps a tape's storage for the next parse.
    pub fn recycle(&mut self, tape: simd_json::Tape<'_>) {
        self.spare = Some(tape.reset());
    }
}

/// A JSON value on a tape.
#[derive(Clone, Copy)]
pub struct Json<'t, 'i> {
    nodes: &'t [Node<'i>],
}

/// A JSON number as parsed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A number written with a fraction or exponent.
    Float(f64),
}

impl Number {
    /// The value as f64 (integers beyond 2^53 round).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::UInt(v) => v as f64,
            Number::Float(v) => v,
        }
    }

    /// Appends the selector form: integers in decimal, other numbers in their shortest
    /// round-trip form (a float with an integral value below 2^53 prints as an integer).
    pub fn render(self, out: &mut String) {
        match self {
            Number::Int(v) => out.push_str(itoa::Buffer::new().format(v)),
            Number::UInt(v) => out.push_str(itoa::Buffer::new().format(v)),
            Number::Float(v) if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 => {
                out.push_str(itoa::Buffer::new().format(v as i64))
            }
            Number::Float(v) => {
                // serde_json formats floats with ryu: shortest round trip, exponent when long.
                out.push_str(
                    &serde_json::Number::from_f64(v)
                        .map_or_else(|| v.to_string(), |n| n.to_string()),
                );
            }
        }
    }
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
    pub fn as_number(&self) -> Option<Number> {
        match self.head() {
            Some(Node::Static(StaticNode::I64(v))) => Some(if *v < 0 {
                Number::Int(*v)
            } else {
                Number::UInt(*v as u64)
            }),
            Some(Node::Static(StaticNode::U64(v))) => Some(Number::UInt(*v)),
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
        let (value, rest) = after.split_at(len);
        self.rest = rest;
        Some((key, Json { nodes: value }))
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
        let len = span(self.rest.first()?).min(self.rest.len());
        let (value, rest) = self.rest.split_at(len);
        self.rest = rest;
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
        let mut bytes = text.as_bytes().to_vec();
        let mut buffers = JsonBuffers::default();
        let tape = buffers.parse(&mut bytes).unwrap();
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

    #[test]
    fn renders_numbers_as_the_spec_says() {
        let render = |n: Number| {
            let mut s = String::new();
            n.render(&mut s);
            s
        };
        assert_eq!(
            render(Number::UInt(18_446_744_073_709_551_615)),
            "18446744073709551615"
        );
        assert_eq!(render(Number::Int(-3)), "-3");
        assert_eq!(render(Number::Float(1.5)), "1.5");
        assert_eq!(render(Number::Float(3.0)), "3");
        assert_eq!(render(Number::Float(0.1)), "0.1");
        assert_eq!(render(Number::Float(1e300)), "1e+300");
    }
}
