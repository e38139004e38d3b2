//! PEM as Go's `encoding/pem.Decode` finds blocks (SPIRE reads its CA bundles with it): text
//! between blocks is skipped, a block that does not decode is skipped over, headers are
//! allowed, base64 ignores spaces, tabs and line breaks.

use base64::Engine as _;

const PEM_START: &[u8] = b"\n-----BEGIN ";
const PEM_END: &[u8] = b"\n-----END ";
const PEM_END_OF_LINE: &[u8] = b"-----";

/// A PEM block: its type and decoded bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The type (`CERTIFICATE`, …).
    pub kind: String,
    /// The decoded contents.
    pub bytes: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn trim_right_space_tab(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if last == b' ' || last == b'\t' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// `getLine`: the line without its end (and trailing spaces/tabs), the rest, bytes consumed.
fn get_line(data: &[u8]) -> (&[u8], &[u8], usize) {
    let (mut i, j) = match data.iter().position(|&b| b == b'\n') {
        None => (data.len(), data.len()),
        Some(i) => (i, i + 1),
    };
    if j > i && i > 0 && data[i - 1] == b'\r' {
        i -= 1;
    }
    (trim_right_space_tab(&data[..i]), &data[j..], j)
}

/// `pem.Decode`: the next block and what follows it, or `None`.
pub fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    let mut end_trailer_index: isize = 0;
    loop {
        if end_trailer_index < 0 || end_trailer_index as usize > rest.len() {
            return None;
        }
        rest = &rest[end_trailer_index as usize..];
        let end_index = find(rest, PEM_END)?;
        end_trailer_index = (end_index + PEM_END.len()) as isize;
        let Some(begin_index) = rfind(&rest[..end_index], &PEM_START[1..]) else {
            continue;
        };
        if begin_index > 0 && rest[begin_index - 1] != b'\n' {
            continue;
        }
        let skip = begin_index + PEM_START.len() - 1;
        rest = &rest[skip..];
        let mut end_index = end_index as isize - skip as isize;
        end_trailer_index -= skip as isize;

        let (type_line, after, consumed) = get_line(rest);
        rest = after;
        end_index -= consumed as isize;
        end_trailer_index -= consumed as isize;
        let Some(kind) = type_line.strip_suffix(PEM_END_OF_LINE) else {
            continue;
        };

        let mut headers = 0;
        loop {
            if rest.is_empty() {
                return None;
            }
            let (line, next, consumed) = get_line(rest);
            if !line.contains(&b':') {
                break;
            }
            headers += 1;
            rest = next;
            end_index -= consumed as isize;
            end_trailer_index -= consumed as isize;
        }
        if headers > 0 && end_index < 0 {
            continue;
        }
        if end_trailer_index < 0 || end_trailer_index as usize > rest.len() {
            continue;
        }
        let end_trailer = &rest[end_trailer_index as usize..];
        let trailer_len = kind.len() + PEM_END_OF_LINE.len();
        if end_trailer.len() < trailer_len {
            continue;
        }
        let (trailer, rest_of_end_line) = end_trailer.split_at(trailer_len);
        if !trailer.starts_with(kind) || !trailer.ends_with(PEM_END_OF_LINE) {
            continue;
        }
        if !get_line(rest_of_end_line).0.is_empty() {
            continue;
        }
        let mut bytes = Vec::new();
        if end_index > 0 {
            let b64: Vec<u8> = rest[..end_index as usize]
                .iter()
                .copied()
                .filter(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .collect();
            match GO_STD.decode(&b64) {
                Ok(decoded) => bytes = decoded,
                Err(_) => continue,
            }
        }
        let tail_start = (end_index + PEM_END.len() as isize - 1).max(0) as usize;
        let (_, tail, _) = get_line(&rest[tail_start.min(rest.len())..]);
        return Some((
            Block {
                kind: String::from_utf8_lossy(kind).into_owned(),
                bytes,
            },
            tail,
        ));
    }
}

/// Go's `base64.StdEncoding` for decoding (padded, unused bits not checked).
const GO_STD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
);

/// Every block of `data`, in order.
pub fn blocks(mut data: &[u8]) -> Vec<Block> {
    let mut out = Vec::new();
    while let Some((block, rest)) = decode(data) {
        out.push(block);
        data = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_as_go_finds_them() {
        let text = b"junk\n-----BEGIN KEY-----\nAAEC\n-----END KEY-----\nmore\n-----BEGIN CERTIFICATE-----\nA: b\n\nAA==\n-----END CERTIFICATE-----\n";
        let found = blocks(text);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            Block {
                kind: "KEY".into(),
                bytes: vec![0, 1, 2]
            }
        );
        assert_eq!(
            found[1],
            Block {
                kind: "CERTIFICATE".into(),
                bytes: vec![0]
            }
        );
        // A block whose base64 does not decode is skipped.
        assert!(
            blocks(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").is_empty()
        );
        // Mismatched END type.
        assert!(blocks(b"-----BEGIN A-----\nAA==\n-----END B-----\n").is_empty());
        assert!(blocks(b"not pem").is_empty());
    }
}
