//! Selectors and node aliases.
//!
//! A record's selectors are built into one reused buffer ([`SelectorSet`]), then sorted bytewise
//! and de-duplicated, as SPIRE stores them. Node aliases match by SPIRE's subset rule through an
//! inverted index ([`AliasIndex`]): each selector of the record bumps a hit count on the aliases
//! that list it, and an alias matches when its hits equal its selector count, so the cost grows
//! with the record's selectors, not with the number of aliases.

use foldhash::{HashMap, HashMapExt};
use std::ops::Range;

/// A record's selectors, `type:value` strings in one buffer.
#[derive(Default)]
pub struct SelectorSet {
    buf: String,
    spans: Vec<Range<usize>>,
}

impl SelectorSet {
    /// Empties the set, keeping its allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    /// Adds one selector whose text `write` appends to the buffer it is given.
    pub fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.buf.len();
        write(&mut self.buf);
        self.spans.push(start..self.buf.len());
    }

    /// Adds one selector made of `parts` joined by `:`.
    pub fn push(&mut self, parts: &[&str]) {
        self.push_with(|buf| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    buf.push(':');
                }
                buf.push_str(part);
            }
        });
    }

    /// Removes the last selector added (used when a value turned out not to render).
    pub fn pop(&mut self) {
        if let Some(span) = self.spans.pop() {
            self.buf.truncate(span.start);
        }
    }

    /// Sorts bytewise and removes duplicates.
    pub fn sort_dedup(&mut self) {
        let buf = &self.buf;
        // Claims often come with their names in order (encoders that sort map keys), and then
        // so do the selectors: strictly increasing leaves nothing to sort or remove.
        let text = |span: &Range<usize>| buf.as_bytes().get(span.clone()).unwrap_or_default();
        if self
            .spans
            .windows(2)
            .all(|pair| matches!(pair, [a, b] if crate::order::less(text(a), text(b))))
        {
            return;
        }
        self.spans.sort_unstable_by(|a, b| text(a).cmp(text(b)));
        self.spans.dedup_by(|a, b| text(a) == text(b));
    }

    /// The number of selectors.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The selectors, in their current order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans.iter().map(|span| &self.buf[span.clone()])
    }
}

/// Node aliases compiled for matching.
#[derive(Debug, Default)]
pub struct AliasIndex {
    /// SPIFFE IDs, sorted and distinct; an alias's index here is its id.
    ids: Vec<Box<str>>,
    /// For each id, the number of distinct selectors of the alias (or of each alias entry
    /// sharing the id: entries are kept apart below).
    entries: Vec<AliasEntry>,
    by_selector: HashMap<Box<str>, Vec<u32>>,
}

#[derive(Debug)]
struct AliasEntry {
    id: u32,
    needed: u32,
}

/// Per-worker scratch for [`AliasIndex::matches`].
#[derive(Default)]
pub struct AliasScratch {
    hits: Vec<u32>,
    touched: Vec<u32>,
    matched: Vec<u32>,
}

impl AliasIndex {
    /// Builds the index from `(spiffe_id, selectors)` pairs. Selectors must be `type:value`.
    pub fn new(aliases: &[(String, Vec<String>)]) -> Result<AliasIndex, String> {
        let mut ids: Vec<Box<str>> = aliases.iter().map(|(id, _)| id.as_str().into()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut entries = Vec::with_capacity(aliases.len());
        let mut by_selector: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        for (n, (id, selectors)) in aliases.iter().enumerate() {
            let mut distinct: Vec<&str> = selectors.iter().map(String::as_str).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.is_empty() {
                return Err(format!("node_alias[{n}] ({id}): selectors is empty"));
            }
            // SPIRE's entry API (SelectorsFromProto): a type, then ':', then a value, both
            // non-empty (the type cannot hold ':', as it ends at the first one).
            for selector in &distinct {
                match selector.split_once(':') {
                    None => {
                        return Err(format!(
                            "node_alias[{n}] ({id}): selector {selector:?} is not type:value"
                        ))
                    }
                    Some(("", _)) => {
                        return Err(format!(
                            "node_alias[{n}] ({id}): selector {selector:?}: missing selector type"
                        ))
                    }
                    Some((_, "")) => {
                        return Err(format!(
                            "node_alias[{n}] ({id}): selector {selector:?}: missing selector value"
                        ))
                    }
                    Some(_) => {}
                }
            }
            let entry = entries.len() as u32;
            let id = ids.binary_search_by(|probe| probe.as_ref().cmp(id.as_str()));
            entries.push(AliasEntry {
                id: id.unwrap_or(0) as u32,
                needed: distinct.len() as u32,
            });
            for selector in distinct {
                by_selector.entry(selector.into()).or_default().push(entry);
            }
        }
        Ok(AliasIndex {
            ids,
            entries,
            by_selector,
        })
    }

    /// The aliases' SPIFFE IDs, sorted and distinct.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.ids.iter().map(|id| &**id)
    }

    /// True when no aliases are configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The SPIFFE IDs of the aliases whose selectors are all in `selectors` (which must be
    /// distinct), sorted and distinct.
    pub fn matches<'s>(
        &'s self,
        selectors: &SelectorSet,
        scratch: &'s mut AliasScratch,
    ) -> impl Iterator<Item = &'s str> + 's {
        scratch.matched.clear();
        if !self.entries.is_empty() {
            scratch.hits.resize(self.entries.len(), 0);
            for selector in selectors.iter() {
                let Some(entries) = self.by_selector.get(selector) else {
                    continue;
                };
                for &entry in entries {
                    let hits = &mut scratch.hits[entry as usize];
                    if *hits == 0 {
                        scratch.touched.push(entry);
                    }
                    *hits += 1;
                }
            }
            for &entry in &scratch.touched {
                let alias = &self.entries[entry as usize];
                if scratch.hits[entry as usize] == alias.needed {
                    scratch.matched.push(alias.id);
                }
                scratch.hits[entry as usize] = 0;
            }
            scratch.touched.clear();
            scratch.matched.sort_unstable();
            scratch.matched.dedup();
        }
        scratch
            .matched
            .iter()
            .map(|&id| self.ids[id as usize].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(selectors: &[&str]) -> SelectorSet {
        let mut set = SelectorSet::default();
        for s in selectors {
            set.push(&[s]);
        }
        set.sort_dedup();
        set
    }

    #[test]
    fn sorts_bytewise_and_dedups() {
        let s = set(&["jwt:b", "jwt:a", "jwt:B", "jwt:a", "jwt:a:x"]);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            ["jwt:B", "jwt:a", "jwt:a:x", "jwt:b"]
        );
    }

    proptest::proptest! {
        /// Sorted input (taken as is) and any other order give the same set as a BTreeSet.
        /// Short items and items with a shared 5-byte prefix, so that both the inline
        /// eight-byte compare and its fallback decide the order check.
        #[test]
        fn sort_dedup_is_a_sorted_set(
            mut items in proptest::collection::vec("(jwt:p)?[ab:]{0,6}", 0..12),
            presort in proptest::bool::ANY,
        ) {
            if presort {
                items.sort();
            }
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            let want: std::collections::BTreeSet<&str> = refs.iter().copied().collect();
            let got = set(&refs);
            proptest::prop_assert_eq!(got.iter().collect::<Vec<_>>(), want.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn aliases_match_by_subset_rule() {
        let index = AliasIndex::new(&[
            ("spiffe://td/blue".into(), vec!["jwt:pool:blue".into()]),
            (
                "spiffe://td/blue-eu".into(),
                vec!["jwt:pool:blue".into(), "jwt:region:eu".into()],
            ),
            ("spiffe://td/blue".into(), vec!["jwt:pool:azure".into()]),
            ("spiffe://td/green".into(), vec!["jwt:pool:green".into()]),
        ])
        .unwrap();
        let mut scratch = AliasScratch::default();
        let got: Vec<String> = index
            .matches(&set(&["jwt:pool:blue", "jwt:sub:x"]), &mut scratch)
            .map(String::from)
            .collect();
        assert_eq!(got, ["spiffe://td/blue"]);
        let got: Vec<String> = index
            .matches(
                &set(&["jwt:region:eu", "jwt:pool:blue", "jwt:pool:azure"]),
                &mut scratch,
            )
            .map(String::from)
            .collect();
        assert_eq!(got, ["spiffe://td/blue", "spiffe://td/blue-eu"]);
        assert_eq!(index.matches(&set(&[]), &mut scratch).count(), 0);
    }

    #[test]
    fn alias_selectors_must_be_type_value() {
        let err = AliasIndex::new(&[("spiffe://td/x".into(), vec!["nocolon".into()])]).unwrap_err();
        assert!(err.contains("type:value"), "{err}");
    }
}
