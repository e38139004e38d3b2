//! Single use (SPEC §6): the store of consumed keys, and its state file.
//!
//! Keys are strings namespaced by kind: `jwt:<issuer name>:<jti>`, `x509pop:<nonce base64>`,
//! `join_token:<token>`. Issuer names cannot contain `:`, so keys of different issuers never
//! collide. The store keeps the first 16 bytes of each key's SHA-256 rather than the key: a fixed
//! 32-byte entry with no allocation per insert (a collision needs ~2^64 keys), and the state file
//! holds no token material. Each entry remembers when it may be forgotten and which input line
//! consumed it.
//!
//! Within one run the ordered writer is the store's only caller, which is what makes "first
//! record in input order wins" hold at any thread count; it checks the keys of a batch of
//! chunks together, which lets the table overlap its cache misses (`replay/table.rs`). Runs
//! that share single use go through Redis instead ([`redis`]).
//!
//! The state file, and what is checked when it is loaded, are in [`state`].

pub mod redis;
pub mod state;
mod table;

use crate::shard::Shard;

/// Expiry used for keys that never expire (join tokens).
pub const NEVER: i64 = i64::MAX;

/// Where a consumed key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumedBy {
    /// The 1-based input line of this run.
    Line(u64),
    /// A previous run (loaded from the state file), or an unreadable shared-store entry.
    EarlierRun,
    /// Another run sharing the store (Redis): its input line and shard.
    AnotherRun {
        /// The 1-based input line of that run.
        line: u64,
        /// That run's shard.
        shard: Shard,
    },
}

/// One single-use check the ordered writer asks of the store.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// The in-memory key (`jwt:<issuer>:<jti>`, …).
    pub key: &'a str,
    /// When the entry may be forgotten (Unix seconds; [`NEVER`] for join tokens).
    pub expires_at: i64,
    /// The 1-based input line of the claiming record.
    pub line: u64,
}

/// The store's answer to one claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The key was free and is now consumed by the claim.
    Fresh,
    /// The key was already consumed.
    Consumed(ConsumedBy),
    /// The check could not complete (the shared store is unreachable): do not attest.
    Unavailable,
}

/// Where a run's single-use state lives.
pub enum SingleUse {
    /// In this process (the default), optionally loaded from and saved to a state file.
    Memory(ReplayStore),
    /// In Redis, shared with other processes.
    Redis(Box<redis::RedisStore>),
}

impl SingleUse {
    /// Checks and consumes `claims` in input order, appending one outcome per claim to `out`.
    pub fn check(&mut self, claims: &[Claim<'_>], now: i64, out: &mut Vec<Outcome>) {
        match self {
            SingleUse::Memory(store) => store.check(claims, now, out),
            SingleUse::Redis(store) => store.check(claims, now, out),
        }
    }

    /// Makes room for about `keys` more claims (see [`ReplayStore::reserve`]; a shared store
    /// needs none).
    pub fn reserve(&mut self, keys: usize) {
        if let SingleUse::Memory(store) = self {
            store.reserve(keys);
        }
    }

    /// Where the state lives, for messages.
    pub fn address(&self) -> &str {
        match self {
            SingleUse::Memory(_) => "the in-memory store",
            SingleUse::Redis(store) => store.address(),
        }
    }
}

use table::{DigestTable, Entry, KeyDigest};

pub(crate) fn digest_key(key: &str) -> KeyDigest {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.as_ref()[..16]);
    out
}

impl Entry {
    fn by(self) -> ConsumedBy {
        match self.line {
            0 => ConsumedBy::EarlierRun,
            line => ConsumedBy::Line(line),
        }
    }
}

/// Consumed single-use keys.
pub struct ReplayStore {
    /// The digests, spread over [`SHARDS`] tables by their first byte, so that a table growing
    /// holds its old slots beside its new ones for a sixteenth of the keys, not all of them.
    shards: Box<[DigestTable; SHARDS]>,
    /// The digests of the batch being checked (kept for its allocation).
    digests: Vec<KeyDigest>,
    /// The state file the store was loaded from, if any.
    origin: state::StateOrigin,
}

/// [`ReplayStore::reserve`] never makes room for more keys than this up front (~128 MiB of slots).
const MAX_RESERVED_KEYS: usize = 2 << 20;

/// Tables in a [`ReplayStore`].
const SHARDS: usize = 16;

impl Default for ReplayStore {
    fn default() -> ReplayStore {
        ReplayStore {
            shards: Box::new(std::array::from_fn(|_| DigestTable::default())),
            digests: Vec::new(),
            origin: state::StateOrigin::default(),
        }
    }
}

impl ReplayStore {
    /// An empty store.
    pub fn new() -> ReplayStore {
        ReplayStore::default()
    }

    /// Consumes `key` for `line` unless it is already consumed (and not expired as of `now`);
    /// then says who consumed it.
    pub fn try_consume(
        &mut self,
        key: &str,
        expires_at: i64,
        line: u64,
        now: i64,
    ) -> Result<(), ConsumedBy> {
        self.consume_digest(&digest_key(key), Entry { expires_at, line }, now)
    }

    /// [`ReplayStore::try_consume`] for each claim in order, appending one outcome per claim to
    /// `out`: first every key's digest, then a read of every slot they will probe (see
    /// [`DigestTable::touch`]), then the checks.
    fn check(&mut self, claims: &[Claim<'_>], now: i64, out: &mut Vec<Outcome>) {
        self.reserve_exactly(claims.len());
        let mut digests = std::mem::take(&mut self.digests);
        digests.clear();
        digests.extend(claims.iter().map(|claim| digest_key(claim.key)));
        for digest in &digests {
            self.shard(digest).touch(digest);
        }
        out.extend(claims.iter().zip(&digests).map(|(claim, digest)| {
            let fresh = Entry {
                expires_at: claim.expires_at,
                line: claim.line,
            };
            match self.consume_digest(digest, fresh, now) {
                Ok(()) => Outcome::Fresh,
                Err(by) => Outcome::Consumed(by),
            }
        }));
        self.digests = digests;
    }

    fn consume_digest(
        &mut self,
        digest: &KeyDigest,
        fresh: Entry,
        now: i64,
    ) -> Result<(), ConsumedBy> {
        // A key held and not yet expired stays consumed; otherwise it is (again) free.
        self.shard(digest)
            .insert_unless(digest, fresh, |held| held.expires_at >= now)
            .map_err(Entry::by)
    }

    /// Makes room for about `keys` more keys at once (at most `MAX_RESERVED_KEYS`, 2 Mi). Grown
    /// key by key, the table doubles again and again, each time rehashing every key into
    /// freshly faulted memory while the old table is still held; a run that knows roughly how
    /// many records it has asks once instead. Only a hint: past it the table grows as it would
    /// have.
    pub fn reserve(&mut self, keys: usize) {
        self.reserve_exactly(keys.min(MAX_RESERVED_KEYS));
    }

    /// Room for `keys` more keys in every shard's share (an eighth more than the even share:
    /// keys spread unevenly).
    fn reserve_exactly(&mut self, keys: usize) {
        let per_shard = keys.div_ceil(SHARDS) + keys.div_ceil(SHARDS * 8);
        for shard in self.shards.iter_mut() {
            shard.reserve(per_shard);
        }
    }

    fn shard(&mut self, digest: &KeyDigest) -> &mut DigestTable {
        // An index below SHARDS into an array of SHARDS: cannot fail.
        &mut self.shards[usize::from(digest[0]) % SHARDS]
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(DigestTable::len).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Describes a replay key for a message: `jti "x" of issuer y`, `challenge nonce …`.
pub fn describe_key(key: &str) -> String {
    use crate::text::clip;
    if let Some(rest) = key.strip_prefix("jwt:") {
        let (issuer, jti) = rest.split_once(':').unwrap_or((rest, ""));
        return format!("jti {:?} of issuer {issuer:?}", clip(jti));
    }
    if let Some(nonce) = key.strip_prefix("x509pop:") {
        return format!("challenge nonce {nonce}");
    }
    if let Some(token) = key.strip_prefix("join_token:") {
        return format!("join token {:?}", clip(token));
    }
    format!("key {:?}", clip(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_consumer_wins_until_expiry() {
        let mut store = ReplayStore::new();
        assert_eq!(store.try_consume("jwt:a:1", 100, 1, 50), Ok(()));
        assert_eq!(
            store.try_consume("jwt:a:1", 100, 2, 50),
            Err(ConsumedBy::Line(1))
        );
        assert_eq!(store.try_consume("jwt:b:1", 100, 3, 50), Ok(()));
        // Past its expiry the key is free again (its token would fail exp anyway).
        assert_eq!(store.try_consume("jwt:a:1", 300, 4, 101), Ok(()));
    }

    proptest::proptest! {
        /// Checking claims in batches (digests, touches, then checks) gives the outcomes that
        /// checking them one by one gives, repeats within a batch included.
        #[test]
        fn batches_check_as_one_by_one(
            batches in proptest::collection::vec(
                proptest::collection::vec((0u8..12, 40i64..60), 0..40), 0..6),
        ) {
            let mut batched = SingleUse::Memory(ReplayStore::new());
            let mut single = ReplayStore::new();
            let mut line = 0;
            for (now, batch) in (45..).zip(&batches) {
                let keys: Vec<String> = batch.iter().map(|(k, _)| format!("jwt:a:{k}")).collect();
                let claims: Vec<Claim<'_>> = keys.iter().zip(batch).map(|(key, &(_, expires_at))| {
                    line += 1;
                    Claim { key, expires_at, line }
                }).collect();
                let mut got = Vec::new();
                batched.check(&claims, now, &mut got);
                let want: Vec<Outcome> = claims.iter().map(|c| {
                    match single.try_consume(c.key, c.expires_at, c.line, now) {
                        Ok(()) => Outcome::Fresh,
                        Err(by) => Outcome::Consumed(by),
                    }
                }).collect();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn reserved_room_holds_the_keys_without_growing() {
        let mut store = ReplayStore::new();
        store.reserve(20_000);
        let capacity =
            |store: &ReplayStore| -> usize { store.shards.iter().map(DigestTable::capacity).sum() };
        let room = capacity(&store);
        assert!(room >= 20_000, "{room}");
        for i in 0..20_000 {
            assert_eq!(
                store.try_consume(&format!("jwt:a:{i}"), 100, i + 1, 50),
                Ok(())
            );
        }
        assert_eq!(capacity(&store), room, "the table grew after all");
        assert_eq!(store.len(), 20_000);
        assert_eq!(
            store.try_consume("jwt:a:7", 100, 99_999, 50),
            Err(ConsumedBy::Line(8))
        );
    }
}
