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
//! State file: JSON Lines. The first line is a header with the entry count, so a truncated file
//! is detected; each following line is `{"key":"<32 hex digits>","expires_at":..}`, sorted by
//! key so the file is deterministic. It is written to a temp
//! file in the same folder, fsynced, and renamed over the old one, then the folder is fsynced.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

pub mod redis;
mod table;

use serde::{Deserialize, Serialize};

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
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StateHeader {
    fleet_attest_replay_state: u32,
    entries: u64,
}

#[derive(Serialize, Deserialize)]
struct StateEntry<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    expires_at: i64,
}

const STATE_VERSION: u32 = 2;

fn from_hex(text: &str) -> Option<KeyDigest> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
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

    /// Loads a state file, dropping entries that expired before `now`. A missing file is an
    /// empty store; a corrupt or truncated one is an error.
    pub fn load(path: &Path, now: i64) -> Result<ReplayStore, String> {
        let mut store = ReplayStore::new();
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(err) => return Err(format!("{}: {err}", path.display())),
        };
        let corrupt = |line: usize, what: String| {
            format!(
                "{}: line {line}: {what}; the replay state is corrupt (restore it or remove it \
                 knowingly: every key it holds could then attest again)",
                path.display()
            )
        };
        let mut lines = BufReader::new(file).lines();
        let header = lines
            .next()
            .ok_or_else(|| corrupt(1, "empty file".into()))?
            .map_err(|err| corrupt(1, err.to_string()))?;
        let header: StateHeader = serde_json::from_str(&header)
            .map_err(|err| corrupt(1, format!("bad header: {err}")))?;
        if header.fleet_attest_replay_state != STATE_VERSION {
            return Err(corrupt(
                1,
                format!(
                    "version {} is not {STATE_VERSION}",
                    header.fleet_attest_replay_state
                ),
            ));
        }
        // The header's count is only a hint until the lines bear it out (the reserve is capped).
        store.reserve(usize::try_from(header.entries).unwrap_or(usize::MAX));
        let mut count = 0u64;
        for (n, line) in lines.enumerate() {
            let line = line.map_err(|err| corrupt(n + 2, err.to_string()))?;
            let entry: StateEntry<'_> =
                serde_json::from_str(&line).map_err(|err| corrupt(n + 2, err.to_string()))?;
            let key = from_hex(&entry.key)
                .ok_or_else(|| corrupt(n + 2, "key is not 32 hex digits".into()))?;
            count += 1;
            if entry.expires_at >= now {
                store.shard(&key).insert(
                    &key,
                    Entry {
                        expires_at: entry.expires_at,
                        line: 0,
                    },
                );
            }
        }
        if count != header.entries {
            return Err(corrupt(
                count as usize + 2,
                format!("{count} entries, the header says {}", header.entries),
            ));
        }
        Ok(store)
    }

    /// Saves the store atomically (temp file, fsync, rename, fsync of the folder), leaving out
    /// entries that expired before `now`. Entries are sorted so the file is deterministic.
    pub fn save(&self, path: &Path, now: i64) -> Result<(), String> {
        let mut live: Vec<(KeyDigest, i64)> = self
            .shards
            .iter()
            .flat_map(DigestTable::iter)
            .filter(|(_, entry)| entry.expires_at >= now)
            .map(|(key, entry)| (key, entry.expires_at))
            .collect();
        live.sort_unstable();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| format!("{}: not a file path", path.display()))?;
        let tmp = dir.join(format!(
            ".{}.tmp.{}",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        let io = |err: std::io::Error| format!("{}: {err}", tmp.display());
        let file = File::create(&tmp).map_err(io)?;
        let mut out = BufWriter::new(file);
        let header = StateHeader {
            fleet_attest_replay_state: STATE_VERSION,
            entries: live.len() as u64,
        };
        write_line(&mut out, &header).map_err(io)?;
        for (key, expires_at) in &live {
            let entry = StateEntry {
                key: std::borrow::Cow::Owned(crate::hex::lower(key)),
                expires_at: *expires_at,
            };
            write_line(&mut out, &entry).map_err(io)?;
        }
        let file = out.into_inner().map_err(|err| io(err.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&tmp, path).map_err(|err| format!("{}: {err}", path.display()))?;
        if let Ok(dir) = File::open(dir) {
            // Persist the rename; not every platform can fsync a directory, hence no error.
            let _ = dir.sync_all();
        }
        Ok(())
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

fn write_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
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

    #[test]
    fn state_round_trips_and_drops_expired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut store = ReplayStore::new();
        store.try_consume("jwt:a:1", 100, 1, 0).unwrap();
        store.try_consume("join_token:t", NEVER, 2, 0).unwrap();
        store.try_consume("x509pop:old", 10, 3, 0).unwrap();
        store.save(&path, 50).unwrap();
        let mut loaded = ReplayStore::load(&path, 60).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(
            loaded.try_consume("jwt:a:1", 100, 9, 60),
            Err(ConsumedBy::EarlierRun)
        );
        let later = ReplayStore::load(&path, 200).unwrap();
        assert_eq!(later.len(), 1, "the jwt entry expired at 100");
    }

    #[test]
    fn corrupt_or_truncated_state_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut store = ReplayStore::new();
        store.try_consume("jwt:a:1", 100, 1, 0).unwrap();
        store.try_consume("jwt:a:2", 100, 2, 0).unwrap();
        store.save(&path, 0).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let truncated: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        fs::write(&path, truncated).unwrap();
        let err = ReplayStore::load(&path, 0).err().unwrap();
        assert!(err.contains("the header says 2"), "{err}");
        fs::write(&path, "garbage\n").unwrap();
        assert!(ReplayStore::load(&path, 0)
            .err()
            .unwrap()
            .contains("corrupt"));
        fs::write(&path, "").unwrap();
        assert!(ReplayStore::load(&path, 0).is_err());
        assert!(ReplayStore::load(&dir.path().join("absent"), 0)
            .unwrap()
            .is_empty());
    }
}
