//! Name constraints as Go 1.26's `crypto/x509` checks a chain against them
//! (`checkChainConstraints`, constraints.go): every SAN of every certificate below a
//! constrained CA must be permitted by, and not excluded by, that CA's subtrees. DNS names,
//! URI hosts and email domains match by label suffix, case-insensitively, with a leading `.`
//! meaning "subdomains only"; IP addresses by network; full email constraints exactly (the
//! domain case-insensitively).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::cert::{domain_name_valid, Certificate, IpNet};

/// Go's `net.IP.To4`: a 4-byte address, or the IPv4 in an IPv4-mapped IPv6 address.
fn to4(ip: &[u8]) -> Option<&[u8]> {
    match ip.len() {
        4 => Some(ip),
        16 if ip[..10].iter().all(|&b| b == 0) && ip[10] == 0xff && ip[11] == 0xff => {
            Some(&ip[12..])
        }
        _ => None,
    }
}

impl IpNet {
    /// Go's `networkNumberAndMask`.
    fn number_and_mask(&self) -> Option<(&[u8], &[u8])> {
        let ip = match to4(&self.ip) {
            Some(ip) => ip,
            None if self.ip.len() == 16 => &self.ip[..],
            None => return None,
        };
        let mask = match self.mask.len() {
            4 if ip.len() == 4 => &self.mask[..],
            4 => return None,
            16 if ip.len() == 4 => &self.mask[12..],
            16 => &self.mask[..],
            _ => return None,
        };
        Some((ip, mask))
    }

    /// Go's `IPNet.Contains`.
    fn contains(&self, ip: &[u8]) -> bool {
        let Some((nn, m)) = self.number_and_mask() else {
            return false;
        };
        let ip = to4(ip).unwrap_or(ip);
        ip.len() == nn.len() && (0..ip.len()).all(|i| nn[i] & m[i] == ip[i] & m[i])
    }

    fn subset_of(&self, outer: &IpNet) -> bool {
        if !outer.contains(&self.ip) {
            return false;
        }
        let broadcast: Vec<u8> = self
            .ip
            .iter()
            .zip(self.mask.iter().chain(std::iter::repeat(&0)))
            .map(|(i, m)| i | !m)
            .collect();
        outer.contains(&broadcast)
    }
}

/// `nameConstraintsSet`: sorted, pruned of subtrees inside earlier ones, binary searched.
struct Set<T> {
    set: Vec<T>,
}

impl<T> Set<T> {
    fn new(
        mut set: Vec<T>,
        cmp: impl Fn(&T, &T) -> Ordering,
        subset: impl Fn(&T, &T) -> bool,
    ) -> Set<T> {
        if set.len() >= 2 {
            set.sort_by(&cmp);
            let mut write = 1;
            for read in 1..set.len() {
                if !subset(&set[write - 1], &set[read]) {
                    set.swap(write, read);
                    write += 1;
                }
            }
            set.truncate(write);
        }
        Set { set }
    }

    /// Go's `search`, with Go's `slices.BinarySearchFunc` (the first index not less than `s`).
    fn search<V: ?Sized>(
        &self,
        s: &V,
        cmp: impl Fn(&T, &V) -> Ordering,
        matches: impl Fn(&T, &V) -> bool,
    ) -> Option<&T> {
        if self.set.is_empty() {
            return None;
        }
        let i = self.set.partition_point(|t| cmp(t, s) == Ordering::Less);
        if i < self.set.len() && cmp(&self.set[i], s) == Ordering::Equal {
            return Some(&self.set[i]);
        }
        let constraint = &self.set[i.saturating_sub(1)];
        matches(constraint, s).then_some(constraint)
    }
}

/// `dnsHasSuffix(a, b)`: `a` is a label suffix of `b`, ASCII case-insensitively.
fn dns_has_suffix(a: &[u8], b: &[u8]) -> bool {
    if a.len() > b.len() {
        return false;
    }
    let offset = b.len() - a.len();
    for i in (0..a.len()).rev() {
        let (mut ar, mut br) = (a[i], b[i + offset]);
        if ar == br {
            continue;
        }
        if br < ar {
            std::mem::swap(&mut ar, &mut br);
        }
        if ar.is_ascii_uppercase() && br == ar + (b'a' - b'A') {
            continue;
        }
        return false;
    }
    !(a.first() != Some(&b'.') && b.len() > a.len() && b[b.len() - a.len() - 1] != b'.')
}

fn dns_byte(c: u8) -> u8 {
    if c == b'.' {
        0
    } else {
        c.to_ascii_lowercase()
    }
}

/// `dnsCompare`: compares from the end, case-insensitively, `.` lowest.
fn dns_compare(a: &[u8], b: &[u8]) -> Ordering {
    let (mut ia, mut ib) = (a.len(), b.len());
    while ia > 0 && ib > 0 {
        let (x, y) = (dns_byte(a[ia - 1]), dns_byte(b[ib - 1]));
        if x != y {
            return x.cmp(&y);
        }
        ia -= 1;
        ib -= 1;
    }
    ia.cmp(&ib)
}

fn trim_first_label(name: &str) -> &str {
    name.find('.').map_or("", |i| &name[i..])
}

/// `dnsConstraints`.
struct DnsConstraints {
    all: bool,
    permitted: bool,
    set: Set<String>,
    parents: HashMap<String, String>,
}

impl DnsConstraints {
    fn new(list: &[String], permitted: bool) -> Option<DnsConstraints> {
        if list.is_empty() {
            return None;
        }
        if list.iter().any(String::is_empty) {
            return Some(DnsConstraints {
                all: true,
                permitted,
                set: Set { set: Vec::new() },
                parents: HashMap::new(),
            });
        }
        let set = Set::new(
            list.to_vec(),
            |a, b| dns_compare(a.as_bytes(), b.as_bytes()),
            |a, b| dns_has_suffix(a.as_bytes(), b.as_bytes()),
        );
        let mut parents = HashMap::new();
        if !permitted {
            for name in &set.set {
                let name = name.to_ascii_lowercase();
                let trimmed = trim_first_label(&name).to_string();
                if !trimmed.is_empty() {
                    parents.insert(trimmed, name);
                }
            }
        }
        Some(DnsConstraints {
            all: false,
            permitted,
            set,
            parents,
        })
    }

    fn query(&self, s: &str) -> Option<String> {
        if self.all {
            return Some(String::new());
        }
        if let Some(c) = self.set.search(
            s.as_bytes(),
            |t, v| dns_compare(t.as_bytes(), v),
            |t, v| dns_has_suffix(t.as_bytes(), v),
        ) {
            return Some(c.clone());
        }
        if !self.permitted && s.starts_with('*') {
            let lower = s.to_ascii_lowercase();
            if let Some(c) = self.parents.get(trim_first_label(&lower)) {
                return Some(c.clone());
            }
        }
        None
    }
}

/// An RFC 2821 mailbox (`rfc2821Mailbox`): local part and domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local: String,
    domain: String,
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Go's `domainToReverseLabels` succeeds.
fn reverse_labels_ok(domain: &str) -> bool {
    if domain.is_empty() {
        return true;
    }
    if domain.ends_with('.') {
        return false;
    }
    domain
        .split('.')
        .all(|label| !label.is_empty() && label.chars().all(|c| (33..=126).contains(&(c as u32))))
}

/// Go's `parseRFC2821Mailbox`.
pub fn parse_mailbox(input: &str) -> Option<Mailbox> {
    let mut rest = input.as_bytes();
    if rest.is_empty() {
        return None;
    }
    let mut local = Vec::with_capacity(rest.len() / 2);
    if rest[0] == b'"' {
        rest = &rest[1..];
        loop {
            let (&c, tail) = rest.split_first()?;
            rest = tail;
            match c {
                b'"' => break,
                b'\\' => {
                    let (&q, tail) = rest.split_first()?;
                    if q == 11 || q == 12 || (1..=9).contains(&q) || (14..=127).contains(&q) {
                        local.push(q);
                        rest = tail;
                    } else {
                        return None;
                    }
                }
                11 | 12 | 32 | 33 | 127 | 1..=8 | 14..=31 | 35..=91 | 93..=126 => local.push(c),
                _ => return None,
            }
        }
    } else {
        while let Some(&c) = rest.first() {
            let atext = |c: u8| {
                c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        b'!' | b'#'
                            | b'$'
                            | b'%'
                            | b'&'
                            | b'\''
                            | b'*'
                            | b'+'
                            | b'-'
                            | b'/'
                            | b'='
                            | b'?'
                            | b'^'
                            | b'_'
                            | b'`'
                            | b'{'
                            | b'|'
                            | b'}'
                            | b'~'
                            | b'.'
                    )
            };
            if c == b'\\' {
                rest = &rest[1..];
                let &escaped = rest.first()?;
                local.push(escaped);
                rest = &rest[1..];
            } else if atext(c) {
                local.push(c);
                rest = &rest[1..];
            } else {
                break;
            }
        }
        if local.is_empty()
            || local[0] == b'.'
            || local[local.len() - 1] == b'.'
            || local.windows(2).any(|w| w == b"..")
        {
            return None;
        }
    }
    let (&at, domain) = rest.split_first()?;
    if at != b'@' {
        return None;
    }
    let domain = std::str::from_utf8(domain).ok()?;
    if !reverse_labels_ok(domain) {
        return None;
    }
    Some(Mailbox {
        local: String::from_utf8_lossy(&local).into_owned(),
        domain: domain.to_string(),
    })
}

struct EmailConstraints {
    dns: Option<DnsConstraints>,
    full: HashSet<Mailbox>,
}

impl EmailConstraints {
    fn new(list: &[String], permitted: bool) -> Option<EmailConstraints> {
        if list.is_empty() {
            return None;
        }
        let mut full = HashSet::new();
        let mut domains = Vec::new();
        for c in list {
            if !c.contains('@') {
                domains.push(c.clone());
            } else if let Some(mut m) = parse_mailbox(c) {
                m.domain = m.domain.to_ascii_lowercase();
                full.insert(m);
            }
        }
        Some(EmailConstraints {
            dns: DnsConstraints::new(&domains, permitted),
            full,
        })
    }

    fn query(&self, m: &Mailbox) -> Option<String> {
        if self.full.contains(m) {
            return Some(m.to_string());
        }
        self.dns.as_ref()?.query(&m.domain)
    }
}

struct IpConstraints {
    v4: Option<Set<IpNet>>,
    v6: Option<Set<IpNet>>,
}

impl IpConstraints {
    fn new(list: &[IpNet]) -> Option<IpConstraints> {
        if list.is_empty() {
            return None;
        }
        let cmp = |a: &IpNet, b: &IpNet| a.ip.cmp(&b.ip).then_with(|| a.mask.cmp(&b.mask));
        let subset = |a: &IpNet, b: &IpNet| b.subset_of(a);
        let (v4, v6): (Vec<IpNet>, Vec<IpNet>) =
            list.iter().cloned().partition(|n| n.ip.len() == 4);
        let make = |v: Vec<IpNet>| (!v.is_empty()).then(|| Set::new(v, cmp, subset));
        Some(IpConstraints {
            v4: make(v4),
            v6: make(v6),
        })
    }

    fn query(&self, ip: &[u8]) -> Option<String> {
        let set = if ip.len() == 4 { &self.v4 } else { &self.v6 };
        set.as_ref()?
            .search(ip, |c, t| c.ip.as_slice().cmp(t), |c, t| c.contains(t))
            .map(|n| format!("{}", IpNetDisplay(n)))
    }
}

struct IpNetDisplay<'a>(&'a IpNet);

impl std::fmt::Display for IpNetDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ones = self.0.mask.iter().map(|b| b.count_ones()).sum::<u32>();
        write!(f, "{}/{ones}", ip_string(&self.0.ip))
    }
}

/// Go's `net.IP.String` for 4- and 16-byte addresses.
pub fn ip_string(ip: &[u8]) -> String {
    if let Some(v4) = to4(ip) {
        return std::net::Ipv4Addr::new(v4[0], v4[1], v4[2], v4[3]).to_string();
    }
    match <[u8; 16]>::try_from(ip) {
        Ok(v6) => std::net::Ipv6Addr::from(v6).to_string(),
        Err(_) => format!("?{}", crate::hex::lower(ip)),
    }
}

/// `net.ParseIP` / `netip.ParseAddr` succeed (a zone after `%` is allowed for IPv6, as
/// `netip` allows it).
pub fn parse_ip(s: &str) -> Option<()> {
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(());
    }
    let addr = s
        .split_once('%')
        .map_or(s, |(a, zone)| if zone.is_empty() { s } else { a });
    addr.parse::<std::net::Ipv6Addr>().ok().map(|_| ())
}

/// The constraints of one CA in the chain.
struct ChainConstraints {
    ip: (Option<IpConstraints>, Option<IpConstraints>),
    dns: (Option<DnsConstraints>, Option<DnsConstraints>),
    uri: (Option<DnsConstraints>, Option<DnsConstraints>),
    email: (Option<EmailConstraints>, Option<EmailConstraints>),
    index: usize,
}

fn check_one(
    kind: &str,
    permitted: Option<Option<String>>,
    excluded: Option<Option<String>>,
    shown: &str,
) -> Result<(), String> {
    if let Some(None) = permitted {
        return Err(format!(
            "{kind} {shown:?} is not permitted by any constraint"
        ));
    }
    if let Some(Some(c)) = excluded {
        return Err(format!("{kind} {shown:?} is excluded by constraint {c:?}"));
    }
    Ok(())
}

impl ChainConstraints {
    fn check(
        &self,
        cert: &Certificate,
        uris: &[(String, String)],
        emails: &[Mailbox],
    ) -> Result<(), String> {
        for ip in &cert.ip_addresses {
            check_one(
                "IP address",
                self.ip.0.as_ref().map(|c| c.query(ip)),
                self.ip.1.as_ref().map(|c| c.query(ip)),
                &ip_string(ip),
            )?;
        }
        for d in &cert.dns_names {
            if !domain_name_valid(d.as_bytes(), false) {
                return Err(format!("x509: cannot parse dnsName {d:?}"));
            }
            check_one(
                "DNS name",
                self.dns.0.as_ref().map(|c| c.query(d)),
                self.dns.1.as_ref().map(|c| c.query(d)),
                d,
            )?;
        }
        for (shown, domain) in uris {
            if !domain_name_valid(domain.as_bytes(), false) {
                return Err(format!(
                    "x509: internal error: URI SAN {shown:?} failed to parse"
                ));
            }
            check_one(
                "URI",
                self.uri.0.as_ref().map(|c| c.query(domain)),
                self.uri.1.as_ref().map(|c| c.query(domain)),
                shown,
            )?;
        }
        for e in emails {
            if !domain_name_valid(e.domain.as_bytes(), false) {
                return Err(format!("x509: cannot parse rfc822Name {:?}", e.to_string()));
            }
            check_one(
                "email address",
                self.email.0.as_ref().map(|c| c.query(e)),
                self.email.1.as_ref().map(|c| c.query(e)),
                &e.to_string(),
            )?;
        }
        Ok(())
    }
}

/// Go's `net.SplitHostPort`, for the host.
fn split_host(hostport: &str) -> Result<&str, String> {
    let missing = || format!("address {hostport}: missing port in address");
    let i = hostport.rfind(':').ok_or_else(missing)?;
    let host = if hostport.starts_with('[') {
        let end = hostport
            .find(']')
            .ok_or_else(|| format!("address {hostport}: missing ']' in address"))?;
        if end + 1 == hostport.len() {
            return Err(missing());
        }
        if end + 1 != i {
            return Err(if hostport.as_bytes()[end + 1] == b':' {
                format!("address {hostport}: too many colons in address")
            } else {
                missing()
            });
        }
        &hostport[1..end]
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return Err(format!("address {hostport}: too many colons in address"));
        }
        host
    };
    if hostport[..i].contains('[') && !hostport.starts_with('[') || hostport[i..].contains('[') {
        return Err(format!("address {hostport}: unexpected '[' in address"));
    }
    if hostport[i..].contains(']') {
        return Err(format!("address {hostport}: unexpected ']' in address"));
    }
    Ok(host)
}

/// `parseURIs`: `(uri.String(), lowercased host)` for each URI SAN.
fn parse_uris(cert: &Certificate) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(cert.uris.len());
    for uri in &cert.uris {
        let shown = String::from_utf8_lossy(&uri.to_bytes()).into_owned();
        let raw_host = String::from_utf8_lossy(&uri.host).into_owned();
        let mut host = raw_host.to_lowercase();
        if host.is_empty() {
            return Err(format!(
                "URI with empty host ({shown:?}) cannot be matched against constraints"
            ));
        }
        if host.contains(':') && !host.ends_with(']') {
            host = split_host(&raw_host)
                .map_err(|err| format!("cannot parse URI host {raw_host:?}: {err}"))?
                .to_string();
        }
        if parse_ip(&host).is_some() || (host.starts_with('[') && host.ends_with(']')) {
            return Err(format!(
                "URI with IP ({shown:?}) cannot be matched against constraints"
            ));
        }
        out.push((shown, host));
    }
    Ok(out)
}

/// `checkChainConstraints`: the chain from the leaf (index 0) to the trust anchor.
pub fn check_chain(chain: &[&Certificate]) -> Result<(), String> {
    let constraints: Vec<ChainConstraints> = chain
        .iter()
        .enumerate()
        .filter(|(_, c)| c.has_name_constraints())
        .map(|(index, c)| ChainConstraints {
            ip: (
                IpConstraints::new(&c.permitted_ip_ranges),
                IpConstraints::new(&c.excluded_ip_ranges),
            ),
            dns: (
                DnsConstraints::new(&c.permitted_dns_domains, true),
                DnsConstraints::new(&c.excluded_dns_domains, false),
            ),
            uri: (
                DnsConstraints::new(&c.permitted_uri_domains, true),
                DnsConstraints::new(&c.excluded_uri_domains, false),
            ),
            email: (
                EmailConstraints::new(&c.permitted_email_addresses, true),
                EmailConstraints::new(&c.excluded_email_addresses, false),
            ),
            index,
        })
        .collect();
    if constraints.is_empty() {
        return Ok(());
    }
    let mut current = 0;
    for (i, cert) in chain.iter().enumerate() {
        if !cert.has_san_extension() {
            continue;
        }
        if i >= constraints[current].index {
            while constraints[current].index <= i {
                if current + 1 == constraints.len() {
                    return Ok(());
                }
                current += 1;
            }
        }
        let uris = parse_uris(cert)?;
        let mut emails = Vec::with_capacity(cert.email_addresses.len());
        for e in &cert.email_addresses {
            let mut m = parse_mailbox(e).ok_or_else(|| format!("cannot parse rfc822Name {e:?}"))?;
            m.domain = m.domain.to_ascii_lowercase();
            emails.push(m);
        }
        for c in &constraints[current..] {
            c.check(cert, &uris, &emails)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_suffixes_by_label() {
        assert!(dns_has_suffix(b"example.com", b"a.example.com"));
        assert!(dns_has_suffix(b"example.com", b"example.com"));
        assert!(dns_has_suffix(b"EXAMPLE.com", b"a.example.COM"));
        assert!(!dns_has_suffix(b"example.com", b"testexample.com"));
        assert!(dns_has_suffix(b".example.com", b"a.example.com"));
        assert!(!dns_has_suffix(b".example.com", b"example.com"));
    }

    #[test]
    fn mailboxes_as_go_parses_them() {
        let m = parse_mailbox("ops@example.org").unwrap();
        assert_eq!(
            (m.local.as_str(), m.domain.as_str()),
            ("ops", "example.org")
        );
        assert!(parse_mailbox("\"a b\"@example.org").is_some());
        assert!(parse_mailbox(".ops@example.org").is_none());
        assert!(parse_mailbox("o..ps@example.org").is_none());
        assert!(parse_mailbox("ops@example.org.").is_none());
        assert!(parse_mailbox("ops").is_none());
    }

    #[test]
    fn ip_networks_contain_as_go() {
        let net = IpNet {
            ip: vec![10, 0, 0, 0],
            mask: vec![255, 0, 0, 0],
        };
        assert!(net.contains(&[10, 1, 2, 3]));
        assert!(!net.contains(&[11, 1, 2, 3]));
        let mut mapped = vec![0u8; 10];
        mapped.extend([0xff, 0xff, 10, 9, 9, 9]);
        assert!(net.contains(&mapped));
        assert_eq!(ip_string(&[10, 1, 2, 3]), "10.1.2.3");
    }

    #[test]
    fn host_ports_split_as_go() {
        assert_eq!(split_host("example.org:443").unwrap(), "example.org");
        assert!(split_host("a:b:c").is_err());
    }
}
