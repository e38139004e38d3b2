//! Join tokens, as SPIRE's `join_token` attestor: single use, no selectors, agent ID
//! `spiffe://<td>/spire/agent/join_token/<token>`.
//!
//! SPIRE (`attestJoinToken` in pkg/server/api/agent/v1) fetches the token, deletes it, and only
//! then refuses it when it expired before the server's clock (`Expiry.Before(now)`: a token
//! expiring at `--now` still attests) or when it cannot be a SPIFFE ID path segment. Those
//! tokens are therefore consumed too: `join_token/token_expired` or `join_token/invalid_token`
//! for their first use, `replay/replayed` for any later one.

use foldhash::{HashMap, HashMapExt};

use crate::error::Rejection;
use crate::template::is_valid_spiffe_path;

/// The known join tokens and their expiries.
#[derive(Debug, Default)]
pub struct JoinTokens {
    expiries: HashMap<Box<str>, i64>,
}

impl JoinTokens {
    /// Parses a tokens file: `token,expires_at_unix_seconds` per line (split at the last
    /// comma); blank lines and lines starting with `#` are skipped. Tokens must be unique and
    /// non-empty; like SPIRE's datastore, any other text is a token (one that cannot be a path
    /// segment is refused when presented, as SPIRE refuses it).
    pub fn parse(text: &str) -> Result<JoinTokens, String> {
        let mut expiries = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |what: String| format!("line {}: {what}", n + 1);
            let (token, expires) = line
                .rsplit_once(',')
                .ok_or_else(|| at("expected token,expires_at_unix_seconds".into()))?;
            let (token, expires) = (token.trim(), expires.trim());
            if token.is_empty() {
                return Err(at("the token is empty".into()));
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
        if expires_at < now {
            return Err(Rejection::TokenExpired { expires_at, now });
        }
        if token.contains('/') || !is_valid_spiffe_path(&format!("/{token}")) {
            return Err(Rejection::InvalidToken {
                reason: format!(
                    "{:?} is not a SPIFFE ID path segment ([A-Za-z0-9._-], not . or ..)",
                    crate::error::clip(token)
                ),
            });
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
        // Expired only once the expiry is before now (SPIRE's Expiry.Before(now)).
        assert_eq!(tokens.check("abc", 100), Ok(()));
        assert_eq!(
            tokens.check("abc", 101),
            Err(Rejection::TokenExpired {
                expires_at: 100,
                now: 101
            })
        );
        assert_eq!(tokens.check("zzz", 0), Err(Rejection::UnknownToken));
    }

    #[test]
    fn tokens_that_cannot_be_path_segments_are_refused_when_presented() {
        let tokens = JoinTokens::parse("a/b,100\n..,100\nok.-_,100\n").unwrap();
        for bad in ["a/b", ".."] {
            let err = tokens.check(bad, 50).unwrap_err();
            assert_eq!(err.code(), "invalid_token", "{bad}");
            assert!(err.consumes_join_token());
        }
        assert_eq!(tokens.check("ok.-_", 50), Ok(()));
        // Expiry is checked first, as SPIRE does.
        assert_eq!(
            tokens.check("a/b", 101).unwrap_err().code(),
            "token_expired"
        );
    }

    #[test]
    fn rejects_bad_files() {
        for (text, want) in [
            ("abc", "expected token,"),
            ("abc,soon", "not Unix seconds"),
            (",1", "the token is empty"),
            ("abc,1\nabc,2", "listed twice"),
        ] {
            let err = JoinTokens::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
