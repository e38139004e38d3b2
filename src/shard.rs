//! `--shard K/N`: which records one of N cooperating processes takes.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`: the records whose 0-based line index modulo `count` is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// K, 0-based.
    pub index: u32,
    /// N, at least 1.
    pub count: u32,
}

impl Shard {
    /// Every record: shard 0/1.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// True when the record on 1-based input line `line` belongs to this shard.
    pub fn takes(self, line: u64) -> bool {
        self.count <= 1 || line.wrapping_sub(1) % u64::from(self.count) == u64::from(self.index)
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::ALL
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not K/N with 0 <= K < N (e.g. 0/3)");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = index.trim().parse().map_err(|_| bad())?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("1/3".parse(), Ok(Shard { index: 1, count: 3 }));
        assert_eq!("0/1".parse(), Ok(Shard::ALL));
        for bad in ["3/3", "0/0", "1", "-1/2", "a/b", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_lines() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for line in 1..=100u64 {
            let owners = shards.iter().filter(|s| s.takes(line)).count();
            assert_eq!(owners, 1, "line {line}");
        }
        assert!(shards[0].takes(1) && shards[1].takes(2) && shards[2].takes(3));
        assert!(shards[0].takes(4));
        assert!((1..=10).all(|line| Shard::ALL.takes(line)));
    }
}
