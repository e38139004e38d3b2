//! Distinguished names as Go's `crypto/x509` parses them (`parseName`, `parseASN1String`) and
//! `pkix.Name.FillFromRDNSequence` sorts them into fields.

use super::der::{tag, Der};
use super::oid;

/// One attribute of a name: its type's OID (DER contents) and its value, decoded to UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute type, e.g. 2.5.4.3 for the common name.
    pub oid: Vec<u8>,
    /// The value, as Go decodes it.
    pub value: String,
}

/// A name: its relative distinguished names in order, and `pkix.Name`'s fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Name {
    /// The RDN sequence, each RDN a set of attributes in encoding order.
    pub rdns: Vec<Vec<Attribute>>,
    /// The last common name (`CommonName`), or "".
    pub common_name: String,
    /// The last serial number attribute (`SerialNumber`), or "".
    pub serial_number: String,
    /// `Country`.
    pub country: Vec<String>,
    /// `Organization`.
    pub organization: Vec<String>,
    /// `OrganizationalUnit`.
    pub organizational_unit: Vec<String>,
    /// `Locality`.
    pub locality: Vec<String>,
    /// `Province`.
    pub province: Vec<String>,
    /// `StreetAddress`.
    pub street_address: Vec<String>,
    /// `PostalCode`.
    pub postal_code: Vec<String>,
}

/// Go's `isPrintable` (PrintableString plus `*` and `&`, which Go accepts on purpose).
fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || (b'\''..=b')').contains(&b)
        || (b'+'..=b'/').contains(&b)
        || matches!(b, b' ' | b':' | b'=' | b'?' | b'*' | b'&')
}

/// Go's `parseASN1String`: the string types a name may use, decoded as Go decodes them.
pub fn parse_asn1_string(t: u8, value: &[u8]) -> Result<String, String> {
    match t {
        // T.61, read as Latin-1 (as Go and BoringSSL do).
        tag::T61_STRING => Ok(value.iter().map(|&b| char::from(b)).collect()),
        tag::PRINTABLE_STRING => {
            if value.iter().all(|&b| is_printable(b)) {
                Ok(String::from_utf8_lossy(value).into_owned())
            } else {
                Err("invalid PrintableString".into())
            }
        }
        tag::UTF8_STRING => std::str::from_utf8(value)
            .map(str::to_owned)
            .map_err(|_| "invalid UTF-8 string".into()),
        tag::BMP_STRING => {
            if !value.len().is_multiple_of(2) {
                return Err("invalid BMPString".into());
            }
            let mut value = value;
            if value.len() >= 2 && value.ends_with(&[0, 0]) {
                value = &value[..value.len() - 2];
            }
            let mut units = Vec::with_capacity(value.len() / 2);
            for pair in value.chunks_exact(2) {
                let point = u16::from_be_bytes([pair[0], pair[1]]);
                if point == 0xfffe
                    || point == 0xffff
                    || (0xfdd0..=0xfdef).contains(&point)
                    || (0xd800..=0xdfff).contains(&point)
                {
                    return Err("invalid BMPString".into());
                }
                units.push(point);
            }
            // No surrogates are left, so every unit is a character of its own.
            Ok(char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect())
        }
        tag::IA5_STRING => {
            if value.is_ascii() {
                Ok(String::from_utf8_lossy(value).into_owned())
            } else {
                Err("invalid IA5String".into())
            }
        }
        tag::NUMERIC_STRING => {
            if value.iter().all(|&b| b.is_ascii_digit() || b == b' ') {
                Ok(String::from_utf8_lossy(value).into_owned())
            } else {
                Err("invalid NumericString".into())
            }
        }
        other => Err(format!("unsupported string type: {other}")),
    }
}

/// Go's `parseName` and `FillFromRDNSequence`: `raw` is the whole Name element.
pub fn parse_name(raw: &[u8]) -> Result<Name, String> {
    let mut outer = Der::new(raw);
    let mut seq = outer
        .read(tag::SEQUENCE)
        .ok_or("x509: invalid RDNSequence")?;
    let mut name = Name::default();
    while !seq.is_empty() {
        let mut set = seq.read(tag::SET).ok_or("x509: invalid RDNSequence")?;
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let mut atv = set
                .read(tag::SEQUENCE)
                .ok_or("x509: invalid RDNSequence: invalid attribute")?;
            let oid = atv
                .read_oid()
                .ok_or("x509: invalid RDNSequence: invalid attribute type")?;
            let (value_tag, value) = atv
                .read_any_contents()
                .ok_or("x509: invalid RDNSequence: invalid attribute value")?;
            let value = parse_asn1_string(value_tag, value).map_err(|err| {
                format!("x509: invalid RDNSequence: invalid attribute value: {err}")
            })?;
            rdn.push(Attribute {
                oid: oid.to_vec(),
                value,
            });
        }
        name.rdns.push(rdn);
    }
    for attr in name.rdns.iter().flatten() {
        let value = attr.value.clone();
        match oid::id_at(&attr.oid) {
            Some(3) => name.common_name = value,
            Some(5) => name.serial_number = value,
            Some(6) => name.country.push(value),
            Some(7) => name.locality.push(value),
            Some(8) => name.province.push(value),
            Some(9) => name.street_address.push(value),
            Some(10) => name.organization.push(value),
            Some(11) => name.organizational_unit.push(value),
            Some(17) => name.postal_code.push(value),
            _ => {}
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_types_decode_as_go() {
        assert_eq!(
            parse_asn1_string(tag::T61_STRING, &[b'a', 0xe9]).unwrap(),
            "aé"
        );
        assert_eq!(
            parse_asn1_string(tag::BMP_STRING, &[0, b'h', 0x20, 0xac, 0, 0]).unwrap(),
            "h€"
        );
        assert!(parse_asn1_string(tag::BMP_STRING, &[0, b'h', 0]).is_err());
        assert!(parse_asn1_string(tag::BMP_STRING, &[0xd8, 0x00]).is_err());
        assert!(parse_asn1_string(tag::PRINTABLE_STRING, b"a@b").is_err());
        assert_eq!(
            parse_asn1_string(tag::PRINTABLE_STRING, b"a*&b").unwrap(),
            "a*&b"
        );
        assert!(parse_asn1_string(tag::UTF8_STRING, &[0xff]).is_err());
        assert!(parse_asn1_string(tag::NUMERIC_STRING, b"12a").is_err());
        assert_eq!(
            parse_asn1_string(28, b"x").unwrap_err(),
            "unsupported string type: 28"
        );
    }

    #[test]
    fn the_last_common_name_wins() {
        // SEQUENCE { SET { SEQ { CN, "a" } }, SET { SEQ { O, "o" } }, SET { SEQ { CN, "b" } } }
        let atv = |oid: u8, v: u8| [0x30, 0x08, 0x06, 0x03, 0x55, 0x04, oid, 0x0c, 0x01, v];
        let mut body = Vec::new();
        for (o, v) in [(3, b'a'), (10, b'o'), (3, b'b')] {
            body.push(0x31);
            body.push(10);
            body.extend(atv(o, v));
        }
        let mut raw = vec![0x30, body.len() as u8];
        raw.extend(body);
        let name = parse_name(&raw).unwrap();
        assert_eq!(name.common_name, "b");
        assert_eq!(name.organization, ["o"]);
        assert_eq!(name.rdns.len(), 3);
    }
}
