//! A DER reader with the acceptance rules of Go's `golang.org/x/crypto/cryptobyte`, which
//! `crypto/x509` parses certificates with: low tag numbers only, minimal definite lengths of at
//! most four bytes, minimally encoded INTEGERs, BOOLEANs of 0x00 or 0xff, BIT STRINGs whose
//! padding bits are zero, OIDs of minimal base-128 arcs under 2^31.
//!
//! The general-purpose DER crates each draw these lines a little differently; a certificate
//! that Go refuses must be refused here too, so the reader follows cryptobyte rule for rule.

/// An ASN.1 identifier octet (class, constructed bit and tag number in one byte, as cryptobyte
/// keeps it).
pub type Tag = u8;

/// Universal tags and the class bits, as cryptobyte names them.
pub mod tag {
    use super::Tag;
    /// BOOLEAN.
    pub const BOOLEAN: Tag = 0x01;
    /// INTEGER.
    pub const INTEGER: Tag = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: Tag = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: Tag = 0x04;
    /// NULL.
    pub const NULL: Tag = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OBJECT_IDENTIFIER: Tag = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: Tag = 0x0c;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: Tag = 0x30;
    /// SET (constructed).
    pub const SET: Tag = 0x31;
    /// NumericString.
    pub const NUMERIC_STRING: Tag = 0x12;
    /// PrintableString.
    pub const PRINTABLE_STRING: Tag = 0x13;
    /// T61String.
    pub const T61_STRING: Tag = 0x14;
    /// IA5String.
    pub const IA5_STRING: Tag = 0x16;
    /// UTCTime.
    pub const UTC_TIME: Tag = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: Tag = 0x18;
    /// BMPString.
    pub const BMP_STRING: Tag = 0x1e;
    /// The context-specific class bit.
    pub const CONTEXT: Tag = 0x80;
    /// The constructed bit.
    pub const CONSTRUCTED: Tag = 0x20;
}

/// A cursor over DER bytes. Every read either succeeds and advances, or fails (`None`) and
/// leaves the cursor where it was only as far as the caller relies on (callers give up on
/// failure, as Go's parser does).
#[derive(Clone, Copy, Debug, Default)]
pub struct Der<'a> {
    bytes: &'a [u8],
}

impl<'a> Der<'a> {
    /// A cursor over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { bytes }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Reads one element: `(tag, whole element, contents)`.
    fn read_any(&mut self) -> Option<(Tag, &'a [u8], &'a [u8])> {
        let s = self.bytes;
        if s.len() < 2 {
            return None;
        }
        let (tag, len_byte) = (s[0], s[1]);
        if tag & 0x1f == 0x1f {
            return None; // high tag numbers: not supported, as cryptobyte
        }
        let (header, length) = if len_byte & 0x80 == 0 {
            (2usize, usize::from(len_byte))
        } else {
            let len_len = usize::from(len_byte & 0x7f);
            if len_len == 0 || len_len > 4 || s.len() < 2 + len_len {
                return None;
            }
            let mut len32: u32 = 0;
            for &b in &s[2..2 + len_len] {
                len32 = (len32 << 8) | u32::from(b);
            }
            if len32 < 128 || len32 >> ((len_len - 1) * 8) == 0 {
                return None; // not the shortest form
            }
            (2 + len_len, len32 as usize)
        };
        let end = header.checked_add(length)?;
        if s.len() < end {
            return None;
        }
        self.bytes = &s[end..];
        Some((tag, &s[..end], &s[header..end]))
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<Tag> {
        self.bytes.first().copied()
    }

    /// True when the next element has tag `t`.
    pub fn peek_is(&self, t: Tag) -> bool {
        self.peek_tag() == Some(t)
    }

    /// Reads an element of tag `t`; returns its contents.
    pub fn read(&mut self, t: Tag) -> Option<Der<'a>> {
        self.read_raw(t).map(Der::new)
    }

    /// Reads an element of tag `t`; returns its contents as bytes.
    pub fn read_raw(&mut self, t: Tag) -> Option<&'a [u8]> {
        let save = *self;
        match self.read_any() {
            Some((tag, _, contents)) if tag == t => Some(contents),
            _ => {
                *self = save;
                None
            }
        }
    }

    /// Reads an element of tag `t`; returns the whole element (header included).
    pub fn read_element(&mut self, t: Tag) -> Option<&'a [u8]> {
        let save = *self;
        match self.read_any() {
            Some((tag, whole, _)) if tag == t => Some(whole),
            _ => {
                *self = save;
                None
            }
        }
    }

    /// Reads any element: `(tag, contents)`.
    pub fn read_any_contents(&mut self) -> Option<(Tag, &'a [u8])> {
        self.read_any().map(|(t, _, c)| (t, c))
    }

    /// Reads any element: `(tag, whole element)`.
    pub fn read_any_element(&mut self) -> Option<(Tag, &'a [u8])> {
        self.read_any().map(|(t, w, _)| (t, w))
    }

    /// Reads an optional element of tag `t`: `Some(None)` when absent, `None` when malformed.
    pub fn read_optional(&mut self, t: Tag) -> Option<Option<Der<'a>>> {
        if self.peek_is(t) {
            self.read(t).map(Some)
        } else {
            Some(None)
        }
    }

    /// Skips an optional element of tag `t`; false when it is malformed.
    pub fn skip_optional(&mut self, t: Tag) -> bool {
        !self.peek_is(t) || self.read(t).is_some()
    }

    /// Reads a BOOLEAN.
    pub fn read_bool(&mut self) -> Option<bool> {
        match self.read_raw(tag::BOOLEAN)? {
            [0x00] => Some(false),
            [0xff] => Some(true),
            _ => None,
        }
    }

    /// Reads an INTEGER's minimal two's-complement contents (at least one byte).
    pub fn read_integer_bytes(&mut self) -> Option<&'a [u8]> {
        self.read_integer_bytes_tagged(tag::INTEGER)
    }

    /// An INTEGER with another tag (implicitly tagged).
    pub fn read_integer_bytes_tagged(&mut self, t: Tag) -> Option<&'a [u8]> {
        let save = *self;
        let bytes = self.read_raw(t)?;
        if check_integer(bytes) {
            Some(bytes)
        } else {
            *self = save;
            None
        }
    }

    /// Reads an INTEGER that fits an `i64`.
    pub fn read_i64(&mut self) -> Option<i64> {
        self.read_integer_bytes().and_then(signed)
    }

    /// Reads an INTEGER with tag `t` that fits an `i64`.
    pub fn read_i64_tagged(&mut self, t: Tag) -> Option<i64> {
        self.read_integer_bytes_tagged(t).and_then(signed)
    }

    /// Reads a non-negative INTEGER that fits a `u64`.
    pub fn read_u64(&mut self) -> Option<u64> {
        let n = self.read_integer_bytes()?;
        if n.len() > 9 || (n.len() == 9 && n[0] != 0) || n[0] & 0x80 != 0 {
            return None;
        }
        Some(n.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Reads a BIT STRING: `(bytes, bit length)`.
    pub fn read_bit_string(&mut self) -> Option<(&'a [u8], usize)> {
        let bytes = self.read_raw(tag::BIT_STRING)?;
        let (&padding, data) = bytes.split_first()?;
        if padding > 7
            || (data.is_empty() && padding != 0)
            || data
                .last()
                .is_some_and(|&last| last & ((1u8 << padding) - 1) != 0)
        {
            return None;
        }
        Some((data, data.len() * 8 - usize::from(padding)))
    }

    /// Reads an OBJECT IDENTIFIER; returns its contents (the encoded arcs), validated.
    pub fn read_oid(&mut self) -> Option<&'a [u8]> {
        let save = *self;
        let bytes = self.read_raw(tag::OBJECT_IDENTIFIER)?;
        if oid_arcs(bytes).is_some() {
            Some(bytes)
        } else {
            *self = save;
            None
        }
    }
}

/// cryptobyte's `checkASN1Integer`: non-empty and minimally encoded.
fn check_integer(bytes: &[u8]) -> bool {
    match bytes {
        [] => false,
        [_] => true,
        [0x00, b, ..] => b & 0x80 != 0,
        [0xff, b, ..] => b & 0x80 == 0,
        _ => true,
    }
}

fn signed(n: &[u8]) -> Option<i64> {
    if n.len() > 8 {
        return None;
    }
    let mut v: i64 = if n[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in n {
        v = (v << 8) | i64::from(b);
    }
    Some(v)
}

/// The arcs of an encoded OID, as cryptobyte decodes them (each arc under 2^31 and at most
/// five base-128 bytes, minimal), or `None`.
pub fn oid_arcs(bytes: &[u8]) -> Option<Vec<u64>> {
    if bytes.is_empty() {
        return None;
    }
    let mut arcs = Vec::with_capacity(bytes.len() + 1);
    let mut rest = bytes;
    let mut first = true;
    while !rest.is_empty() {
        let mut value: u64 = 0;
        let mut i = 0;
        loop {
            if i == 5 || value >= 1 << (31 - 7) {
                return None;
            }
            let b = *rest.get(i)?;
            if i == 0 && b == 0x80 {
                return None;
            }
            value = (value << 7) | u64::from(b & 0x7f);
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        rest = &rest[i..];
        if first {
            if value < 80 {
                arcs.push(value / 40);
                arcs.push(value % 40);
            } else {
                arcs.push(2);
                arcs.push(value - 80);
            }
            first = false;
        } else {
            arcs.push(value);
        }
    }
    Some(arcs)
}

/// An OID's dotted form (`2.5.29.17`), from its validated contents.
pub fn oid_string(bytes: &[u8]) -> String {
    match oid_arcs(bytes) {
        Some(arcs) => arcs
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_minimal_and_definite() {
        assert!(Der::new(&[0x04, 0x01, 0xaa])
            .read(tag::OCTET_STRING)
            .is_some());
        // Long form for a length under 128.
        assert!(Der::new(&[0x04, 0x81, 0x01, 0xaa])
            .read(tag::OCTET_STRING)
            .is_none());
        // Indefinite length.
        assert!(Der::new(&[0x30, 0x80, 0x00, 0x00])
            .read(tag::SEQUENCE)
            .is_none());
        // A leading zero length byte.
        let mut long = vec![0x04, 0x82, 0x00, 0x80];
        long.extend([0u8; 128]);
        assert!(Der::new(&long).read(tag::OCTET_STRING).is_none());
        // Truncated.
        assert!(Der::new(&[0x04, 0x05, 0x01])
            .read(tag::OCTET_STRING)
            .is_none());
        // High tag number form.
        assert!(Der::new(&[0x1f, 0x21, 0x00]).read_any_contents().is_none());
    }

    #[test]
    fn integers_booleans_and_bit_strings_as_cryptobyte() {
        assert_eq!(Der::new(&[0x02, 0x01, 0x7f]).read_i64(), Some(127));
        assert_eq!(Der::new(&[0x02, 0x02, 0x00, 0x80]).read_i64(), Some(128));
        assert_eq!(Der::new(&[0x02, 0x01, 0xff]).read_i64(), Some(-1));
        assert_eq!(Der::new(&[0x02, 0x02, 0x00, 0x01]).read_i64(), None);
        assert_eq!(Der::new(&[0x02, 0x02, 0xff, 0x80]).read_i64(), None);
        assert_eq!(Der::new(&[0x02, 0x00]).read_i64(), None);
        assert_eq!(Der::new(&[0x02, 0x01, 0xff]).read_u64(), None);
        assert_eq!(Der::new(&[0x01, 0x01, 0xff]).read_bool(), Some(true));
        assert_eq!(Der::new(&[0x01, 0x01, 0x01]).read_bool(), None);
        assert_eq!(
            Der::new(&[0x03, 0x02, 0x07, 0x80]).read_bit_string(),
            Some((&[0x80u8][..], 1))
        );
        assert_eq!(Der::new(&[0x03, 0x02, 0x07, 0x81]).read_bit_string(), None);
        assert_eq!(Der::new(&[0x03, 0x01, 0x01]).read_bit_string(), None);
        assert_eq!(
            Der::new(&[0x03, 0x01, 0x00]).read_bit_string(),
            Some((&[][..], 0))
        );
    }

    #[test]
    fn oids_decode_as_cryptobyte() {
        assert_eq!(oid_string(&[0x55, 0x1d, 0x11]), "2.5.29.17");
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            "1.2.840.10045.2.1"
        );
        assert_eq!(oid_arcs(&[0x88, 0x37]), Some(vec![2, 999]));
        assert!(oid_arcs(&[0x55, 0x80, 0x01]).is_none()); // non-minimal arc
        assert!(oid_arcs(&[0x55, 0x81]).is_none()); // truncated
        assert!(oid_arcs(&[]).is_none());
    }
}
