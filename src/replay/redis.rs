//! Single-use state in Redis (or Valkey), shared by every engine process pointed at it.
//!
//! Each claim is one `SET key value NX GET [EX ttl]`: atomic set-if-absent that also returns the
//! value already there. The claims of a batch of chunks go out as one pipeline, one round trip,
//! from the ordered writer; Redis runs a connection's commands in order, so within a process the first record in
//! input order still wins, and across processes the first `SET` to reach the server wins.
//!
//! - Key: `<namespace>:<kind>:<32 hex digits>`, the namespace `fleet-attest:<trust domain>` and
//!   the digits the first 16 bytes of the SHA-256 of the in-memory key (as in the state file:
//!   bounded size, no token material in Redis).
//! - Value: `<run id> <shard> <line>` — who consumed it, so a replay names the line, and whether
//!   that line was this run's or another's.
//! - Expiry: an entry lives `expires_at − now + 1` seconds of the server's clock, the time it
//!   would stay live in memory at `--now`; join tokens never expire.
//!
//! `rediss://` URLs connect over TLS; without it, anyone on the path between the engine and
//! Redis could answer "not consumed yet" and make a replay attest.
//!
//! A failed round trip is retried once on a new connection (a restarted server, a dropped idle
//! connection); a retried `SET` that had already gone through finds this run's own value for the
//! same line and counts as fresh. If the retry fails too, the store is lost for the rest of the
//! run: every later claim is [`Outcome::Unavailable`] and never attests.

use std::time::Duration;

use redis::{Client, Connection};

use super::{digest_key, Claim, ConsumedBy, Outcome, NEVER};
use crate::shard::Shard;

/// How long to wait for a connection, and for a pipeline's replies.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How a Redis-backed store was lost mid-run.
#[derive(Clone, Debug)]
pub struct Loss {
    /// The error, naming the address.
    pub reason: String,
    /// The first input line whose check could not complete.
    pub first_line: u64,
}

/// Single-use state in Redis.
pub struct RedisStore {
    address: String,
    client: Client,
    conn: Option<Connection>,
    namespace: String,
    run_id: String,
    shard: Shard,
    resuming: bool,
    /// Runs recognised as this one's interrupted predecessors (`--resume`).
    adopted: Vec<String>,
    lost: Option<Loss>,
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT/DB`) and checks that the server takes
    /// `SET … NX GET` (Redis 7.0 or later, or Valkey). `resuming` is true when this run continues
    /// an interrupted run's output: a key held under this shard and the claiming record's own
    /// line is then that run's work, not a replay.
    ///
    /// `rediss://` connects over TLS (rustls on aws-lc), verifying the server against `ca_pem`
    /// (PEM roots) when given, else against the system's roots.
    pub fn connect(
        url: &str,
        ca_pem: Option<Vec<u8>>,
        namespace: String,
        shard: Shard,
        resuming: bool,
    ) -> Result<RedisStore, String> {
        let address = redact(url);
        if url.starts_with("rediss://") {
            // rustls needs a process-wide crypto provider; an error only says one is installed.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = match ca_pem {
            Some(root_cert) => Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            ),
            None => Client::open(url),
        }
        .map_err(|err| format!("{address}: {err}"))?;
        let mut store = RedisStore {
            address,
            client,
            conn: None,
            namespace,
            run_id: new_run_id(),
            shard,
            resuming,
            adopted: Vec::new(),
            lost: None,
        };
        let probe = format!("{}:probe:{}", store.namespace, store.run_id);
        let address = store.address.clone();
        let conn = store
            .connection()
            .map_err(|err| format!("{address}: {err}"))?;
        let reply: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("SET")
            .arg(&probe)
            .arg(1)
            .arg("NX")
            .arg("GET")
            .arg("EX")
            .arg(10)
            .query(conn);
        if let Err(err) = reply {
            return Err(format!(
                "{address}: the server refused SET … NX GET (Redis 7.0 or later, or Valkey, is \
                 needed): {err}"
            ));
        }
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&probe).query(conn);
        Ok(store)
    }

    /// The address, without a password, for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Set when the store was lost mid-run.
    pub fn loss(&self) -> Option<&Loss> {
        self.lost.as_ref()
    }

    /// Checks and consumes `claims` in order, appending one outcome per claim.
    pub fn check(&mut self, claims: &[Claim<'_>], now: i64, out: &mut Vec<Outcome>) {
        let Some(first) = claims.first() else {
            return;
        };
        if self.lost.is_none() {
            let replies = self.round_trip(claims, now).or_else(|_| {
                self.conn = None;
                self.round_trip(claims, now)
            });
            match replies {
                Ok(replies) if replies.len() == claims.len() => {
                    for (claim, reply) in claims.iter().zip(replies) {
                        out.push(self.judge(claim, reply.as_deref()));
                    }
                    return;
                }
                Ok(replies) => {
                    self.lose(
                        format!(
                            "{}: {} replies to {} commands",
                            self.address,
                            replies.len(),
                            claims.len()
                        ),
                        first.line,
                    );
                }
                Err(err) => {
                    let reason = self.describe(&err);
                    self.lose(reason, first.line);
                }
            }
        }
        out.extend(claims.iter().map(|_| Outcome::Unavailable));
    }

    /// Removes every key of this store's namespace (used by `bench`, whose keys are its own);
    /// returns how many went.
    pub fn forget_namespace(&mut self) -> Result<u64, String> {
        let pattern = format!("{}:*", self.namespace);
        let mut cursor = 0u64;
        let mut removed = 0u64;
        let conn = self.connection().map_err(|err| format!("{err}"))?;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(conn)
                .map_err(|err| format!("SCAN: {err}"))?;
            if !keys.is_empty() {
                removed += redis::cmd("UNLINK")
                    .arg(&keys)
                    .query::<u64>(conn)
                    .map_err(|err| format!("UNLINK: {err}"))?;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    fn lose(&mut self, reason: String, first_line: u64) {
        self.conn = None;
        self.lost = Some(Loss { reason, first_line });
    }

    fn describe(&self, err: &redis::RedisError) -> String {
        format!("{}: {err}", self.address)
    }

    fn connection(&mut self) -> redis::RedisResult<&mut Connection> {
        if self.conn.is_none() {
            let conn = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
            conn.set_read_timeout(Some(IO_TIMEOUT))?;
            conn.set_write_timeout(Some(IO_TIMEOUT))?;
            self.conn = Some(conn);
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(redis::RedisError::from(std::io::Error::other(
                "no connection",
            ))),
        }
    }

    fn round_trip(
        &mut self,
        claims: &[Claim<'_>],
        now: i64,
    ) -> redis::RedisResult<Vec<Option<Vec<u8>>>> {
        let mut pipe = redis::pipe();
        let mut key = String::with_capacity(self.namespace.len() + 48);
        for claim in claims {
            key.clear();
            key.push_str(&self.namespace);
            key.push(':');
            key.push_str(claim.key.split(':').next().unwrap_or("key"));
            key.push(':');
            key.push_str(&crate::hex::lower(&digest_key(claim.key)));
            let value = format!("{} {} {}", self.run_id, self.shard, claim.line);
            let set = pipe.cmd("SET").arg(&key).arg(value).arg("NX").arg("GET");
            if let Some(ttl) = ttl(claim.expires_at, now) {
                set.arg("EX").arg(ttl);
            }
        }
        let conn = self.connection()?;
        pipe.query(conn)
    }

    /// Reads the value already held for a claimed key (None: the claim consumed it).
    fn judge(&mut self, claim: &Claim<'_>, held: Option<&[u8]>) -> Outcome {
        let Some(held) = held else {
            return Outcome::Fresh;
        };
        let Some((run, shard, line)) = parse_value(held) else {
            return Outcome::Consumed(ConsumedBy::EarlierRun);
        };
        if run == self.run_id && line == claim.line {
            return Outcome::Fresh; // a retried SET that had gone through
        }
        if self.resuming && shard == self.shard && line == claim.line {
            if run != self.run_id && !self.adopted.iter().any(|r| r == run) {
                self.adopted.push(run.to_owned());
            }
            return Outcome::Fresh;
        }
        if run == self.run_id || self.adopted.iter().any(|r| r == run) {
            Outcome::Consumed(ConsumedBy::Line(line))
        } else {
            Outcome::Consumed(ConsumedBy::AnotherRun { line, shard })
        }
    }
}

/// Longest expiry given to Redis: beyond it (a century) an entry simply does not expire. Redis
/// refuses expiries that overflow its millisecond clock, and one refused `SET` would fail the
/// whole pipeline, so a token with an absurd `exp` must not reach it as such.
const MAX_TTL: i64 = 100 * 365 * 86_400;

/// Seconds an entry stays live: while `expires_at >= now`, as in memory, so through second
/// `expires_at − now`; `None` for entries that never expire.
fn ttl(expires_at: i64, now: i64) -> Option<i64> {
    let ttl = expires_at.saturating_sub(now).saturating_add(1).max(1);
    (expires_at != NEVER && ttl <= MAX_TTL).then_some(ttl)
}

fn parse_value(held: &[u8]) -> Option<(&str, Shard, u64)> {
    let text = std::str::from_utf8(held).ok()?;
    let mut parts = text.split(' ');
    let run = parts.next()?;
    let shard = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((run, shard, line))
}

/// A random identity for this run: 16 hex digits.
fn new_run_id() -> String {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // No system randomness: fall back on what differs between processes.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = (nanos ^ (u64::from(std::process::id()) << 32)).to_be_bytes();
    }
    crate::hex::lower(&bytes)
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_back() {
        assert_eq!(
            parse_value(b"00ff 1/3 17"),
            Some(("00ff", Shard { index: 1, count: 3 }, 17))
        );
        for bad in [
            &b"00ff 1/3"[..],
            b"00ff 1/3 x",
            b"a b c d",
            b"",
            b"\xff 0/1 1",
        ] {
            assert_eq!(parse_value(bad), None);
        }
    }

    #[test]
    fn expiries_are_what_memory_keeps_and_never_overflow() {
        assert_eq!(ttl(1_000, 900), Some(101));
        assert_eq!(ttl(900, 900), Some(1), "live through its last second");
        assert_eq!(ttl(800, 900), Some(1), "never zero or negative");
        assert_eq!(ttl(NEVER, 900), None);
        assert_eq!(ttl(i64::MAX - 1, 0), None, "a token with an absurd exp");
        assert_eq!(ttl(900 + MAX_TTL, 900), None);
        assert_eq!(ttl(900 + MAX_TTL - 1, 900), Some(MAX_TTL));
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("redis://user:secret@10.0.0.1:6379/2"),
            "redis://***@10.0.0.1:6379/2"
        );
        assert_eq!(
            redact("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(new_run_id(), new_run_id());
        assert_eq!(new_run_id().len(), 16);
    }
}
