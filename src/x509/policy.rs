//! Certificate policy validation as Go 1.26's `crypto/x509` does it (`policiesValid`: RFC 5280
//! §6.1 with RFC 9618's policy graph), for a caller that asks for no particular policy (any
//! policy, no explicit-policy or mapping inhibition requested), as SPIRE does.
//!
//! Only policy constraints (requireExplicitPolicy) and policy mappings below the trust anchor
//! can make a chain fail, so chains without them skip the graph.

use std::collections::{BTreeMap, BTreeSet};

use super::cert::Certificate;
use super::oid::ANY_POLICY;

struct Node {
    valid: Vec<u8>,
    expected: Vec<Vec<u8>>,
    parents: BTreeSet<usize>,
    children: BTreeSet<usize>,
}

struct Graph {
    nodes: Vec<Node>,
    strata: Vec<BTreeMap<Vec<u8>, usize>>,
    parent_index: BTreeMap<Vec<u8>, Vec<usize>>,
    depth: usize,
}

impl Graph {
    fn new() -> Graph {
        let root = Node {
            valid: ANY_POLICY.to_vec(),
            expected: vec![ANY_POLICY.to_vec()],
            parents: BTreeSet::new(),
            children: BTreeSet::new(),
        };
        Graph {
            nodes: vec![root],
            strata: vec![BTreeMap::from([(ANY_POLICY.to_vec(), 0)])],
            parent_index: BTreeMap::new(),
            depth: 0,
        }
    }

    fn new_node(&mut self, valid: Vec<u8>, parents: &[usize]) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            expected: vec![valid.clone()],
            valid,
            parents: parents.iter().copied().collect(),
            children: BTreeSet::new(),
        });
        for &p in parents {
            self.nodes[p].children.insert(id);
        }
        id
    }

    fn insert(&mut self, n: usize) {
        let key = self.nodes[n].valid.clone();
        self.strata[self.depth].insert(key, n);
    }

    fn parents_with_expected(&self, expected: &[u8]) -> Vec<usize> {
        if self.depth == 0 {
            return Vec::new();
        }
        self.parent_index.get(expected).cloned().unwrap_or_default()
    }

    fn parent_with_any(&self) -> Option<usize> {
        if self.depth == 0 {
            return None;
        }
        self.strata[self.depth - 1].get(ANY_POLICY).copied()
    }

    fn parents(&self) -> Vec<usize> {
        if self.depth == 0 {
            return Vec::new();
        }
        self.strata[self.depth - 1].values().copied().collect()
    }

    fn leaf_with(&self, policy: &[u8]) -> Option<usize> {
        self.strata[self.depth].get(policy).copied()
    }

    fn delete_leaf(&mut self, policy: &[u8]) {
        let Some(n) = self.strata[self.depth].remove(policy) else {
            return;
        };
        for p in std::mem::take(&mut self.nodes[n].parents) {
            self.nodes[p].children.remove(&n);
        }
        for c in std::mem::take(&mut self.nodes[n].children) {
            self.nodes[c].parents.remove(&n);
        }
    }

    fn valid_policy_nodes(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for i in (0..=self.depth).rev() {
            for &n in self.strata[i].values() {
                let node = &self.nodes[n];
                if node.valid == ANY_POLICY {
                    continue;
                }
                if node.parents.len() == 1
                    && node
                        .parents
                        .iter()
                        .all(|&p| self.nodes[p].valid == ANY_POLICY)
                {
                    out.push(n);
                }
            }
        }
        out
    }

    fn prune(&mut self) {
        for i in (1..self.depth).rev() {
            let childless: Vec<(Vec<u8>, usize)> = self.strata[i]
                .iter()
                .filter(|(_, &n)| self.nodes[n].children.is_empty())
                .map(|(k, &n)| (k.clone(), n))
                .collect();
            for (key, n) in childless {
                for p in std::mem::take(&mut self.nodes[n].parents) {
                    self.nodes[p].children.remove(&n);
                }
                self.strata[i].remove(&key);
            }
        }
    }

    fn incr_depth(&mut self) {
        self.parent_index.clear();
        for &n in self.strata[self.depth].values() {
            for e in &self.nodes[n].expected {
                self.parent_index.entry(e.clone()).or_default().push(n);
            }
        }
        self.depth += 1;
        self.strata.push(BTreeMap::new());
    }
}

/// Go's `policiesValid(chain, VerifyOptions{})`; `chain[0]` is the leaf, the last element the
/// trust anchor.
pub fn policies_valid(chain: &[&Certificate]) -> bool {
    if chain.len() == 1 {
        return true;
    }
    let n = chain.len() - 1;
    let below_anchor = &chain[..n];
    if below_anchor
        .iter()
        .all(|c| c.require_explicit_policy.is_none() && c.policy_mappings.is_empty())
    {
        return true;
    }
    let bound = (n + 1) as i64;
    let (mut inhibit_any, mut explicit, mut mapping) = (bound, bound, bound);
    let mut graph = Some(Graph::new());
    for i in (0..n).rev() {
        let cert = chain[i];
        let self_signed = cert.raw_issuer() == cert.raw_subject();
        if cert.policies.is_empty() {
            graph = None;
        }
        if explicit == 0 && graph.is_none() {
            return false;
        }
        if let Some(pg) = graph.as_mut() {
            pg.incr_depth();
            let mut policies = BTreeSet::new();
            for policy in &cert.policies {
                policies.insert(policy.clone());
                if policy == ANY_POLICY {
                    continue;
                }
                let mut parents = pg.parents_with_expected(policy);
                if parents.is_empty() {
                    if let Some(any) = pg.parent_with_any() {
                        parents = vec![any];
                    }
                }
                if !parents.is_empty() {
                    let node = pg.new_node(policy.clone(), &parents);
                    pg.insert(node);
                }
            }
            if policies.contains(ANY_POLICY) && (inhibit_any > 0 || (n - i < n && self_signed)) {
                let mut missing: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
                for p in pg.parents() {
                    for expected in &pg.nodes[p].expected {
                        if pg.leaf_with(expected).is_none() {
                            missing.entry(expected.clone()).or_default().push(p);
                        }
                    }
                }
                for (oid, parents) in missing {
                    let node = pg.new_node(oid, &parents);
                    pg.insert(node);
                }
            }
            pg.prune();
            if i != 0 && !cert.policy_mappings.is_empty() {
                let mut mappings: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
                for (issuer, subject) in &cert.policy_mappings {
                    if mapping > 0 {
                        if issuer == ANY_POLICY || subject == ANY_POLICY {
                            return false;
                        }
                        mappings
                            .entry(issuer.clone())
                            .or_default()
                            .push(subject.clone());
                    } else {
                        pg.delete_leaf(issuer);
                    }
                }
                pg.prune();
                for (issuer, subjects) in mappings {
                    if let Some(m) = pg.leaf_with(&issuer) {
                        pg.nodes[m].expected = subjects;
                    } else if let Some(any) = pg.leaf_with(ANY_POLICY) {
                        let node = pg.new_node(issuer, &[any]);
                        pg.nodes[node].expected = subjects;
                        pg.insert(node);
                    }
                }
            }
        }
        if i != 0 {
            if !self_signed {
                explicit = (explicit - 1).max(0);
                mapping = (mapping - 1).max(0);
                inhibit_any = (inhibit_any - 1).max(0);
            }
            // Go applies a constraint only when it is zero or positive.
            let tighten = |current: &mut i64, v: Option<i64>| {
                if let Some(v) = v.filter(|&v| v >= 0) {
                    *current = (*current).min(v);
                }
            };
            tighten(&mut explicit, cert.require_explicit_policy);
            tighten(&mut mapping, cert.inhibit_policy_mapping);
            tighten(&mut inhibit_any, cert.inhibit_any_policy);
        }
    }
    if explicit > 0 {
        explicit -= 1;
    }
    if chain[0].require_explicit_policy == Some(0) {
        explicit = 0;
    }
    let mut valid_set = BTreeSet::new();
    if let Some(pg) = &graph {
        for n in pg.valid_policy_nodes() {
            valid_set.insert(pg.nodes[n].valid.clone());
        }
        if let Some(any) = pg.leaf_with(ANY_POLICY) {
            valid_set.insert(pg.nodes[any].valid.clone());
        }
    }
    !(explicit == 0 && valid_set.is_empty())
}
