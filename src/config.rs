//! The TOML configuration (SPEC §2), validated whole at load into a [`Verifier`].
//!
//! Unknown keys and invalid values are errors; every error names the file and the key. Paths are
//! relative to the config file's folder. Nothing that can be checked here is left to run time.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::join_token::JoinTokens;
use crate::jwt::{self, ClaimRule, Issuer, JwtVerifier, SelectorClaims, SingleUse};
use crate::keys::{load_jwks, Alg, JwksPolicy};
use crate::namespaces::Namespaces;
use crate::selectors::AliasIndex;
use crate::template::{is_valid_spiffe_path, Template};
use crate::verifier::{ConfigFile, Limits, Verifier};
use crate::x509pop::{self, ChainCache, Mode, X509Pop};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    trust_domain: String,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    jwt_issuer: Vec<RawIssuer>,
    x509pop: Option<RawX509pop>,
    join_token: Option<RawJoinToken>,
    #[serde(default)]
    node_alias: Vec<RawAlias>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default = "default_max_record_bytes")]
    max_record_bytes: usize,
    #[serde(default = "default_max_token_bytes")]
    max_token_bytes: usize,
    #[serde(default = "default_max_selectors")]
    max_selectors: usize,
}

fn default_max_record_bytes() -> usize {
    Limits::default().max_record_bytes
}
fn default_max_token_bytes() -> usize {
    Limits::default().max_token_bytes
}
fn default_max_selectors() -> usize {
    Limits::default().max_selectors
}

impl Default for RawLimits {
    fn default() -> RawLimits {
        let limits = Limits::default();
        RawLimits {
            max_record_bytes: limits.max_record_bytes,
            max_token_bytes: limits.max_token_bytes,
            max_selectors: limits.max_selectors,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    name: String,
    issuer: String,
    jwks_path: PathBuf,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    #[serde(default = "default_leeway")]
    leeway_seconds: i64,
    max_lifetime_seconds: Option<i64>,
    #[serde(default = "default_true")]
    single_use: bool,
    #[serde(default)]
    required_claims: Vec<String>,
    selector_claims: Option<Vec<String>>,
    agent_path_template: Option<String>,
    #[serde(default)]
    claim_rules: BTreeMap<String, RawRule>,
}

fn default_leeway() -> i64 {
    60
}
fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    one_of: Option<Vec<String>>,
    regex: Option<String>,
}

/// `[x509pop]`: the keys of SPIRE's x509pop server plugin, with SPIRE's meaning.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawX509pop {
    mode: Option<String>,
    spiffe_prefix: Option<String>,
    ca_bundle_path: Option<PathBuf>,
    #[serde(default)]
    ca_bundle_paths: Vec<PathBuf>,
    agent_path_template: Option<String>,
    max_intermediates: Option<i64>,
    max_rsa_key_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJoinToken {
    tokens_path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlias {
    spiffe_id: String,
    selectors: Vec<String>,
}

/// Largest leeway accepted: a day. More would make `exp` meaningless.
const MAX_LEEWAY_SECONDS: i64 = 86_400;

/// What a configuration is loaded with besides its text.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The SPIRE server's own trust bundle (PEM), for x509pop `mode = "spiffe"`
    /// (`--spire-bundle`).
    pub spire_bundle: Option<PathBuf>,
    /// Turn x509pop's caches off (tests and benchmarks compare both).
    pub no_chain_cache: bool,
}

/// Loads and validates a configuration file.
pub fn load(path: &Path) -> Result<Verifier, String> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with options.
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Verifier, String> {
    let text = fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    from_str_with(&text, base, options).map_err(|err| format!("{}: {err}", path.display()))
}

/// Builds a verifier from TOML text; relative paths resolve against `base`.
pub fn from_str(text: &str, base: &Path) -> Result<Verifier, String> {
    from_str_with(text, base, &LoadOptions::default())
}

/// [`from_str`] with options.
pub fn from_str_with(text: &str, base: &Path, options: &LoadOptions) -> Result<Verifier, String> {
    let raw: RawConfig = toml::from_str(text).map_err(|err| {
        let line = err
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = err.message().replace('\n', " ");
        match line {
            Some(line) => format!("line {line}: {message}"),
            None => message,
        }
    })?;

    let td = raw.trust_domain.as_str();
    if td.is_empty()
        || !td.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
    {
        return Err(format!(
            "trust_domain {td:?} must be non-empty lowercase letters, digits, '.', '-', '_'"
        ));
    }

    let limits = Limits {
        max_record_bytes: raw.limits.max_record_bytes,
        max_token_bytes: raw.limits.max_token_bytes,
        max_selectors: raw.limits.max_selectors,
    };
    for (name, value) in [
        ("max_record_bytes", limits.max_record_bytes),
        ("max_token_bytes", limits.max_token_bytes),
        ("max_selectors", limits.max_selectors),
    ] {
        if value == 0 {
            return Err(format!("limits.{name} must be greater than 0"));
        }
    }

    // Every file the config makes the run read, for the run's path checks and its run record.
    let mut files = Vec::new();
    let mut issuers = Vec::with_capacity(raw.jwt_issuer.len());
    for (n, issuer) in raw.jwt_issuer.into_iter().enumerate() {
        files.push(ConfigFile {
            key: format!("jwt_issuer[{n}].jwks_path"),
            path: base.join(&issuer.jwks_path),
        });
        let label = format!("jwt_issuer[{n}] ({:?})", issuer.name);
        if issuers.iter().any(|i: &Issuer| *i.name == *issuer.name) {
            return Err(format!("{label}.name: another issuer has this name"));
        }
        issuers.push(build_issuer(issuer, base).map_err(|err| format!("{label}.{err}"))?);
    }
    let jwt = JwtVerifier::new(issuers)?;

    if let Some(section) = &raw.x509pop {
        if let Some(path) = &section.ca_bundle_path {
            files.push(ConfigFile {
                key: "x509pop.ca_bundle_path".into(),
                path: base.join(path),
            });
        }
        for (n, path) in section.ca_bundle_paths.iter().enumerate() {
            files.push(ConfigFile {
                key: format!("x509pop.ca_bundle_paths[{n}]"),
                path: base.join(path),
            });
        }
        if let Some(path) = options
            .spire_bundle
            .as_ref()
            .filter(|_| section.mode.as_deref() == Some("spiffe"))
        {
            files.push(ConfigFile {
                key: "--spire-bundle".into(),
                path: path.clone(),
            });
        }
    }
    let x509pop = raw
        .x509pop
        .map(|section| build_x509pop(section, base, options, td))
        .transpose()?;
    // The attestors in the order of `Judged::attestor`: issuers, x509pop, join tokens (those
    // not configured attest nothing, so have no namespace).
    let mut attestors: Vec<(String, Option<String>)> = jwt
        .issuers()
        .iter()
        .map(|issuer| {
            (
                format!("jwt issuer {:?}", issuer.name),
                Some(issuer.template.constant_prefix().to_owned()),
            )
        })
        .collect();
    let (x509pop, x509pop_prefix) = match x509pop {
        Some((x509pop, prefix)) => (Some(x509pop), Some(prefix)),
        None => (None, None),
    };
    attestors.push(("x509pop".into(), x509pop_prefix));

    let join_tokens = match raw.join_token {
        None => None,
        Some(section) => {
            let path = base.join(&section.tokens_path);
            files.push(ConfigFile {
                key: "join_token.tokens_path".into(),
                path: path.clone(),
            });
            let text = fs::read_to_string(&path)
                .map_err(|err| format!("join_token.tokens_path: {}: {err}", path.display()))?;
            Some(
                JoinTokens::parse(&text)
                    .map_err(|err| format!("join_token.tokens_path: {}: {err}", path.display()))?,
            )
        }
    };

    attestors.push((
        "join_token".into(),
        join_tokens.as_ref().map(|_| "/join_token/".into()),
    ));

    let id_prefix = format!("spiffe://{td}");
    let mut aliases = Vec::with_capacity(raw.node_alias.len());
    for (n, alias) in raw.node_alias.into_iter().enumerate() {
        let path = alias.spiffe_id.strip_prefix(&id_prefix);
        if !path.is_some_and(|p| p.starts_with('/') && is_valid_spiffe_path(p)) {
            return Err(format!(
                "node_alias[{n}].spiffe_id {:?} is not a SPIFFE ID in trust domain {td}",
                alias.spiffe_id
            ));
        }
        // As SPIRE's entry API: a registration entry's ID is a workload's, outside the
        // reserved /spire namespace.
        if path.is_some_and(|p| p == "/spire" || p.starts_with("/spire/")) {
            return Err(format!(
                "node_alias[{n}].spiffe_id {:?} is in the reserved namespace /spire (SPIRE refuses \
                 entries there)",
                alias.spiffe_id
            ));
        }
        aliases.push((alias.spiffe_id, alias.selectors));
    }
    let aliases = AliasIndex::new(&aliases)?;

    Ok(Verifier {
        agent_prefix: format!("spiffe://{td}/spire/agent").into(),
        trust_domain: td.into(),
        limits,
        jwt,
        join_tokens,
        x509pop,
        aliases,
        files,
        namespaces: Namespaces::new(attestors),
    })
}

/// The `[x509pop]` section, checked as SPIRE v1.13.4+ checks `plugin_data` (every error SPIRE
/// reports is an error here, with SPIRE's reason), and the constant prefix of its agent paths.
fn build_x509pop(
    raw: RawX509pop,
    base: &Path,
    options: &LoadOptions,
    trust_domain: &str,
) -> Result<(X509Pop, String), String> {
    let mode = raw.mode.as_deref().unwrap_or("");
    let spiffe = match mode {
        "" | "external_pki" => false,
        "spiffe" => true,
        other => {
            return Err(format!(
                "x509pop.mode {other:?}: mode can only be either spiffe or external_pki"
            ))
        }
    };
    let has_paths = raw.ca_bundle_path.is_some() || !raw.ca_bundle_paths.is_empty();
    let roots = if spiffe {
        if has_paths {
            return Err(
                "x509pop: you can not use ca_bundle_path or ca_bundle_paths in spiffe mode \
                        (the trust bundle is the server's own: --spire-bundle FILE)"
                    .into(),
            );
        }
        let path = options.spire_bundle.as_ref().ok_or(
            "x509pop.mode = \"spiffe\" verifies leaves against the SPIRE server's own bundle: \
             give it with --spire-bundle FILE (the PEM of `spire-server bundle show`)",
        )?;
        x509pop::bundle::load(path)
            .map_err(|err| format!("--spire-bundle {}: {err}", path.display()))?
    } else {
        let paths: Vec<(&str, &PathBuf)> = match (&raw.ca_bundle_path, raw.ca_bundle_paths.as_slice()) {
            (Some(_), [_, ..]) => {
                return Err(
                    "x509pop: only one of ca_bundle_path or ca_bundle_paths can be configured, not both"
                        .into(),
                )
            }
            (Some(one), []) => vec![("ca_bundle_path", one)],
            (None, []) => {
                return Err("x509pop: one of ca_bundle_path or ca_bundle_paths must be configured".into())
            }
            (None, many) => many.iter().map(|p| ("ca_bundle_paths", p)).collect(),
        };
        let mut roots = Vec::new();
        for (key, path) in paths {
            let full = base.join(path);
            let certs = x509pop::bundle::load(&full).map_err(|err| {
                format!(
                    "x509pop.{key}: unable to load trust bundle {}: {err}",
                    full.display()
                )
            })?;
            roots.extend(certs);
        }
        roots
    };
    let limit = |key: &str, value: Option<i64>, default: usize| -> Result<usize, String> {
        match value {
            None => Ok(default),
            Some(v) if v <= 0 => Err(format!("x509pop.{key} must be greater than 0 (it is {v})")),
            Some(v) => Ok(usize::try_from(v).unwrap_or(usize::MAX)),
        }
    };
    let max_intermediates = limit(
        "max_intermediates",
        raw.max_intermediates,
        x509pop::DEFAULT_MAX_INTERMEDIATES,
    )?;
    let max_rsa_key_size = limit(
        "max_rsa_key_size",
        raw.max_rsa_key_size,
        x509pop::DEFAULT_MAX_RSA_KEY_SIZE,
    )?;
    let default_template = if spiffe {
        x509pop::DEFAULT_SPIFFE_TEMPLATE
    } else {
        x509pop::DEFAULT_TEMPLATE
    };
    // As SPIRE: an empty template is no template.
    let template_text = raw
        .agent_path_template
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or(default_template);
    let template = Template::compile(template_text, x509pop::TEMPLATE_ROOTS)
        .map_err(|err| format!("x509pop.agent_path_template: failed to parse agent svid template {template_text:?}: {err}"))?;
    let mode = if spiffe {
        let mut prefix = raw
            .spiffe_prefix
            .unwrap_or_else(|| x509pop::DEFAULT_SPIFFE_PREFIX.into());
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Mode::Spiffe { prefix }
    } else {
        Mode::ExternalPki
    };
    let cache = if options.no_chain_cache {
        ChainCache::Off
    } else {
        ChainCache::On
    };
    let prefix = template
        .with_constants(|path| match path {
            [field] if &**field == "PluginName" => Some("x509pop".into()),
            [field] if &**field == "TrustDomain" => Some(trust_domain.into()),
            _ => None,
        })
        .constant_prefix()
        .to_owned();
    Ok((
        X509Pop::new(
            mode,
            roots,
            max_intermediates,
            max_rsa_key_size,
            template,
            cache,
        ),
        prefix,
    ))
}

fn build_issuer(raw: RawIssuer, base: &Path) -> Result<Issuer, String> {
    if raw.name.is_empty()
        || !raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!("name: {:?} must match [a-z0-9_-]+", raw.name));
    }
    if raw.issuer.is_empty() {
        return Err("issuer: must not be empty".into());
    }
    if raw.audiences.is_empty() || raw.audiences.iter().any(String::is_empty) {
        return Err("audiences: must list at least one non-empty audience".into());
    }
    if raw.algorithms.is_empty() {
        return Err("algorithms: must list at least one algorithm".into());
    }
    let mut algorithms = Vec::with_capacity(raw.algorithms.len());
    for name in &raw.algorithms {
        let alg = Alg::parse(name).ok_or_else(|| {
            format!(
                "algorithms: {name:?} is not one of {}",
                Alg::ALL.map(|a| a.name()).join(", ")
            )
        })?;
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    if !(0..=MAX_LEEWAY_SECONDS).contains(&raw.leeway_seconds) {
        return Err(format!(
            "leeway_seconds: {} is outside 0..={MAX_LEEWAY_SECONDS}",
            raw.leeway_seconds
        ));
    }
    if let Some(max) = raw.max_lifetime_seconds {
        if max <= 0 {
            return Err(format!("max_lifetime_seconds: {max} must be positive"));
        }
    }
    let selector_claims = match raw.selector_claims.as_deref() {
        None => SelectorClaims::All,
        Some([star]) if star == "*" => SelectorClaims::All,
        Some(names) => {
            if names.iter().any(|n| n == "*" || n.is_empty()) {
                return Err(
                    "selector_claims: use [\"*\"] alone, or list claim names without \"*\"".into(),
                );
            }
            if let Some((name, separator)) = names
                .iter()
                .find_map(|n| crate::jwt::separator_in(n).map(|sep| (n, sep)))
            {
                return Err(format!(
                    "selector_claims: {name:?} holds {separator:?}; claim names selectors are \
                     made from may hold neither ':' nor '.' (a nested claim is named by its \
                     top-level claim)"
                ));
            }
            SelectorClaims::Listed(names.iter().map(|n| n.as_str().into()).collect())
        }
    };
    let mut claim_rules = Vec::with_capacity(raw.claim_rules.len());
    for (claim, rule) in raw.claim_rules {
        let rule = match (rule.one_of, rule.regex) {
            (Some(values), None) if !values.is_empty() => {
                ClaimRule::OneOf(values.into_iter().map(Into::into).collect())
            }
            (None, Some(pattern)) => ClaimRule::Regex(
                regex::RegexBuilder::new(&pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|err| {
                        format!(
                            "claim_rules.{claim}.regex: {}",
                            err.to_string().replace('\n', " ")
                        )
                    })?,
            ),
            _ => {
                return Err(format!(
                    "claim_rules.{claim}: give exactly one of one_of (non-empty) or regex"
                ))
            }
        };
        claim_rules.push((claim.into(), rule));
    }
    let template_text = raw
        .agent_path_template
        .as_deref()
        .unwrap_or(jwt::DEFAULT_TEMPLATE);
    let template = Template::compile(template_text, jwt::TEMPLATE_ROOTS)
        .map_err(|err| format!("agent_path_template: {err}"))?;

    let jwks_path = base.join(&raw.jwks_path);
    let jwks = fs::read_to_string(&jwks_path)
        .map_err(|err| format!("jwks_path: {}: {err}", jwks_path.display()))?;
    let keys = load_jwks(
        &jwks,
        &JwksPolicy {
            algorithms: &algorithms,
        },
    )
    .map_err(|err| format!("jwks_path: {}: {err}", jwks_path.display()))?;
    Ok(Issuer {
        name: raw.name.into(),
        issuer: raw.issuer.into(),
        audiences: raw.audiences.into_iter().map(Into::into).collect(),
        algorithms,
        leeway: raw.leeway_seconds,
        max_lifetime: raw.max_lifetime_seconds,
        single_use: if raw.single_use {
            SingleUse::Required
        } else {
            SingleUse::Off
        },
        required_claims: raw.required_claims.into_iter().map(Into::into).collect(),
        selector_claims,
        claim_rules,
        template,
        keys,
    })
}
