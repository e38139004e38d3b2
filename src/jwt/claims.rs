//! JWT claims: registered-claim checks, claim rules, selectors and the agent path.

use regex::Regex;

use super::{Issuer, JwtOutput, SelectorClaims, SingleUse};
use crate::error::{clip, Rejection};
use crate::json::{deeper_than, first_duplicate_key, Json, Kind, MAX_DEPTH};
use crate::selectors::SelectorSet;
use crate::template::Fields;

/// A rule a claim must satisfy (`[jwt_issuer.claim_rules]`).
#[derive(Clone, Debug)]
pub enum ClaimRule {
    /// The claim's value (each element, for an array) is one of these strings.
    OneOf(Vec<Box<str>>),
    /// The claim's value (each element, for an array) matches this regex (unanchored, as Go's
    /// `regexp.MatchString`; anchor it with `^...$`).
    Regex(Regex),
}

impl ClaimRule {
    fn describe(&self) -> String {
        match self {
            ClaimRule::OneOf(values) => format!(
                "must be one of [{}]",
                values
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ClaimRule::Regex(re) => format!("must match /{}/", re.as_str()),
        }
    }

    fn accepts(&self, value: &str) -> bool {
        match self {
            ClaimRule::OneOf(values) => values.iter().any(|v| v.as_ref() == value),
            ClaimRule::Regex(re) => re.is_match(value),
        }
    }
}

/// Claims never turned into selectors by `selector_claims = ["*"]`: `exp`, `nbf`, `iat`, `jti`.
/// A `match` rather than a list search: it compiles to a length test and one 3-byte compare.
fn is_not_selector(claim: &str) -> bool {
    matches!(claim, "exp" | "nbf" | "iat" | "jti")
}

fn invalid(reason: String) -> Rejection {
    Rejection::InvalidClaims { reason }
}

fn missing(claim: &str) -> Rejection {
    Rejection::MissingClaim {
        claim: claim.into(),
    }
}

/// Rules whose claims are found in the same pass as the registered claims; later rules (rare)
/// look theirs up.
const RULES_FOUND_IN_PASS: usize = 8;

/// The registered claims and the claims of the first rules, found in one pass over the members
/// (names are distinct: duplicates are rejected before).
#[derive(Default)]
struct Registered<'t, 'i> {
    iss: Option<Json<'t, 'i>>,
    sub: Option<Json<'t, 'i>>,
    jti: Option<Json<'t, 'i>>,
    exp: Option<Json<'t, 'i>>,
    nbf: Option<Json<'t, 'i>>,
    iat: Option<Json<'t, 'i>>,
    aud: Option<Json<'t, 'i>>,
    /// The claim named by each of the first `RULES_FOUND_IN_PASS` rules.
    ruled: [Option<Json<'t, 'i>>; RULES_FOUND_IN_PASS],
}

impl<'t, 'i> Registered<'t, 'i> {
    fn find(claims: &Json<'t, 'i>, rules: &[(Box<str>, ClaimRule)]) -> Registered<'t, 'i> {
        let mut found = Registered::default();
        let ruled_names = rules.iter().take(RULES_FOUND_IN_PASS).map(|(name, _)| name);
        for (name, value) in claims.members() {
            for (slot, _) in found
                .ruled
                .iter_mut()
                .zip(ruled_names.clone())
                .filter(|(_, ruled)| ruled.as_ref() == name)
            {
                *slot = Some(value);
            }
            if let Some(slot) = found.slot(name) {
                *slot = Some(value);
            }
        }
        found
    }

    /// Where a registered claim goes; `None` for other names.
    fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'t, 'i>>> {
        Some(match name {
            "iss" => &mut self.iss,
            "sub" => &mut self.sub,
            "jti" => &mut self.jti,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "aud" => &mut self.aud,
            _ => return None,
        })
    }

    /// The named claim, from the pass when it is a registered one.
    fn get(&mut self, claims: &Json<'t, 'i>, name: &str) -> Option<Json<'t, 'i>> {
        match self.slot(name) {
            Some(found) => *found,
            None => claims.get(name),
        }
    }

    /// The claim rule `index` names.
    fn ruled(&self, claims: &Json<'t, 'i>, index: usize, name: &str) -> Option<Json<'t, 'i>> {
        match self.ruled.get(index) {
            Some(found) => *found,
            None => claims.get(name),
        }
    }
}

/// The NumericDates accepted, in Unix seconds: the years RFC 3339 writes, 0000 to 9999 (the
/// dates of messages and of `--now`). 0000-01-01T00:00:00Z up to, not including,
/// 10000-01-01T00:00:00Z.
const NUMERIC_DATES: std::ops::Range<f64> = -62_167_219_200.0..253_402_300_800.0;

/// Reads a NumericDate claim: absent is `None`, a non-number is invalid, and so is a number
/// beyond the dates [`NUMERIC_DATES`] holds.
fn numeric_date(value: Option<Json<'_, '_>>, name: &str) -> Result<Option<f64>, Rejection> {
    let Some(value) = value else {
        return Ok(None);
    };
    let number = value
        .as_number()
        .ok_or_else(|| invalid(format!("{name} is not a number (a NumericDate)")))?;
    let seconds = number.as_f64();
    if !NUMERIC_DATES.contains(&seconds) {
        let mut written = String::new();
        number.render(&mut written);
        return Err(invalid(format!(
            "{name} {} is beyond the dates a NumericDate may hold here (Unix seconds of the \
             years 0000 to 9999)",
            clip(&written)
        )));
    }
    Ok(Some(seconds))
}

fn string_claim<'i>(value: Option<Json<'_, 'i>>, name: &str) -> Result<Option<&'i str>, Rejection> {
    match value {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} is not a string"))),
    }
}

/// Checks the claims on `tape` for `issuer` and, when they pass, fills `out`.
/// Returns the replay key's expiry (Unix seconds) for single-use issuers.
pub(super) fn check(
    issuer: &Issuer,
    tape: &simd_json::Tape<'_>,
    now: i64,
    trust_domain: &str,
    max_selectors: usize,
    text: &mut String,
    out: JwtOutput<'_>,
) -> Result<Option<i64>, Rejection> {
    let claims = Json::root(tape);
    if claims.kind() != Kind::Object {
        return Err(invalid("the payload is not a JSON object".into()));
    }
    if let Some(key) = first_duplicate_key(tape) {
        return Err(invalid(format!("member {:?} appears twice", clip(key))));
    }
    if deeper_than(tape, MAX_DEPTH) {
        return Err(invalid(format!("nested deeper than {MAX_DEPTH} levels")));
    }

    // Types first: a claim of the wrong type is never compared.
    let mut registered = Registered::find(&claims, &issuer.claim_rules);
    let iss = string_claim(registered.iss, "iss")?;
    let sub = string_claim(registered.sub, "sub")?;
    let jti = string_claim(registered.jti, "jti")?;
    let exp = numeric_date(registered.exp, "exp")?;
    let nbf = numeric_date(registered.nbf, "nbf")?;
    let iat = numeric_date(registered.iat, "iat")?;
    let aud = registered.aud;
    if let Some(aud) = aud {
        let ok = match aud.kind() {
            Kind::String => true,
            Kind::Array => aud.elements().all(|e| e.kind() == Kind::String),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                "aud is neither a string nor an array of strings".into(),
            ));
        }
    }

    let iss = iss.ok_or_else(|| missing("iss"))?;
    if iss != issuer.issuer.as_ref() {
        return Err(Rejection::WrongIssuer {
            got: clip(iss),
            want: issuer.issuer.to_string(),
        });
    }
    let leeway = issuer.leeway;
    let now_f = now as f64;
    let exp = exp.ok_or_else(|| missing("exp"))?;
    if exp < now_f - leeway as f64 {
        return Err(Rejection::Expired { exp, now, leeway });
    }
    if let Some(nbf) = nbf {
        if nbf > now_f + leeway as f64 {
            return Err(Rejection::NotYetValid { nbf, now, leeway });
        }
    }
    if let Some(iat) = iat {
        if iat > now_f + leeway as f64 {
            return Err(Rejection::IssuedInFuture { iat, now, leeway });
        }
    }
    if let Some(max) = issuer.max_lifetime {
        let iat = iat.ok_or_else(|| missing("iat"))?;
        let lifetime = exp - iat;
        if lifetime > max as f64 {
            return Err(Rejection::LifetimeTooLong { lifetime, max });
        }
    }
    let aud = aud.ok_or_else(|| missing("aud"))?;
    let accepted = |a: &str| issuer.audiences.iter().any(|want| want.as_ref() == a);
    let aud_ok = match aud.as_str() {
        Some(one) => accepted(one),
        None => aud.elements().filter_map(|e| e.as_str()).any(accepted),
    };
    if !aud_ok {
        let got = match aud.as_str() {
            Some(one) => format!("{:?}", clip(one)),
            None => clip(&format!(
                "[{}]",
                aud.elements()
                    .filter_map(|e| e.as_str())
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        return Err(Rejection::AudienceMismatch {
            got,
            want: format!("{:?}", issuer.audiences),
        });
    }
    for name in &issuer.required_claims {
        if registered.get(&claims, name).is_none() {
            return Err(missing(name));
        }
    }
    let replay_expiry = match issuer.single_use {
        SingleUse::Off => None,
        SingleUse::Required => {
            let jti = jti.ok_or_else(|| missing("jti"))?;
            if jti.is_empty() {
                return Err(invalid("jti is empty".into()));
            }
            out.replay_key.clear();
            out.replay_key.push_str("jwt:");
            out.replay_key.push_str(&issuer.name);
            out.replay_key.push(':');
            out.replay_key.push_str(jti);
            // exp is finite and checked above to be no earlier than now - leeway.
            Some((exp.floor() as i64).saturating_add(leeway))
        }
    };
    for (index, (name, rule)) in issuer.claim_rules.iter().enumerate() {
        check_rule(registered.ruled(&claims, index, name), name, rule, text)?;
    }

    build_selectors(issuer, &claims, text, out.selectors)?;
    if out.selectors.len() > max_selectors {
        return Err(Rejection::TooManySelectors {
            count: out.selectors.len(),
            max: max_selectors,
        });
    }

    let fields = JwtFields {
        issuer,
        subject: sub,
        trust_domain,
        claims,
    };
    issuer
        .template
        .render_spiffe_path(&fields, out.agent_path)
        .map_err(|reason| Rejection::TemplateError { reason })?;
    Ok(replay_expiry)
}

/// Checks `rule` on the value of claim `name` (`None` when the token lacks it).
fn check_rule(
    value: Option<Json<'_, '_>>,
    name: &str,
    rule: &ClaimRule,
    text: &mut String,
) -> Result<(), Rejection> {
    let failed = |found: String| Rejection::ClaimRuleFailed {
        claim: name.into(),
        reason: format!("{}; found {found}", rule.describe()),
    };
    let value = value.ok_or_else(|| failed("no such claim".into()))?;
    let mut check_one = |v: Json<'_, '_>| -> Result<(), Rejection> {
        // Strings as they are; other scalars rendered as selectors render them.
        let rendered = match v.as_str() {
            Some(s) => s,
            None => {
                text.clear();
                if !v.render_scalar(text) {
                    return Err(failed(format!("a {:?} value", v.kind()).to_lowercase()));
                }
                text.as_str()
            }
        };
        if !rule.accepts(rendered) {
            return Err(failed(format!("{:?}", clip(rendered))));
        }
        Ok(())
    };
    if value.kind() == Kind::Array {
        if value.elements().next().is_none() {
            return Err(failed("an empty array".into()));
        }
        value.elements().try_for_each(check_one)
    } else {
        check_one(value)
    }
}

/// The separator a claim name holds, if any. A selector is `jwt:<path>:<value>`, the path the
/// claim's name and its members' names joined by `.`: a name with `:` or `.` could spell
/// another claim's selector (`{"team:a":"b"}` as `{"team":"a:b"}`, `{"k8s.ns":…}` as
/// `{"k8s":{"ns":…}}`), so names selectors are made from may hold neither. With that, the
/// first `:` after `jwt:` ends the path and each `.` in it separates two names: a selector
/// names one (path, value) and nothing else.
pub fn separator_in(name: &str) -> Option<char> {
    name.bytes()
        .find(|b| matches!(b, b':' | b'.'))
        .map(char::from)
}

/// A name with a separator in a claim selectors are made from: a small error for the walk,
/// made a [`Rejection`] once at its end.
struct BadName<'a> {
    claim: &'a str,
    member: Option<&'a str>,
    separator: char,
}

impl From<BadName<'_>> for Rejection {
    fn from(bad: BadName<'_>) -> Rejection {
        bad_name(bad.claim, bad.member, bad.separator)
    }
}

fn bad_name(claim: &str, member: Option<&str>, separator: char) -> Rejection {
    let whose = match member {
        None => format!("claim {:?}", clip(claim)),
        Some(member) => format!(
            "claim {:?} has a member {:?} that",
            clip(claim),
            clip(member)
        ),
    };
    invalid(format!(
        "{whose} holds {separator:?} in its name; selectors are made from this claim, and a \
         name with ':' or '.' could spell another claim's selector"
    ))
}

fn build_selectors(
    issuer: &Issuer,
    claims: &Json<'_, '_>,
    name: &mut String,
    selectors: &mut SelectorSet,
) -> Result<(), Rejection> {
    selectors.clear();
    match &issuer.selector_claims {
        SelectorClaims::All => {
            for (key, value) in claims.members() {
                if !is_not_selector(key) {
                    if let Some(separator) = separator_in(key) {
                        return Err(bad_name(key, None, separator));
                    }
                    add_claim_selectors(key, value, name, selectors).map_err(Rejection::from)?;
                }
            }
        }
        SelectorClaims::Listed(names) => {
            // The names listed hold no separator (checked at load).
            for key in names {
                if let Some(value) = claims.get(key) {
                    add_claim_selectors(key, value, name, selectors).map_err(Rejection::from)?;
                }
            }
        }
    }
    selectors.sort_dedup();
    Ok(())
}

/// Adds the selectors of the top-level claim `key`. A scalar (most claims) uses the name as it
/// is; arrays and objects build theirs in `name`, which objects extend with member names.
#[inline]
fn add_claim_selectors<'a>(
    key: &'a str,
    value: Json<'_, 'a>,
    name: &mut String,
    selectors: &mut SelectorSet,
) -> Result<(), BadName<'a>> {
    match value.kind() {
        Kind::String | Kind::Number | Kind::Bool => add_scalar_selector(key, value, selectors),
        Kind::Null => {}
        Kind::Array | Kind::Object => {
            name.clear();
            name.push_str(key);
            add_selectors(key, name, value, selectors)?;
        }
    }
    Ok(())
}

/// Adds `jwt:<name>:<value>` selectors for one claim (`claim`, for messages): scalars as they
/// render, null skipped, arrays element by element, objects flattened with `.` (depth is
/// bounded by MAX_DEPTH).
fn add_selectors<'a>(
    claim: &'a str,
    name: &mut String,
    value: Json<'_, 'a>,
    selectors: &mut SelectorSet,
) -> Result<(), BadName<'a>> {
    match value.kind() {
        Kind::Null => {}
        Kind::Array => {
            for element in value.elements() {
                add_selectors(claim, name, element, selectors)?;
            }
        }
        Kind::Object => {
            let base = name.len();
            for (key, member) in value.members() {
                if let Some(separator) = separator_in(key) {
                    return Err(BadName {
                        claim,
                        member: Some(key),
                        separator,
                    });
                }
                name.truncate(base);
                name.push('.');
                name.push_str(key);
                add_selectors(claim, name, member, selectors)?;
            }
            name.truncate(base);
        }
        Kind::String | Kind::Number | Kind::Bool => add_scalar_selector(name, value, selectors),
    }
    Ok(())
}

/// Adds `jwt:<name>:<value>` for a scalar `value`.
fn add_scalar_selector(name: &str, value: Json<'_, '_>, selectors: &mut SelectorSet) {
    selectors.push_with(|buf| {
        buf.push_str("jwt:");
        buf.push_str(name);
        buf.push(':');
        value.render_scalar(buf);
    });
}

/// The value of template field `path` when it is the same for every token of `issuer` (the
/// plugin and issuer names, the issuer URL), for [`crate::template::Template::with_constants`].
pub(super) fn constant_field(issuer: &Issuer, path: &[Box<str>]) -> Option<String> {
    let [root] = path else {
        return None; // `.IssuerName.x` and the like fail at render, as they would unbound
    };
    issuer_field(issuer, root).map(str::to_owned)
}

/// The top-level template fields that are the same for every token of `issuer`: bound once at
/// load ([`constant_field`]) and looked up per record ([`JwtFields`]) alike.
fn issuer_field<'a>(issuer: &'a Issuer, root: &str) -> Option<&'a str> {
    Some(match root {
        "PluginName" => PLUGIN_NAME,
        "IssuerName" => &issuer.name,
        "Issuer" => &issuer.issuer,
        _ => return None,
    })
}

/// `.PluginName` in agent path templates.
const PLUGIN_NAME: &str = "jwt";

/// Template fields of a JWT record.
struct JwtFields<'a, 't, 'i> {
    issuer: &'a Issuer,
    subject: Option<&'i str>,
    trust_domain: &'a str,
    claims: Json<'t, 'i>,
}

impl Fields for JwtFields<'_, '_, '_> {
    fn lookup(&self, path: &[Box<str>], out: &mut String) -> Result<(), String> {
        let scalar = |value: &str, out: &mut String| {
            if path.len() > 1 {
                return Err(format!(
                    ".{} is a string; it has no field .{}",
                    path[0], path[1]
                ));
            }
            out.push_str(value);
            Ok(())
        };
        if let Some(value) = issuer_field(self.issuer, &path[0]) {
            return scalar(value, out);
        }
        match path[0].as_ref() {
            "TrustDomain" => scalar(self.trust_domain, out),
            "Subject" => match self.subject {
                Some(sub) => scalar(sub, out),
                None => Err("the token has no sub for .Subject".into()),
            },
            "Claims" => {
                let mut value = self.claims;
                for (depth, key) in path.iter().enumerate().skip(1) {
                    if value.kind() != Kind::Object {
                        return Err(format!(".{} is not an object", path[..depth].join(".")));
                    }
                    value = value.get(key).ok_or_else(|| {
                        format!(
                            "map has no entry for key {:?} (.{})",
                            key,
                            path[..=depth].join(".")
                        )
                    })?;
                }
                if path.len() == 1 || !value.render_scalar(out) {
                    return Err(format!(".{} is not a scalar", path.join(".")));
                }
                Ok(())
            }
            other => Err(format!("no field .{other}")),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::json::JsonBuffers;
    use crate::jwt::{DEFAULT_TEMPLATE, TEMPLATE_ROOTS};
    use crate::template::{Fields, Template};

    pub(super) fn issuer(selector_claims: SelectorClaims) -> Issuer {
        Issuer {
            name: "boot".into(),
            issuer: "https://boot.example".into(),
            audiences: vec![],
            algorithms: vec![],
            leeway: 0,
            max_lifetime: None,
            single_use: SingleUse::Off,
            required_claims: vec![],
            selector_claims,
            claim_rules: vec![],
            template: Template::compile(DEFAULT_TEMPLATE, TEMPLATE_ROOTS).unwrap(),
            keys: vec![],
        }
    }

    /// Every field bound at load (`constant_field`) is what the per-record lookup would give.
    #[test]
    fn constant_fields_agree_with_the_record_lookup() {
        let issuer = issuer(SelectorClaims::All);
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut buffers = JsonBuffers::default();
        let tape = buffers
            .parse_text(
                br#"{"sub":"n1","PluginName":"claim"}"#,
                &mut first,
                &mut second,
            )
            .unwrap();
        let fields = JwtFields {
            issuer: &issuer,
            subject: Some("n1"),
            trust_domain: "td",
            claims: Json::root(&tape),
        };
        let mut bound = 0;
        for root in TEMPLATE_ROOTS {
            for path in [vec![Box::from(*root)], vec![Box::from(*root), "x".into()]] {
                let Some(constant) = constant_field(&issuer, &path) else {
                    continue;
                };
                let mut looked_up = String::new();
                fields.lookup(&path, &mut looked_up).unwrap();
                assert_eq!(constant, looked_up, "{path:?}");
                bound += 1;
            }
        }
        assert_eq!(bound, 3, "PluginName, IssuerName and Issuer are bound");
    }
}

/// Injectivity of selectors: what a claim set's selectors say, decoded by the README's rule, is
/// exactly what the claims hold, so two claim sets with the same selectors are equal in every
/// claim the selectors cover.
#[cfg(test)]
mod injective {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::Value;

    use super::tests::issuer;
    use super::tests_support::*;
    use super::*;

    /// What SPEC §7 says selectors name: each (member path, scalar) of the covered claims, the
    /// path the claim's name and its members' names (arrays are transparent: one selector per
    /// element), the scalar as text (strings as they are, integers in decimal, `true`/`false`;
    /// null names nothing). `None` when a covered name holds `:` or `.` (the README's rule: such
    /// a token is refused). Written from the JSON value, not from the engine's code.
    fn named(
        claims: &Value,
        covered: &dyn Fn(&str) -> bool,
    ) -> Option<BTreeSet<(Vec<String>, String)>> {
        fn walk(
            path: &mut Vec<String>,
            value: &Value,
            out: &mut BTreeSet<(Vec<String>, String)>,
        ) -> Option<()> {
            match value {
                Value::Null => {}
                Value::Bool(b) => {
                    out.insert((path.clone(), b.to_string()));
                }
                Value::Number(n) => {
                    out.insert((path.clone(), n.to_string()));
                }
                Value::String(s) => {
                    out.insert((path.clone(), s.clone()));
                }
                Value::Array(items) => {
                    for item in items {
                        walk(path, item, out)?;
                    }
                }
                Value::Object(members) => {
                    for (name, member) in members {
                        if name.contains([':', '.']) {
                            return None;
                        }
                        path.push(name.clone());
                        walk(path, member, out)?;
                        path.pop();
                    }
                }
            }
            Some(())
        }
        let mut out = BTreeSet::new();
        for (name, value) in claims.as_object()? {
            if covered(name) {
                if name.contains([':', '.']) {
                    return None;
                }
                walk(&mut vec![name.clone()], value, &mut out)?;
            }
        }
        Some(out)
    }

    /// The README's reading of a selector: after `jwt:`, the path up to the first `:`, its names
    /// split at each `.`; the value is the rest.
    fn decode(selector: &str) -> (Vec<String>, String) {
        let rest = selector.strip_prefix("jwt:").expect("a jwt selector");
        let (path, value) = rest.split_once(':').expect("path:value");
        (
            path.split('.').map(str::to_owned).collect(),
            value.to_owned(),
        )
    }

    /// Names and values from a few characters, the separators among them, so that forgeries
    /// (`{"a:b":"c"}` against `{"a":"b:c"}`) and type confusions come up often.
    fn claims() -> impl Strategy<Value = Value> {
        let text = "[ab:.]{0,3}";
        let leaf = prop_oneof![
            text.prop_map(Value::from),
            (0u8..3).prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ];
        let value = leaf.prop_recursive(3, 24, 3, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map(text, inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map(
            prop_oneof!["[ab:.]{0,3}", Just("exp".to_owned())],
            value,
            0..4,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn selectors_of(issuer: &Issuer, claims: &Value) -> Result<Vec<String>, Rejection> {
        with_claims(&claims.to_string(), |claims| {
            let (mut name, mut set) = (String::new(), SelectorSet::default());
            build_selectors(issuer, &claims, &mut name, &mut set)?;
            Ok(set.iter().map(str::to_owned).collect())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Under `*` and under a list: a token is refused exactly when a covered name holds a
        /// separator, and otherwise its selectors decode to exactly what its claims name.
        #[test]
        fn selectors_decode_to_what_the_claims_name(claims in claims(), listed in any::<bool>()) {
            let covered = |n: &str| if listed { matches!(n, "a" | "b" | "") } else { !is_not_selector(n) };
            let issuer = issuer(if listed {
                SelectorClaims::Listed(vec!["a".into(), "b".into(), "".into()])
            } else {
                SelectorClaims::All
            });
            match (selectors_of(&issuer, &claims), named(&claims, &covered)) {
                (Ok(selectors), Some(want)) => {
                    let got: BTreeSet<_> = selectors.iter().map(|s| decode(s)).collect();
                    prop_assert_eq!(got, want, "{}", claims);
                }
                (Err(err), None) => prop_assert_eq!(err.code(), "invalid_claims"),
                (got, want) => prop_assert!(false, "{claims}: {got:?}, want {want:?}"),
            }
        }

        /// Two claim sets with the same selectors name the same (path, value) pairs.
        #[test]
        fn same_selectors_same_claims(a in claims(), b in claims()) {
            let issuer = issuer(SelectorClaims::All);
            let covered = |n: &str| !is_not_selector(n);
            if let (Ok(sa), Ok(sb)) = (selectors_of(&issuer, &a), selectors_of(&issuer, &b)) {
                if sa == sb {
                    prop_assert_eq!(named(&a, &covered), named(&b, &covered), "{} / {}", a, b);
                }
            }
        }
    }

    /// The forgeries that were granted aliases: a name with `:` and a flat name with `.`.
    #[test]
    fn names_with_separators_are_refused_by_name() {
        let all = issuer(SelectorClaims::All);
        for (claims, named) in [
            (
                r#"{"team":"red","team:a":"b"}"#,
                r#"claim "team:a" holds ':'"#,
            ),
            (r#"{"k8s.ns":"kube-system"}"#, r#"claim "k8s.ns" holds '.'"#),
            (
                r#"{"k8s":{"ns.x":"a"}}"#,
                r#"claim "k8s" has a member "ns.x" that holds '.'"#,
            ),
            (
                r#"{"k8s":[{"a":{"b:":1}}]}"#,
                r#"claim "k8s" has a member "b:" that holds ':'"#,
            ),
            (r#"{"x:y":null}"#, r#"claim "x:y" holds ':'"#),
        ] {
            let err = selectors_of(&all, &serde_json::from_str(claims).unwrap()).unwrap_err();
            assert!(err.message().contains(named), "{claims}: {}", err.message());
        }
        // Names selectors are not made from may hold anything.
        let listed = issuer(SelectorClaims::Listed(vec!["team".into()]));
        let claims = serde_json::json!({"team": "a:b", "team:a": "b", "k8s.ns": "x"});
        assert_eq!(selectors_of(&listed, &claims).unwrap(), ["jwt:team:a:b"]);
        assert_eq!(
            selectors_of(
                &all,
                &serde_json::json!({"team": "a:b", "exp": 1, "jti": "j"})
            )
            .unwrap(),
            ["jwt:team:a:b"]
        );
    }
}

#[cfg(test)]
mod tests_support {
    use crate::json::{Json, JsonBuffers};

    /// Runs `f` over the claims parsed from `text`.
    pub fn with_claims<R>(text: &str, f: impl FnOnce(Json<'_, '_>) -> R) -> R {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut buffers = JsonBuffers::default();
        let tape = buffers
            .parse_text(text.as_bytes(), &mut first, &mut second)
            .unwrap();
        f(Json::root(&tape))
    }
}
