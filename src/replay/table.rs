//! The in-memory single-use table: key digests and their entries in one flat array of 32-byte
//! slots, open addressing with linear probing, at most three quarters full.
//!
//! Why not a map crate: the table outgrows the caches (a 30,000-key run fills 2 MiB, a million
//! keys 64 MiB), so nearly every check misses the cache, and one check at a time the misses follow
//! one another: ~1.2 points of the engine/ceiling ratio on RS256 (PERF.md). The writer checks a
//! batch of keys at once, so [`DigestTable::touch`] first reads every slot the batch will probe,
//! letting the processor overlap those misses, then the checks find their slots in cache. That
//! needs the slot's address from the key before the lookup, which neither dashmap nor hashbrown
//! offers. A slot holds the digest and its entry together, so a check touches one cache line
//! (two slots a line), not a control group and then a bucket.
//!
//! Slots are never emptied (an expired entry is overwritten only by its own key, as before), so
//! probing needs no tombstones: a probe ends at its key or at the first empty slot. The slot of a
//! digest comes from a keyed hash of it (foldhash, seeded at random per table), so keys ground to
//! share their slots cannot pile up into long probes.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

/// The stored form of a key: the first 16 bytes of its SHA-256.
pub type KeyDigest = [u8; 16];

/// What the table keeps for a consumed key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When the entry may be forgotten (Unix seconds).
    pub expires_at: i64,
    /// The 1-based input line that consumed the key; 0 for an earlier run.
    pub line: u64,
}

#[derive(Clone, Copy)]
struct Slot {
    digest: KeyDigest,
    expires_at: i64,
    /// [`EMPTY`] for a free slot.
    line: u64,
}

/// `line` of a free slot: no input has 2^64 - 1 lines.
const EMPTY: u64 = u64::MAX;

const FREE: Slot = Slot {
    digest: [0; 16],
    expires_at: 0,
    line: EMPTY,
};

/// Slots of a table that has not been given any room yet.
const MIN_SLOTS: usize = 16;

/// Consumed key digests and their entries.
#[derive(Default)]
pub struct DigestTable {
    /// A power of two in length, at most three quarters of them taken.
    slots: Vec<Slot>,
    len: usize,
    hasher: RandomState,
}

impl DigestTable {
    /// The number of digests held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// How many digests fit before the table grows.
    pub fn capacity(&self) -> usize {
        self.slots.len() / 4 * 3
    }

    /// Makes room for `additional` more digests at once (growing by doubling as they arrive
    /// would rehash every digest again and again).
    pub fn reserve(&mut self, additional: usize) {
        let wanted = self.len.saturating_add(additional);
        if wanted > self.capacity() {
            let slots = wanted.saturating_add(wanted / 3 + 1).next_power_of_two();
            self.resize(slots.max(MIN_SLOTS));
        }
    }

    /// Reads the slot `digest`'s probe starts at, so that it is in cache for the check that
    /// follows (a hint: nothing is changed). Touching a batch's slots one after another lets the
    /// processor wait for all their cache misses at once.
    pub fn touch(&self, digest: &KeyDigest) {
        if let Some(slot) = self.slots.get(self.home(digest)) {
            std::hint::black_box(slot.line);
        }
    }

    /// The entry of `digest`, if held.
    #[cfg(test)]
    pub fn get(&self, digest: &KeyDigest) -> Option<Entry> {
        let at = self.find(digest)?;
        let slot = self.slots.get(at)?;
        (slot.line != EMPTY).then_some(Entry {
            expires_at: slot.expires_at,
            line: slot.line,
        })
    }

    /// Stores `entry` for `digest`, replacing the entry it had.
    pub fn insert(&mut self, digest: &KeyDigest, entry: Entry) {
        let _ = self.insert_unless(digest, entry, |_| false);
    }

    /// Stores `entry` for `digest` unless `keep` says the entry already held must stay, in which
    /// case that entry is returned and nothing changes: one probe both reads and writes.
    pub fn insert_unless(
        &mut self,
        digest: &KeyDigest,
        entry: Entry,
        keep: impl FnOnce(Entry) -> bool,
    ) -> Result<(), Entry> {
        if self.len >= self.capacity() {
            self.reserve(1);
        }
        let Some(at) = self.find(digest) else {
            return Ok(()); // not reached: the table always has a free slot
        };
        let Some(slot) = self.slots.get_mut(at) else {
            return Ok(());
        };
        if slot.line == EMPTY {
            self.len += 1;
        } else {
            let held = Entry {
                expires_at: slot.expires_at,
                line: slot.line,
            };
            if keep(held) {
                return Err(held);
            }
        }
        // An entry's line is never EMPTY: a line number that large cannot be read.
        *slot = Slot {
            digest: *digest,
            expires_at: entry.expires_at,
            line: entry.line.min(EMPTY - 1),
        };
        Ok(())
    }

    /// Every digest held, with its entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (KeyDigest, Entry)> + '_ {
        self.slots.iter().filter(|s| s.line != EMPTY).map(|s| {
            (
                s.digest,
                Entry {
                    expires_at: s.expires_at,
                    line: s.line,
                },
            )
        })
    }

    fn home(&self, digest: &KeyDigest) -> usize {
        (self.hasher.hash_one(digest) as usize) & self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `digest`, or the free slot where it would go; `None` only for a table
    /// without slots.
    fn find(&self, digest: &KeyDigest) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = self.home(digest);
        // At most three quarters of the slots are taken, so a free slot ends every probe.
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(at)?;
            if slot.line == EMPTY || slot.digest == *digest {
                return Some(at);
            }
            at = (at + 1) & mask;
        }
        None
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![FREE; slots]);
        self.len = 0;
        for slot in old.iter().filter(|s| s.line != EMPTY) {
            self.insert(
                &slot.digest,
                Entry {
                    expires_at: slot.expires_at,
                    line: slot.line,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn slots_are_32_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
    }

    #[test]
    fn reserved_room_is_kept_at_most_three_quarters_full() {
        let mut table = DigestTable::default();
        assert_eq!(table.capacity(), 0);
        table.reserve(1000);
        assert!(table.capacity() >= 1000);
        assert!(table.slots.len().is_power_of_two());
        let room = table.capacity();
        for i in 0..1000u32 {
            let mut digest = [0u8; 16];
            digest[..4].copy_from_slice(&i.to_le_bytes());
            table.insert(
                &digest,
                Entry {
                    expires_at: 1,
                    line: u64::from(i) + 1,
                },
            );
        }
        assert_eq!(table.capacity(), room, "grew although room was reserved");
        assert_eq!(table.len(), 1000);
        assert!(table.len() * 4 <= table.slots.len() * 3);
    }

    proptest! {
        /// Any sequence of inserts, conditional inserts, lookups and touches on a table (grown
        /// from nothing, or given room first) agrees with a HashMap; digests from a small set, so
        /// keys repeat. The all-zero digest and the largest line are included.
        #[test]
        fn behaves_as_a_map(
            ops in proptest::collection::vec((0u8..40, 0u8..4, any::<i64>(), any::<u64>()), 0..400),
            room in proptest::option::of(0usize..300),
        ) {
            let mut table = DigestTable::default();
            if let Some(room) = room {
                table.reserve(room);
            }
            let mut model: HashMap<KeyDigest, Entry> = HashMap::new();
            for (key, op, expires_at, line) in ops {
                let mut digest = [0u8; 16];
                digest[0] = key / 2;
                digest[15] = key % 2;
                let line = line.min(EMPTY - 1);
                match op {
                    0 => {
                        table.insert(&digest, Entry { expires_at, line });
                        model.insert(digest, Entry { expires_at, line });
                    }
                    1 => table.touch(&digest),
                    2 => {
                        // Keep what is held when it expires later than the newcomer.
                        let keep = |held: Entry| held.expires_at > expires_at;
                        let want = match model.get(&digest) {
                            Some(&held) if keep(held) => Err(held),
                            _ => {
                                model.insert(digest, Entry { expires_at, line });
                                Ok(())
                            }
                        };
                        prop_assert_eq!(table.insert_unless(&digest, Entry { expires_at, line }, keep), want);
                    }
                    _ => prop_assert_eq!(table.get(&digest), model.get(&digest).copied()),
                }
                prop_assert_eq!(table.len(), model.len());
            }
            let mut held: Vec<_> = table.iter().collect();
            held.sort_unstable_by_key(|(d, _)| *d);
            let mut want: Vec<_> = model.into_iter().collect();
            want.sort_unstable_by_key(|(d, _)| *d);
            prop_assert_eq!(held, want);
        }
    }
}
