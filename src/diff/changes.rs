//! What changed for one record between two runs, and its JSON line.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::results::{Outcome, Status};

/// A kind of change. A record may show several (its agent ID and its selectors, say); the
/// first three exclude the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Attested before, rejected after.
    Lost,
    /// Rejected before, attested after.
    Gained,
    /// Rejected both times, with a different stage or code.
    RejectionChanged,
    /// Attested both times, with a different agent ID.
    AgentIdChanged,
    /// Attested both times, with selectors it did not have.
    SelectorsGained,
    /// Attested both times, without selectors it had.
    SelectorsLost,
    /// Attested both times, in node aliases it was not in.
    AliasesGained,
    /// Attested both times, out of node aliases it was in.
    AliasesLost,
    /// In the first file only.
    OnlyBefore,
    /// In the second file only.
    OnlyAfter,
}

impl Kind {
    /// Every kind, in the order tables list them.
    pub const ALL: [Kind; 10] = [
        Kind::Lost,
        Kind::Gained,
        Kind::RejectionChanged,
        Kind::AgentIdChanged,
        Kind::SelectorsGained,
        Kind::SelectorsLost,
        Kind::AliasesGained,
        Kind::AliasesLost,
        Kind::OnlyBefore,
        Kind::OnlyAfter,
    ];

    /// The stable name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lost => "lost",
            Kind::Gained => "gained",
            Kind::RejectionChanged => "rejection_changed",
            Kind::AgentIdChanged => "agent_id_changed",
            Kind::SelectorsGained => "selectors_gained",
            Kind::SelectorsLost => "selectors_lost",
            Kind::AliasesGained => "aliases_gained",
            Kind::AliasesLost => "aliases_lost",
            Kind::OnlyBefore => "only_before",
            Kind::OnlyAfter => "only_after",
        }
    }

    /// The words tables use.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Lost => "lost attestation",
            Kind::Gained => "gained attestation",
            Kind::RejectionChanged => "rejection changed",
            Kind::AgentIdChanged => "agent ID changed",
            Kind::SelectorsGained => "selectors gained",
            Kind::SelectorsLost => "selectors lost",
            Kind::AliasesGained => "aliases gained",
            Kind::AliasesLost => "aliases lost",
            Kind::OnlyBefore => "only in before",
            Kind::OnlyAfter => "only in after",
        }
    }

    /// What the groups of this kind are keyed by, for table headings.
    pub fn grouped_by(self) -> &'static str {
        match self {
            Kind::Lost => "by new rejection",
            Kind::Gained => "by old rejection",
            Kind::RejectionChanged => "old → new",
            Kind::AgentIdChanged => "",
            Kind::SelectorsGained | Kind::SelectorsLost => "by selector",
            Kind::AliasesGained | Kind::AliasesLost => "by alias",
            Kind::OnlyBefore | Kind::OnlyAfter => "by outcome",
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// The change of one record: which kinds, and the selectors and aliases it gained or lost.
#[derive(Debug)]
pub struct Change<'r> {
    /// The record's `id`.
    pub id: &'r str,
    /// Its result in the first file.
    pub before: Option<&'r Outcome<'r>>,
    /// Its result in the second file.
    pub after: Option<&'r Outcome<'r>>,
    kinds: u16,
    /// Selectors it has after but not before.
    pub selectors_gained: Vec<&'r str>,
    /// Selectors it had before but not after.
    pub selectors_lost: Vec<&'r str>,
    /// Aliases it is in after but not before.
    pub aliases_gained: Vec<&'r str>,
    /// Aliases it was in before but not after.
    pub aliases_lost: Vec<&'r str>,
}

/// `(gained, lost)`: what `after` has that `before` lacks, and the reverse, each sorted.
/// `None` on a side means the member was absent, and nothing is compared.
fn set_changes<'r>(
    before: Option<&'r [std::borrow::Cow<'r, str>]>,
    after: Option<&'r [std::borrow::Cow<'r, str>]>,
) -> (Vec<&'r str>, Vec<&'r str>) {
    match (before, after) {
        (Some(b), Some(a)) if b != a => {
            let b: BTreeSet<&str> = b.iter().map(|s| &**s).collect();
            let a: BTreeSet<&str> = a.iter().map(|s| &**s).collect();
            (
                a.difference(&b).copied().collect(),
                b.difference(&a).copied().collect(),
            )
        }
        _ => (Vec::new(), Vec::new()),
    }
}

impl<'r> Change<'r> {
    /// Compares a record's two results; `None` when nothing changed.
    ///
    /// Status first: attested → rejected is [`Kind::Lost`], the reverse [`Kind::Gained`];
    /// rejected twice with another stage or code is [`Kind::RejectionChanged`] (the message
    /// alone does not count: it quotes times and lines). Attested twice, the agent ID, the
    /// selectors and the aliases are compared, each only when both lines carry it.
    pub fn between(before: &'r Outcome<'r>, after: &'r Outcome<'r>) -> Option<Change<'r>> {
        let mut change = Change::bare(&before.id, Some(before), Some(after));
        match (before.status, after.status) {
            (Status::Attested, Status::Rejected) => change.kinds |= Kind::Lost.bit(),
            (Status::Rejected, Status::Attested) => change.kinds |= Kind::Gained.bit(),
            (Status::Rejected, Status::Rejected) => {
                if before.code != after.code || before.stage != after.stage {
                    change.kinds |= Kind::RejectionChanged.bit();
                }
            }
            (Status::Attested, Status::Attested) => {
                if let (Some(b), Some(a)) = (&before.agent_id, &after.agent_id) {
                    if b != a {
                        change.kinds |= Kind::AgentIdChanged.bit();
                    }
                }
                let (gained, lost) =
                    set_changes(before.selectors.as_deref(), after.selectors.as_deref());
                change.selectors_gained = gained;
                change.selectors_lost = lost;
                let (gained, lost) =
                    set_changes(before.aliases.as_deref(), after.aliases.as_deref());
                change.aliases_gained = gained;
                change.aliases_lost = lost;
                for (list, kind) in [
                    (&change.selectors_gained, Kind::SelectorsGained),
                    (&change.selectors_lost, Kind::SelectorsLost),
                    (&change.aliases_gained, Kind::AliasesGained),
                    (&change.aliases_lost, Kind::AliasesLost),
                ] {
                    if !list.is_empty() {
                        change.kinds |= kind.bit();
                    }
                }
            }
        }
        (change.kinds != 0).then_some(change)
    }

    /// A record found in the first file only.
    pub fn only_before(before: &'r Outcome<'r>) -> Change<'r> {
        let mut change = Change::bare(&before.id, Some(before), None);
        change.kinds = Kind::OnlyBefore.bit();
        change
    }

    /// A record found in the second file only.
    pub fn only_after(after: &'r Outcome<'r>) -> Change<'r> {
        let mut change = Change::bare(&after.id, None, Some(after));
        change.kinds = Kind::OnlyAfter.bit();
        change
    }

    fn bare(id: &'r str, before: Option<&'r Outcome<'r>>, after: Option<&'r Outcome<'r>>) -> Self {
        Change {
            id,
            before,
            after,
            kinds: 0,
            selectors_gained: Vec::new(),
            selectors_lost: Vec::new(),
            aliases_gained: Vec::new(),
            aliases_lost: Vec::new(),
        }
    }

    /// The kinds of this change, in [`Kind::ALL`] order.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL
            .into_iter()
            .filter(move |kind| self.kinds & kind.bit() != 0)
    }

    /// True when the change is of `kind`.
    pub fn is(&self, kind: Kind) -> bool {
        self.kinds & kind.bit() != 0
    }

    /// The keys this change counts under in `kind`'s groups (see [`Kind::grouped_by`]).
    pub fn group_keys(&self, kind: Kind) -> Vec<String> {
        let rejection =
            |o: Option<&Outcome<'_>>| o.and_then(Outcome::rejection).unwrap_or_default();
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        match kind {
            Kind::Lost => vec![rejection(self.after)],
            Kind::Gained => vec![rejection(self.before)],
            Kind::RejectionChanged => vec![format!(
                "{} → {}",
                rejection(self.before),
                rejection(self.after)
            )],
            Kind::AgentIdChanged => vec![String::new()],
            Kind::SelectorsGained => strings(&self.selectors_gained),
            Kind::SelectorsLost => strings(&self.selectors_lost),
            Kind::AliasesGained => strings(&self.aliases_gained),
            Kind::AliasesLost => strings(&self.aliases_lost),
            Kind::OnlyBefore => vec![self.before.map(Outcome::describe).unwrap_or_default()],
            Kind::OnlyAfter => vec![self.after.map(Outcome::describe).unwrap_or_default()],
        }
    }

    /// One line for people: what the record was and what it became.
    pub fn summary(&self) -> String {
        let side = |o: Option<&Outcome<'_>>| match o {
            None => "absent".to_owned(),
            Some(o) => o.describe(),
        };
        let mut text = format!("{} → {}", side(self.before), side(self.after));
        if self.is(Kind::Lost) || self.is(Kind::RejectionChanged) {
            if let Some(message) = self.after.and_then(|a| a.message.as_deref()) {
                text.push_str(": ");
                text.push_str(&crate::error::clip(message));
            }
        }
        if self.is(Kind::AgentIdChanged) {
            if let (Some(b), Some(a)) = (self.before, self.after) {
                text = format!(
                    "agent ID {} → {}",
                    b.agent_id.as_deref().unwrap_or_default(),
                    a.agent_id.as_deref().unwrap_or_default()
                );
            }
        }
        for (sign, what, list) in [
            ('+', "selectors", &self.selectors_gained),
            ('-', "selectors", &self.selectors_lost),
            ('+', "aliases", &self.aliases_gained),
            ('-', "aliases", &self.aliases_lost),
        ] {
            if !list.is_empty() {
                text.push_str(&format!("; {sign}{} {what}", list.len()));
            }
        }
        text
    }

    /// The JSON object of `diff --json`: `id`, `changes` (kind names), `before` and `after`
    /// (`null` when absent: `line`, `type`, `status`, and `stage`/`code`/`message` or
    /// `agent_id`), and the selectors and aliases gained and lost when there are any.
    pub fn to_json(&self) -> Value {
        let side = |o: Option<&Outcome<'_>>| match o {
            None => Value::Null,
            Some(o) => {
                let mut m = Map::new();
                m.insert("line".into(), json!(o.line));
                m.insert("type".into(), json!(o.kind));
                m.insert("status".into(), json!(o.status.as_str()));
                match o.status {
                    Status::Rejected => {
                        m.insert("stage".into(), json!(o.stage));
                        m.insert("code".into(), json!(o.code));
                        m.insert("message".into(), json!(o.message));
                    }
                    Status::Attested => {
                        m.insert("agent_id".into(), json!(o.agent_id));
                    }
                }
                Value::Object(m)
            }
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert(
            "changes".into(),
            json!(self.kinds().map(Kind::name).collect::<Vec<_>>()),
        );
        m.insert("before".into(), side(self.before));
        m.insert("after".into(), side(self.after));
        for (name, list) in [
            ("selectors_gained", &self.selectors_gained),
            ("selectors_lost", &self.selectors_lost),
            ("aliases_gained", &self.aliases_gained),
            ("aliases_lost", &self.aliases_lost),
        ] {
            if !list.is_empty() {
                m.insert(name.into(), json!(list));
            }
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(line: &str) -> Outcome<'_> {
        Outcome::parse(line).unwrap()
    }

    const ATTESTED: &str = r#"{"line":1,"id":"a","type":"jwt","status":"attested","agent_id":"spiffe://td/x","selectors":["s:1","s:2"],"aliases":["spiffe://td/al"]}"#;

    #[test]
    fn attested_to_rejected_is_lost_and_nothing_else() {
        let b = outcome(ATTESTED);
        let a = outcome(
            r#"{"line":1,"id":"a","type":"jwt","status":"rejected","error":{"stage":"decode","code":"unknown_key","message":"m"}}"#,
        );
        let change = Change::between(&b, &a).unwrap();
        assert_eq!(change.kinds().collect::<Vec<_>>(), [Kind::Lost]);
        assert_eq!(change.group_keys(Kind::Lost), ["decode/unknown_key"]);
        assert_eq!(
            Change::between(&a, &b).unwrap().kinds().collect::<Vec<_>>(),
            [Kind::Gained]
        );
    }

    #[test]
    fn attested_twice_compares_agent_id_selectors_and_aliases() {
        let b = outcome(ATTESTED);
        let a = outcome(
            r#"{"line":1,"id":"a","type":"jwt","status":"attested","agent_id":"spiffe://td/y","selectors":["s:2","s:3"],"aliases":[]}"#,
        );
        let change = Change::between(&b, &a).unwrap();
        assert_eq!(
            change.kinds().collect::<Vec<_>>(),
            [
                Kind::AgentIdChanged,
                Kind::SelectorsGained,
                Kind::SelectorsLost,
                Kind::AliasesLost
            ]
        );
        assert_eq!(change.selectors_gained, ["s:3"]);
        assert_eq!(change.selectors_lost, ["s:1"]);
        assert_eq!(change.aliases_lost, ["spiffe://td/al"]);
        assert!(Change::between(&b, &b).is_none());
    }

    #[test]
    fn absent_members_and_messages_are_not_compared() {
        let b = outcome(ATTESTED);
        let bare = outcome(r#"{"line":1,"id":"a","status":"attested"}"#);
        assert!(Change::between(&b, &bare).is_none());
        let r1 = outcome(
            r#"{"line":1,"id":"a","status":"rejected","error":{"stage":"claims","code":"expired","message":"one"}}"#,
        );
        let r2 = outcome(
            r#"{"line":1,"id":"a","status":"rejected","error":{"stage":"claims","code":"expired","message":"two"}}"#,
        );
        assert!(Change::between(&r1, &r2).is_none());
        let r3 = outcome(
            r#"{"line":1,"id":"a","status":"rejected","error":{"stage":"replay","code":"replayed","message":"two"}}"#,
        );
        let change = Change::between(&r1, &r3).unwrap();
        assert_eq!(
            change.group_keys(Kind::RejectionChanged),
            ["claims/expired → replay/replayed"]
        );
    }
}
