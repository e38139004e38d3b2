//! The exact reading of a document simd-json cannot be trusted with alone (see the module doc
//! of [`crate::json`]): numbers re-read from their text, unpaired surrogates refused by name.
//!
//! Every number of the document is found from simd-json's structural indexes (each value starts
//! at one), checked against RFC 8259's grammar, read (integers exactly, others by Rust's
//! correctly rounded `f64` parser) and replaced in the text by `0` and spaces, the same length,
//! so that simd-json parses what remains as written and every byte offset still holds. The tape
//! that parse gives has a number node exactly where the text had a number, in order; each is
//! set to the value read. An integer beyond 64 bits becomes a NaN whose payload indexes its text:
//! the texts are copied after the document in the same buffer and listed as string nodes at the
//! end of the tape, where every [`Json`](super::Json) view reaches them. (simd-json never makes
//! a NaN: JSON cannot write one.)

use std::ops::Range;
use std::sync::LazyLock;

use simd_json::{Node, StaticNode};

use super::{escapes, span, JsonBuffers, JsonError};
use crate::error::clip;

/// A quiet NaN; its low 51 bits carry the index of a big integer's text.
const BIG_MARK: u64 = 0x7ff8_0000_0000_0000;
const BIG_INDEX_BITS: u64 = (1 << 51) - 1;

/// The index into the big integers' texts that a marker NaN carries.
pub(super) fn big_index(marker: f64) -> usize {
    (marker.to_bits() & BIG_INDEX_BITS) as usize
}

/// RFC 8259 §6.
static NUMBER: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
        .expect("a constant pattern compiles")
});

/// A number as read from its text.
enum Read {
    Int(i64),
    UInt(u64),
    /// The index of its text among the big integers'.
    Big(u64),
    Float(f64),
    OutOfRange,
}

/// Reads the document `fill` writes exactly, into `second`.
pub(super) fn read<'i>(
    bufs: &mut JsonBuffers,
    fill: impl Fn(&mut Vec<u8>),
    second: &'i mut Vec<u8>,
) -> Result<simd_json::Tape<'i>, JsonError> {
    bufs.pristine.clear();
    fill(&mut bufs.pristine);
    let mut unpaired = Vec::new();
    escapes::unpaired_surrogates(&bufs.pristine, |at| unpaired.push(at));
    let first_unpaired = unpaired.first().map(|&at| {
        let escape = bufs.pristine.get(at..at + 6).unwrap_or_default();
        (at, String::from_utf8_lossy(escape).into_owned())
    });
    for &at in &unpaired {
        escapes::neutralize(&mut bufs.pristine, at);
    }

    // The structure: a parse of a copy, for its structural indexes (complete even when the
    // parse stops at a number simd-json cannot read).
    bufs.probe.clear();
    bufs.probe.extend_from_slice(&bufs.pristine);
    let mut probe = bufs.take_tape();
    let probed = simd_json::fill_tape(&mut bufs.probe, &mut bufs.buffers, &mut probe);
    bufs.spare = Some(probe.reset());
    let syntax = match probed {
        Err(err) if *err.error() != simd_json::ErrorType::InvalidNumber => {
            return Err(JsonError::Syntax(err.to_string()))
        }
        Err(err) => Some(err.to_string()),
        Ok(()) => None,
    };
    let pristine = &bufs.pristine;
    let numbers = number_tokens(pristine, bufs.buffers.structural_indexes());

    second.clear();
    second.extend_from_slice(pristine);
    let document_len = second.len();
    let mut read = Vec::with_capacity(numbers.len());
    let mut bigs: Vec<Range<usize>> = Vec::new();
    for token in &numbers {
        let text = std::str::from_utf8(pristine.get(token.clone()).unwrap_or_default())
            .unwrap_or_default();
        if !NUMBER.is_match(text) {
            return Err(JsonError::Syntax(syntax.clone().unwrap_or_else(|| {
                format!("invalid number {:?} at byte {}", clip(text), token.start)
            })));
        }
        read.push(read_number(text, &mut || {
            let start = second.len();
            second.extend_from_slice(text.as_bytes());
            bigs.push(start - document_len..second.len() - document_len);
            bigs.len() as u64 - 1
        }));
        if let Some(placeholder) = second.get_mut(token.clone()) {
            placeholder.fill(b' ');
            if let Some(digit) = placeholder.first_mut() {
                *digit = b'0';
            }
        }
    }

    let all: &'i mut [u8] = &mut second[..];
    let (document, texts) = all.split_at_mut(document_len);
    let texts: &'i [u8] = texts;
    let texts = std::str::from_utf8(texts).unwrap_or_default();
    let mut tape = match bufs.spare.take() {
        Some(tape) => tape.reset(),
        None => simd_json::Tape(Vec::new()),
    };
    if let Err(err) = simd_json::fill_tape(document, &mut bufs.buffers, &mut tape) {
        bufs.spare = Some(tape.reset());
        return Err(JsonError::Syntax(err.to_string()));
    }
    let mut values = read.into_iter().zip(&numbers);
    let mut out_of_range = None;
    for (at, node) in tape.0.iter_mut().enumerate() {
        let Node::Static(StaticNode::I64(_) | StaticNode::U64(_) | StaticNode::F64(_)) = node
        else {
            continue;
        };
        let value = match values.next() {
            Some((Read::Int(v), _)) => StaticNode::I64(v),
            Some((Read::UInt(v), _)) => StaticNode::U64(v),
            Some((Read::Big(index), _)) => StaticNode::F64(f64::from_bits(BIG_MARK | index)),
            Some((Read::Float(v), _)) => StaticNode::F64(v),
            Some((Read::OutOfRange, token)) => {
                out_of_range.get_or_insert((at, token.clone()));
                StaticNode::Null
            }
            None => StaticNode::Null,
        };
        *node = Node::Static(value);
    }
    if values.next().is_some() {
        // Not reached: every number of the text is one node of the tape.
        bufs.spare = Some(tape.reset());
        return Err(JsonError::Syntax("the numbers could not be read".into()));
    }
    // Texts last to first: the text of big integer `i` is then `i` nodes before the end.
    for range in bigs.iter().rev() {
        tape.0
            .push(Node::String(texts.get(range.clone()).unwrap_or_default()));
    }

    let refused = if let Some((at, token)) = out_of_range {
        let number = String::from_utf8_lossy(pristine.get(token).unwrap_or_default());
        Some(JsonError::NumberOutOfRange {
            member: clip(&path_to(&tape.0, at)),
            number: clip(&number),
        })
    } else if let Some((at, escape)) = first_unpaired {
        let node = string_node_at(bufs.buffers.structural_indexes(), pristine, at);
        Some(JsonError::UnpairedSurrogate {
            member: clip(&node.map(|n| path_to(&tape.0, n)).unwrap_or_default()),
            escape,
        })
    } else {
        None
    };
    match refused {
        Some(err) => {
            bufs.spare = Some(tape.reset());
            Err(err)
        }
        None => Ok(tape),
    }
}

/// Reads a number whose text the grammar accepts; `big` stores an integer's text beyond 64 bits
/// and gives its index.
fn read_number(text: &str, big: &mut dyn FnMut() -> u64) -> Read {
    if !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        if let Ok(v) = text.parse::<u64>() {
            return Read::UInt(v);
        }
        if let Ok(v) = text.parse::<i64>() {
            return Read::Int(v);
        }
        return Read::Big(big());
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Read::Float(v),
        _ => Read::OutOfRange,
    }
}

/// Where each number of `json` is: a value starts at a structural index, and a number there
/// runs over the bytes numbers are written with (what follows is simd-json's to judge).
fn number_tokens(json: &[u8], structurals: &[u32]) -> Vec<Range<usize>> {
    let is_number_byte = |b: &u8| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E');
    structurals
        .iter()
        .map(|&at| at as usize)
        .filter(|&at| {
            json.get(at)
                .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-'))
        })
        .map(|start| {
            let len = json
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| is_number_byte(b))
                .count();
            start..start + len
        })
        .collect()
}

/// The tape index of the string that holds byte `offset` of `json`: tape nodes are the values
/// in text order, one per structural index that starts a value.
fn string_node_at(structurals: &[u32], json: &[u8], offset: usize) -> Option<usize> {
    let mut node = None;
    let mut values = 0usize;
    for &at in structurals {
        let at = at as usize;
        if at > offset {
            break;
        }
        match json.get(at) {
            Some(b'"') => {
                node = Some(values);
                values += 1;
            }
            Some(b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => values += 1,
            _ => {}
        }
    }
    node
}

/// The member path of tape node `target` for a message: names joined by `.`, array positions
/// as `[n]` (a member name names its member).
fn path_to(nodes: &[Node<'_>], target: usize) -> String {
    let mut path = String::new();
    let mut at = 0;
    while at != target {
        let Some(node) = nodes.get(at) else {
            break;
        };
        let (len, is_object) = match node {
            Node::Object { len, .. } => (*len, true),
            Node::Array { len, .. } => (*len, false),
            _ => break,
        };
        let mut child = at + 1;
        let mut inside = None;
        for n in 0..len {
            let value = if is_object { child + 1 } else { child };
            let end = value + nodes.get(value).map_or(1, span);
            if target >= child && target < end {
                inside = Some((n, child, value));
                break;
            }
            child = end;
        }
        let Some((n, key, value)) = inside else {
            break;
        };
        match nodes.get(key) {
            Some(Node::String(name)) if is_object => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            _ => path.push_str(&format!("[{n}]")),
        }
        if target == key && is_object {
            break;
        }
        at = value;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<String, JsonError> {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut bufs = JsonBuffers::default();
        let tape = bufs.parse_text(text.as_bytes(), &mut first, &mut second)?;
        Ok(format!("{:?}", tape.0))
    }

    #[test]
    fn names_the_member_that_is_refused() {
        let err = |text: &str| read_text(text).unwrap_err().to_string();
        assert!(
            err(r#"{"a":1,"k8s":{"ns":[2,1e400]}}"#)
                .starts_with(r#"member "k8s.ns[1]" is the number 1e400"#),
            "{}",
            err(r#"{"a":1,"k8s":{"ns":[2,1e400]}}"#)
        );
        assert!(err(r#"{"jti":"\ud800"}"#).starts_with(r#"member "jti" holds"#));
        assert!(err(r#"{"jti":"\ud800"}"#).contains(r#""\\ud800""#));
        assert!(err(r#"{"a":{"b\udc00":1}}"#).starts_with("member \"a.b\\0\" holds"));
        assert!(err(r#"[1,2,{"x":["y","\udbff"]}]"#).starts_with(r#"member "[2].x[1]" holds"#));
        assert!(err("[01]").starts_with("not JSON"), "{}", err("[01]"));
        assert!(err("[1.]").starts_with("not JSON"));
        assert!(err("[-]").starts_with("not JSON"));
        assert!(err(r#"[123456789012345678901234567890, "x" "y"]"#).starts_with("not JSON"));
    }
}
