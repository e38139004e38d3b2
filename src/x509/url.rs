//! URLs as Go's `net/url.Parse` reads them and `URL.String`/`URL.EscapedPath` write them back.
//!
//! SPIRE matches x509pop SAN URIs on Go's re-serialised `uri.String()` and takes the SAN key
//! and value from the percent-decoded `uri.Path`; `crypto/x509` refuses a certificate whose URI
//! SAN `url.Parse` refuses. A WHATWG URL parser (the `url` crate) normalises differently
//! (hosts, dot segments, the empty authority of `x509pop:////k/v`), so this is a port of the
//! parts of `net/url` those three behaviours depend on.

/// Go's `net/url` encoding modes (which characters a component may hold unescaped).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

/// `net/url`'s `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => return false,
            Mode::Host | Mode::Zone => {}
        },
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// `net/url`'s `unescape` for the modes used here (no `+` handling: that is the query
/// component's only). Works on bytes: a Go string may hold any bytes.
fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                n += 1;
                if i + 2 >= s.len()
                    || !s[i + 1].is_ascii_hexdigit()
                    || !s[i + 2].is_ascii_hexdigit()
                {
                    let bad = &s[i..s.len().min(i + 3)];
                    return Err(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(bad)
                    ));
                }
                if mode == Mode::Host && unhex(s[i + 1]) < 8 && &s[i..i + 3] != b"%25" {
                    return Err(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(&s[i..i + 3])
                    ));
                }
                if mode == Mode::Zone {
                    let v = (unhex(s[i + 1]) << 4) | unhex(s[i + 2]);
                    if &s[i..i + 3] != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(format!(
                            "invalid URL escape {:?}",
                            String::from_utf8_lossy(&s[i..i + 3])
                        ));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {:?} in host name",
                        char::from(c).to_string()
                    ));
                }
                i += 1;
            }
        }
    }
    if n == 0 {
        return Ok(s.to_vec());
    }
    let mut out = Vec::with_capacity(s.len() - 2 * n);
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            out.push((unhex(s[i + 1]) << 4) | unhex(s[i + 2]));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// `net/url`'s `escape`.
fn escape(s: &[u8], mode: Mode) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
    }
    // Every byte that is not ASCII was escaped, so this is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// `net/url`'s `validEncoded`.
fn valid_encoded(s: &[u8], mode: Mode) -> bool {
    s.iter().all(|&c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c, mode)
    })
}

/// A parsed URL: `net/url.URL`'s fields. Strings are bytes, as Go's strings are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoUrl {
    /// Lowercased scheme.
    pub scheme: String,
    /// The opaque part (`scheme:opaque`), encoded.
    pub opaque: Vec<u8>,
    /// Username and password, when there was userinfo.
    pub user: Option<(Vec<u8>, Option<Vec<u8>>)>,
    /// `host` or `host:port`, decoded.
    pub host: Vec<u8>,
    /// The decoded path.
    pub path: Vec<u8>,
    /// The path as written, when it is not the default encoding of `path`.
    pub raw_path: Vec<u8>,
    /// `scheme:/path`: an empty authority was not written.
    pub omit_host: bool,
    /// A `?` with no query after it.
    pub force_query: bool,
    /// The query, encoded.
    pub raw_query: Vec<u8>,
    /// The decoded fragment.
    pub fragment: Vec<u8>,
    /// The fragment as written, when it is not the default encoding.
    pub raw_fragment: Vec<u8>,
}

/// `url.Parse`. The error reads as Go's (`parse "…": …`).
pub fn parse(raw: &[u8]) -> Result<GoUrl, String> {
    let (u, frag) = match raw.iter().position(|&b| b == b'#') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let quoted = |s: &[u8]| format!("{:?}", String::from_utf8_lossy(s));
    let mut url = parse_no_fragment(u).map_err(|err| format!("parse {}: {err}", quoted(u)))?;
    if let Some(frag) = frag.filter(|f| !f.is_empty()) {
        url.fragment = unescape(frag, Mode::Fragment)
            .map_err(|err| format!("parse {}: {err}", quoted(raw)))?;
        url.raw_fragment = if escape(&url.fragment, Mode::Fragment).as_bytes() == frag {
            Vec::new()
        } else {
            frag.to_vec()
        };
    }
    Ok(url)
}

fn parse_no_fragment(raw: &[u8]) -> Result<GoUrl, String> {
    if raw.iter().any(|&b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = GoUrl::default();
    if raw == b"*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }
    let (scheme, mut rest) = scheme(raw)?;
    url.scheme = String::from_utf8_lossy(scheme).to_ascii_lowercase();
    let question = rest.iter().filter(|&&b| b == b'?').count();
    if rest.last() == Some(&b'?') && question == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some(i) = rest.iter().position(|&b| b == b'?') {
        url.raw_query = rest[i + 1..].to_vec();
        rest = &rest[..i];
    }
    if !rest.starts_with(b"/") {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_vec();
            return Ok(url);
        }
        let segment = rest.split(|&b| b == b'/').next().unwrap_or_default();
        if segment.contains(&b':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with(b"///")) && rest.starts_with(b"//") {
        let authority = &rest[2..];
        let (authority, path) = match authority.iter().position(|&b| b == b'/') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, &b""[..]),
        };
        let (user, host) = parse_authority(&url.scheme, authority)?;
        url.user = user;
        url.host = host;
        rest = path;
    } else if !url.scheme.is_empty() && rest.starts_with(b"/") {
        url.omit_host = true;
    }
    url.path = unescape(rest, Mode::Path)?;
    url.raw_path = if escape(&url.path, Mode::Path).as_bytes() == rest {
        Vec::new()
    } else {
        rest.to_vec()
    };
    Ok(url)
}

/// `getScheme`: `(scheme, rest)`.
fn scheme(raw: &[u8]) -> Result<(&[u8], &[u8]), String> {
    for (i, &c) in raw.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok((&[], raw)),
        }
    }
    Ok((&[], raw))
}

type User = Option<(Vec<u8>, Option<Vec<u8>>)>;

fn parse_authority(scheme: &str, authority: &[u8]) -> Result<(User, Vec<u8>), String> {
    let at = authority.iter().rposition(|&b| b == b'@');
    let host = parse_host(scheme, at.map_or(authority, |i| &authority[i + 1..]))?;
    let Some(at) = at else {
        return Ok((None, host));
    };
    let userinfo = &authority[..at];
    let valid = std::str::from_utf8(userinfo).is_ok_and(|s| {
        s.chars().all(|r| {
            r.is_ascii_alphanumeric()
                || matches!(
                    r,
                    '-' | '.'
                        | '_'
                        | ':'
                        | '~'
                        | '!'
                        | '$'
                        | '&'
                        | '\''
                        | '('
                        | ')'
                        | '*'
                        | '+'
                        | ','
                        | ';'
                        | '='
                        | '%'
                        | '@'
                )
        })
    });
    if !valid {
        return Err("net/url: invalid userinfo".into());
    }
    let user = match userinfo.iter().position(|&b| b == b':') {
        None => (unescape(userinfo, Mode::UserPassword)?, None),
        Some(i) => (
            unescape(&userinfo[..i], Mode::UserPassword)?,
            Some(unescape(&userinfo[i + 1..], Mode::UserPassword)?),
        ),
    };
    Ok((Some(user), host))
}

fn valid_optional_port(port: &[u8]) -> bool {
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

fn parse_host(scheme: &str, host: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(open) = host.iter().rposition(|&b| b == b'[') {
        if open > 0 {
            return Err("invalid IP-literal".into());
        }
        let close = host
            .iter()
            .rposition(|&b| b == b']')
            .ok_or_else(|| "missing ']' in host".to_string())?;
        let colon_port = &host[close + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {:?} after host",
                String::from_utf8_lossy(colon_port)
            ));
        }
        let colon_port = unescape(colon_port, Mode::Host)?;
        let hostname = host.get(1..close).unwrap_or_default();
        let unescaped = match find(hostname, b"%25") {
            Some(zone) => {
                let mut h = unescape(&hostname[..zone], Mode::Host)?;
                h.extend(unescape(&hostname[zone..], Mode::Zone)?);
                h
            }
            None => unescape(hostname, Mode::Host)?,
        };
        let text = String::from_utf8_lossy(&unescaped);
        let addr = text.split('%').next().unwrap_or_default();
        if addr.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err("invalid IP-literal".into());
        }
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "invalid host: ParseAddr({text:?}): unable to parse IP"
            ));
        }
        let mut out = b"[".to_vec();
        out.extend(unescaped);
        out.push(b']');
        out.extend(colon_port);
        return Ok(out);
    }
    if let Some(first) = host.iter().position(|&b| b == b':') {
        let last = host.iter().rposition(|&b| b == b':').unwrap_or(first);
        // Several colons: the port starts at the last one (Go is strict only for http(s)).
        let i = if last != first && scheme != "http" && scheme != "https" {
            last
        } else {
            first
        };
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {:?} after host",
                String::from_utf8_lossy(colon_port)
            ));
        }
    }
    unescape(host, Mode::Host)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl GoUrl {
    /// `URL.EscapedPath`.
    pub fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && valid_encoded(&self.raw_path, Mode::Path)
            && unescape(&self.raw_path, Mode::Path).is_ok_and(|p| p == self.path)
        {
            // validEncoded admits only ASCII.
            return String::from_utf8_lossy(&self.raw_path).into_owned();
        }
        if self.path == b"*" {
            return "*".into();
        }
        escape(&self.path, Mode::Path)
    }

    fn escaped_fragment(&self) -> String {
        if !self.raw_fragment.is_empty()
            && valid_encoded(&self.raw_fragment, Mode::Fragment)
            && unescape(&self.raw_fragment, Mode::Fragment).is_ok_and(|f| f == self.fragment)
        {
            return String::from_utf8_lossy(&self.raw_fragment).into_owned();
        }
        escape(&self.fragment, Mode::Fragment)
    }

    /// `URL.String`, as bytes (the opaque part and the query are kept as written).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf: Vec<u8> = Vec::new();
        if !self.scheme.is_empty() {
            buf.extend_from_slice(self.scheme.as_bytes());
            buf.push(b':');
        }
        if !self.opaque.is_empty() {
            buf.extend_from_slice(&self.opaque);
        } else {
            if !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some() {
                if self.omit_host && self.host.is_empty() && self.user.is_none() {
                    // omit the empty host
                } else {
                    if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                        buf.extend_from_slice(b"//");
                    }
                    if let Some((name, password)) = &self.user {
                        buf.extend_from_slice(escape(name, Mode::UserPassword).as_bytes());
                        if let Some(password) = password {
                            buf.push(b':');
                            buf.extend_from_slice(escape(password, Mode::UserPassword).as_bytes());
                        }
                        buf.push(b'@');
                    }
                    if !self.host.is_empty() {
                        buf.extend_from_slice(escape(&self.host, Mode::Host).as_bytes());
                    }
                }
            }
            let path = self.escaped_path();
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                buf.push(b'/');
            }
            if buf.is_empty() {
                let segment = path.split('/').next().unwrap_or_default();
                if segment.contains(':') {
                    buf.extend_from_slice(b"./");
                }
            }
            buf.extend_from_slice(path.as_bytes());
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push(b'?');
            buf.extend_from_slice(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push(b'#');
            buf.extend_from_slice(self.escaped_fragment().as_bytes());
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        String::from_utf8(parse(s.as_bytes()).unwrap().to_bytes()).unwrap()
    }

    // Expected values: what Go 1.26's url.Parse(s) gives for String(), Path, Host and
    // EscapedPath (printed by a Go program; they are not derived from this code).
    #[test]
    fn round_trips_as_go() {
        assert_eq!(
            string("x509pop://example.org/k/v"),
            "x509pop://example.org/k/v"
        );
        assert_eq!(
            string("X509POP://example.org/k/v"),
            "x509pop://example.org/k/v"
        );
        assert_eq!(string("x509pop:////k/v"), "x509pop:////k/v");
        assert_eq!(
            string("x509pop://example.org/a%2Fb"),
            "x509pop://example.org/a%2Fb"
        );
        assert_eq!(
            string("x509pop://example.org/a%41"),
            "x509pop://example.org/a%41"
        );
        assert_eq!(
            string("x509pop://ex%C3%A9.org/k"),
            "x509pop://ex%C3%A9.org/k"
        );
        assert_eq!(string("x509pop://[::1]:80/k"), "x509pop://[::1]:80/k");
        assert_eq!(
            string("x509pop://example.org/a b"),
            "x509pop://example.org/a%20b"
        );
        assert_eq!(
            string("x509pop://u@example.org/k"),
            "x509pop://u@example.org/k"
        );
        assert_eq!(string("x509pop:example.org/k"), "x509pop:example.org/k");
        assert_eq!(
            string("x509pop://example.org/k?x=1#f"),
            "x509pop://example.org/k?x=1#f"
        );
        assert_eq!(string("x509pop://example.org"), "x509pop://example.org");
        assert_eq!(
            string("spiffe://example.org/a%20b"),
            "spiffe://example.org/a%20b"
        );
    }

    #[test]
    fn paths_are_decoded() {
        let url = parse(b"x509pop://example.org/key/a%2Fb%20c?q#f").unwrap();
        assert_eq!(url.path, b"/key/a/b c");
        assert_eq!(url.host, b"example.org");
        assert_eq!(url.raw_query, b"q");
        assert_eq!(url.fragment, b"f");
        assert_eq!(url.escaped_path(), "/key/a%2Fb%20c");
        let four = parse(b"x509pop:////k/v").unwrap();
        assert_eq!(four.host, b"");
        assert_eq!(four.path, b"//k/v");
    }

    #[test]
    fn refusals_as_go() {
        for bad in [
            "x509pop://example.org/key/%zz",
            "x509pop://exa mple.org/k",
            "x509pop://example.org:8x/k",
            ":nothing",
            "a\x01b",
            "x509pop://[::1/k",
            "x509pop://[1.2.3.4]/k",
            "x509pop://ex%41mple.org/k",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse(b"x509pop://[::1]:80/k").is_ok());
        assert!(parse(b"x509pop://ex%C3%A9.org/k").is_ok());
    }
}
