//! Join tokens, as SPIRE's `join_token` attestor: single use, no selectors, agent ID
//! `spiffe://<td>/spire/agent/join_token/<token>`.
//!
//! SPIRE deletes a token before checking its expiry, so an expired token is consumed too; in a
//! batch that means an expired token is `join_token/token_expired` and is not single-use state
//! (it can never attest, so consuming it changes no later verdict).

use foldhash::{HashMap, HashMapExt};

use crate::error::Rejection;
use crate::template::is_valid_spiffe_path;

/// The known join tokens and their expiries.
#[derive(Debug, Default)]
pub struct JoinTokens {
    expiries: HashMap<Box<str>, i64>,
}

impl JoinTokens {
    /// Parses a tokens file: `token,expires_at_unix_seconds` per line; blank lines and lines
    /// starting with `#` are skipped. Tokens must be unique and usable in a SPIFFE ID path.
    pub fn parse(text: &str) -> Result<JoinTokens, String> {
        let mut expiries = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |what: String| format!("line {}: {what}", n + 1);
            let (token, expires) = line
                .split_once(',')
                .ok_or_else(|| at("expected token,expires_at_unix_seconds".into()))?;
            let (token, expires) = (token.trim(), expires.trim());
            if !is_valid_spiffe_path(&format!("/{token}")) || token.contains('/') {
                return Err(at(format!(
                    "token {token:?} must be one SPIFFE path segment ([A-Za-z0-9._-])"
                )));
            }
            let expires: i64 = expires
                .parse()
                .map_err(|_| at(format!("expiry {expires:?} is not Unix seconds")))?;
            if expiries.insert(token.into(), expires).is_some() {
                return Err(at(format!("token {token:?} is listed twice")));
            }
        }
        Ok(JoinTokens { expiries })
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.expiries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.expiries.is_empty()
    }

    /// Checks a presented token at `now`.
    pub fn check(&self, token: &str, now: i64) -> Result<(), Rejection> {
        let &expires_at = self.expiries.get(token).ok_or(Rejection::UnknownToken)?;
        if expires_at <= now {
            return Err(Rejection::TokenExpired { expires_at, now });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let tokens = JoinTokens::parse("# comment\nabc,100\n\n def , 300 \n").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.check("abc", 50), Ok(()));
        assert_eq!(tokens.check("def", 299), Ok(()));
        assert_eq!(
            tokens.check("abc", 100),
            Err(Rejection::TokenExpired {
                expires_at: 100,
                now: 100
            })
        );
        assert_eq!(tokens.check("zzz", 0), Err(Rejection::UnknownToken));
    }

    #[test]
    fn rejects_bad_files() {
        for (text, want) in [
            ("abc", "expected token,"),
            ("abc,soon", "not Unix seconds"),
            ("a/b,1", "one SPIFFE path segment"),
            ("abc,1\nabc,2", "listed twice"),
        ] {
            let err = JoinTokens::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
