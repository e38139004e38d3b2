//! Agent path templates: the subset of Go `text/template` that SPIRE's templates use, compiled
//! once at load into a list of parts and rendered per record with string pushes.
//!
//! Supported: text, `{{ pipeline }}` actions with `{{-`/`-}}` trimming, field chains
//! (`.Claims.region`), string literals (`"..."` with Go escapes, and raw `` `...` ``),
//! parenthesised pipelines, and the Sprig functions `lower`, `upper`, `trim`, `replace`,
//! `trimPrefix`, `trimSuffix`, `sha256sum` (argument order as Sprig: the piped value is the last
//! argument). A syntax error, an unknown function, a wrong argument count or an unknown top-level
//! field fails at load; a field missing at render time is an error (Go's `missingkey=error`).
//!
//! The Go-template crates were considered (gtmpl 0.7): they render from a dynamic value tree
//! that would be rebuilt for every record and have no `missingkey=error`; this subset is
//! smaller than the adapter would be.

use std::borrow::Cow;

use aws_lc_rs::digest;

/// Resolves template fields for one record.
pub trait Fields {
    /// Appends the value of the field chain `path` (at least one name) to `out`, or says why
    /// it has none.
    fn lookup(&self, path: &[Box<str>], out: &mut String) -> Result<(), String>;
}

/// A compiled template.
#[derive(Clone, Debug)]
pub struct Template {
    source: Box<str>,
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Text(Box<str>),
    Action(Pipeline),
}

#[derive(Clone, Debug)]
struct Pipeline {
    commands: Vec<Command>,
}

#[derive(Clone, Debug)]
enum Command {
    Operand(Operand),
    Call(Func, Vec<Operand>),
}

#[derive(Clone, Debug)]
enum Operand {
    Field(Vec<Box<str>>),
    Literal(Box<str>),
    Nested(Pipeline),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Lower,
    Upper,
    Trim,
    Replace,
    TrimPrefix,
    TrimSuffix,
    Sha256sum,
}

impl Func {
    fn parse(name: &str) -> Option<Func> {
        Some(match name {
            "lower" => Func::Lower,
            "upper" => Func::Upper,
            "trim" => Func::Trim,
            "replace" => Func::Replace,
            "trimPrefix" => Func::TrimPrefix,
            "trimSuffix" => Func::TrimSuffix,
            "sha256sum" => Func::Sha256sum,
            _ => return None,
        })
    }

    fn arity(self) -> usize {
        match self {
            Func::Lower | Func::Upper | Func::Trim | Func::Sha256sum => 1,
            Func::TrimPrefix | Func::TrimSuffix => 2,
            Func::Replace => 3,
        }
    }

    fn apply(self, args: &[Cow<'_, str>]) -> String {
        match (self, args) {
            (Func::Lower, [s]) => s.to_lowercase(),
            (Func::Upper, [s]) => s.to_uppercase(),
            (Func::Trim, [s]) => s.trim().to_owned(),
            (Func::Replace, [old, new, s]) => s.replace(old.as_ref(), new),
            (Func::TrimPrefix, [prefix, s]) => {
                s.strip_prefix(prefix.as_ref()).unwrap_or(s).to_owned()
            }
            (Func::TrimSuffix, [suffix, s]) => {
                s.strip_suffix(suffix.as_ref()).unwrap_or(s).to_owned()
            }
            (Func::Sha256sum, [s]) => {
                crate::hex::lower(digest::digest(&digest::SHA256, s.as_bytes()).as_ref())
            }
            // Arity is checked at compile time, so this arm is unreachable; be total anyway.
            _ => String::new(),
        }
    }
}

impl Template {
    /// Compiles `source`; `roots` lists the top-level field names the attestor provides.
    pub fn compile(source: &str, roots: &[&str]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        let mut trim_next_text = false;
        while !rest.is_empty() {
            let (text, action) = match rest.find("{{") {
                Some(at) => (&rest[..at], Some(&rest[at + 2..])),
                None => (rest, None),
            };
            let mut text = if trim_next_text {
                text.trim_start()
            } else {
                text
            };
            trim_next_text = false;
            let Some(after_open) = action else {
                push_text(&mut parts, text);
                break;
            };
            let (trim_before, body_start) = match after_open.strip_prefix("- ") {
                Some(body) => (true, body),
                None => (false, after_open),
            };
            if trim_before {
                text = text.trim_end();
            }
            push_text(&mut parts, text);
            let close = body_start
                .find("}}")
                .ok_or("unclosed action: \"{{\" without \"}}\"")?;
            let mut body = &body_start[..close];
            if let Some(trimmed) = body.strip_suffix(" -") {
                body = trimmed;
                trim_next_text = true;
            }
            rest = &body_start[close + 2..];
            let body = body.trim();
            if body.starts_with("/*") && body.ends_with("*/") {
                continue;
            }
            let tokens = lex(body)?;
            let mut parser = Parser {
                tokens: &tokens,
                at: 0,
                roots,
            };
            let pipeline = parser.pipeline()?;
            if parser.at != tokens.len() {
                return Err(format!(
                    "unexpected {:?} in {{{{ {body} }}}}",
                    tokens[parser.at]
                ));
            }
            parts.push(Part::Action(pipeline));
        }
        Ok(Template {
            source: source.into(),
            parts,
        })
    }

    /// The same template with each action that is a lone field `constant` knows (the value is
    /// the same for every record: `.PluginName`, an issuer's `.IssuerName`) replaced by that
    /// text, and adjacent texts merged, so that rendering does not look it up again and again.
    /// Renders the same as `self` for any fields that agree with `constant`.
    pub fn with_constants(&self, constant: impl Fn(&[Box<str>]) -> Option<String>) -> Template {
        let mut parts: Vec<Part> = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let text = match part {
                Part::Text(text) => Some(text.to_string()),
                Part::Action(pipeline) => match pipeline.commands.as_slice() {
                    [Command::Operand(Operand::Field(path))] => constant(path),
                    _ => None,
                },
            };
            match (text, parts.last_mut()) {
                (Some(text), Some(Part::Text(before))) => {
                    *before = format!("{before}{text}").into()
                }
                (Some(text), _) => push_text(&mut parts, &text),
                (None, _) => parts.push(part.clone()),
            }
        }
        Template {
            source: self.source.clone(),
            parts,
        }
    }

    /// The text every rendering starts with: the template's leading text, before its first
    /// action that is not a constant (see [`Template::with_constants`]).
    pub fn constant_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(text)) => text,
            _ => "",
        }
    }

    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders an agent path into `out` (replacing its contents) and checks that it is a valid
    /// SPIFFE ID path.
    pub fn render_spiffe_path(&self, fields: &dyn Fields, out: &mut String) -> Result<(), String> {
        out.clear();
        self.render(fields, out)?;
        if !is_valid_spiffe_path(out) {
            return Err(format!(
                "rendered path {:?} is not a valid SPIFFE ID path",
                crate::error::clip(out)
            ));
        }
        Ok(())
    }

    /// Renders into `out` (appending).
    pub fn render(&self, fields: &dyn Fields, out: &mut String) -> Result<(), String> {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Action(pipeline) => match pipeline.commands.as_slice() {
                    // The common action, a lone field, renders straight into `out`.
                    [Command::Operand(Operand::Field(path))] => fields.lookup(path, out)?,
                    _ => out.push_str(&eval_pipeline(pipeline, fields)?),
                },
            }
        }
        Ok(())
    }
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if !text.is_empty() {
        parts.push(Part::Text(text.into()));
    }
}

fn eval_pipeline<'a>(pipeline: &'a Pipeline, fields: &dyn Fields) -> Result<Cow<'a, str>, String> {
    let mut piped: Option<Cow<'a, str>> = None;
    for command in &pipeline.commands {
        piped = Some(match command {
            Command::Operand(operand) => eval_operand(operand, fields)?,
            Command::Call(func, operands) => {
                let mut args = Vec::with_capacity(func.arity());
                for operand in operands {
                    args.push(eval_operand(operand, fields)?);
                }
                args.extend(piped.take());
                Cow::Owned(func.apply(&args))
            }
        });
    }
    Ok(piped.unwrap_or_default())
}

fn eval_operand<'a>(operand: &'a Operand, fields: &dyn Fields) -> Result<Cow<'a, str>, String> {
    match operand {
        Operand::Literal(text) => Ok(Cow::Borrowed(text)),
        Operand::Field(path) => {
            let mut value = String::new();
            fields.lookup(path, &mut value)?;
            Ok(Cow::Owned(value))
        }
        Operand::Nested(pipeline) => eval_pipeline(pipeline, fields),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Field(Vec<Box<str>>),
    Ident(Box<str>),
    Str(Box<str>),
    Pipe,
    Open,
    Close,
}

fn lex(body: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '|' => {
                chars.next();
                tokens.push(Token::Pipe);
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '.' => {
                let end = body[at..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                    .map_or(body.len(), |n| at + n);
                let chain = &body[at + 1..end];
                let path: Vec<Box<str>> = chain.split('.').map(Into::into).collect();
                if chain.is_empty() || path.iter().any(|name| name.is_empty()) {
                    return Err(format!("bad field {:?}", &body[at..end]));
                }
                tokens.push(Token::Field(path));
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string".into()),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => text.push('\n'),
                            Some((_, 't')) => text.push('\t'),
                            Some((_, '\\')) => text.push('\\'),
                            Some((_, '"')) => text.push('"'),
                            other => {
                                return Err(format!(
                                    "unsupported escape \\{}",
                                    other.map_or(' ', |(_, c)| c)
                                ))
                            }
                        },
                        Some((_, c)) => text.push(c),
                    }
                }
                tokens.push(Token::Str(text.into()));
            }
            '`' => {
                chars.next();
                let start = at + 1;
                let end = body[start..]
                    .find('`')
                    .map(|n| start + n)
                    .ok_or("unterminated raw string")?;
                tokens.push(Token::Str(body[start..end].into()));
                while chars.peek().is_some_and(|&(i, _)| i <= end) {
                    chars.next();
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = body[at..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(body.len(), |n| at + n);
                tokens.push(Token::Ident(body[at..end].into()));
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    roots: &'a [&'a str],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn pipeline(&mut self) -> Result<Pipeline, String> {
        let mut commands = Vec::new();
        loop {
            let piped = !commands.is_empty();
            commands.push(self.command(piped)?);
            if self.peek() == Some(&Token::Pipe) {
                self.at += 1;
            } else {
                break;
            }
        }
        Ok(Pipeline { commands })
    }

    fn command(&mut self, piped: bool) -> Result<Command, String> {
        if let Some(Token::Ident(name)) = self.peek().cloned() {
            let func =
                Func::parse(&name).ok_or_else(|| format!("function {name:?} not defined"))?;
            self.at += 1;
            let mut args = Vec::new();
            while let Some(token) = self.peek() {
                if matches!(token, Token::Pipe | Token::Close) {
                    break;
                }
                args.push(self.operand()?);
            }
            let given = args.len() + usize::from(piped);
            if given != func.arity() {
                return Err(format!(
                    "wrong number of args for {name}: want {} got {given}",
                    func.arity()
                ));
            }
            return Ok(Command::Call(func, args));
        }
        if piped {
            return Err("a pipeline stage after \"|\" must be a function".into());
        }
        let operand = self.operand()?;
        if let Some(token) = self.peek() {
            if !matches!(token, Token::Pipe | Token::Close) {
                return Err(format!("unexpected {token:?} after an operand"));
            }
        }
        Ok(Command::Operand(operand))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let token = self.peek().cloned().ok_or("missing value")?;
        self.at += 1;
        match token {
            Token::Str(text) => Ok(Operand::Literal(text)),
            Token::Field(path) => {
                if !self.roots.contains(&path[0].as_ref()) {
                    return Err(format!(
                        "field .{} is not one of .{}",
                        path[0],
                        self.roots.join(", .")
                    ));
                }
                Ok(Operand::Field(path))
            }
            Token::Open => {
                let inner = self.pipeline()?;
                if self.peek() != Some(&Token::Close) {
                    return Err("unclosed \"(\"".into());
                }
                self.at += 1;
                Ok(Operand::Nested(inner))
            }
            Token::Ident(name) => Err(format!(
                "function {name} used as an argument; wrap it in parentheses"
            )),
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// The bytes a SPIFFE ID path segment may hold, `[A-Za-z0-9._-]`, as a table (one load per
/// byte rather than five comparisons: every agent ID is checked).
const SEGMENT_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_');
        b += 1;
    }
    table
};

/// True when `path` is a valid SPIFFE ID path: `/`-separated non-empty segments of
/// `[A-Za-z0-9._-]`, none `.` or `..` (SPIFFE ID spec §2.2).
pub fn is_valid_spiffe_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    // One pass: every byte allowed, every segment (between slashes) non-empty and not a dot
    // segment.
    let segment_ok = |segment: &[u8]| !matches!(segment, b"" | b"." | b"..");
    let bytes = rest.as_bytes();
    let mut start = 0;
    for (at, &b) in bytes.iter().enumerate() {
        if b == b'/' {
            if !segment_ok(bytes.get(start..at).unwrap_or_default()) {
                return false;
            }
            start = at + 1;
        } else if !SEGMENT_BYTES[usize::from(b)] {
            return false;
        }
    }
    segment_ok(bytes.get(start..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Map(&'static [(&'static str, &'static str)]);

    impl Fields for Map {
        fn lookup(&self, path: &[Box<str>], out: &mut String) -> Result<(), String> {
            let key = path.join(".");
            let (_, value) = self
                .0
                .iter()
                .find(|(k, _)| *k == key)
                .ok_or_else(|| format!("map has no entry for key {key:?}"))?;
            out.push_str(value);
            Ok(())
        }
    }

    const ROOTS: &[&str] = &["PluginName", "Subject", "Claims"];
    const FIELDS: Map = Map(&[
        ("PluginName", "jwt"),
        ("Subject", "Node-1"),
        ("Claims.region", "eu-west-1"),
    ]);

    fn render(source: &str) -> Result<String, String> {
        let template = Template::compile(source, ROOTS)?;
        let mut out = String::new();
        template.render(&FIELDS, &mut out)?;
        Ok(out)
    }

    #[test]
    fn renders_fields_pipelines_and_functions() {
        assert_eq!(
            render("/{{ .PluginName }}/{{ .Subject }}").unwrap(),
            "/jwt/Node-1"
        );
        assert_eq!(render("/{{ .Subject | lower }}").unwrap(), "/node-1");
        assert_eq!(render("/{{ lower .Subject }}").unwrap(), "/node-1");
        assert_eq!(
            render(r#"/{{ .Claims.region | replace "-" "_" | upper }}"#).unwrap(),
            "/EU_WEST_1"
        );
        assert_eq!(
            render(r#"/{{ trimPrefix "eu-" .Claims.region }}"#).unwrap(),
            "/west-1"
        );
        assert_eq!(
            render(r#"/{{ .Subject | trimSuffix "-1" }}"#).unwrap(),
            "/Node"
        );
        assert_eq!(
            render("/{{ (lower .Subject) | upper }}").unwrap(),
            "/NODE-1"
        );
        assert_eq!(render("/a  {{- .Subject -}}  /b").unwrap(), "/aNode-1/b");
        assert_eq!(render("/{{ `raw\\n` }}").unwrap(), "/raw\\n");
        // sha256("jwt"), computed independently with coreutils sha256sum.
        assert_eq!(
            render("/{{ sha256sum .PluginName }}").unwrap(),
            "/fc93cb07e1ad92898527100e58a1cf1d1e7f65e9a266a6f87f3c84feb541c7b3"
        );
    }

    #[test]
    fn load_errors_for_syntax_unknown_functions_and_fields() {
        for (source, want) in [
            ("/{{ .Subject ", "unclosed action"),
            ("/{{ title .Subject }}", "function \"title\" not defined"),
            ("/{{ .Nope }}", "field .Nope is not one of"),
            ("/{{ lower }}", "wrong number of args"),
            ("/{{ .Subject | .PluginName }}", "must be a function"),
            ("/{{ \"open }}", "unterminated string"),
            ("/{{ .Subject .Subject }}", "unexpected"),
        ] {
            let err = Template::compile(source, ROOTS).unwrap_err();
            assert!(err.contains(want), "{source}: {err}");
        }
    }

    #[test]
    fn constants_render_as_the_fields_would() {
        let constant = |path: &[Box<str>]| match path {
            [root] if root.as_ref() == "PluginName" => Some("jwt".to_owned()),
            _ => None,
        };
        for source in [
            "/{{ .PluginName }}/{{ .Subject }}",
            "/{{ .PluginName }}{{ .PluginName }}/x",
            "/{{ .PluginName | upper }}/{{ .Subject }}",
            "/a {{- .PluginName -}} /b/{{ .Subject }}",
            "/{{ .PluginName.x }}",
            "/{{ .Claims.pool }}",
            "{{ .PluginName }}",
        ] {
            let template = Template::compile(source, ROOTS).unwrap();
            let bound = template.with_constants(constant);
            let (mut want, mut got) = (String::new(), String::new());
            let rendered = template.render(&FIELDS, &mut want);
            assert_eq!(bound.render(&FIELDS, &mut got), rendered, "{source}");
            assert_eq!(got, want, "{source}");
            assert_eq!(bound.source(), source);
        }
        let bound = Template::compile("/{{ .PluginName }}/{{ .Subject }}", ROOTS)
            .unwrap()
            .with_constants(constant);
        assert!(
            matches!(bound.parts.as_slice(), [Part::Text(t), Part::Action(_)] if t.as_ref() == "/jwt/"),
            "{:?}",
            bound.parts
        );
    }

    #[test]
    fn missing_field_fails_at_render() {
        let err = render("/{{ .Claims.pool }}").unwrap_err();
        assert!(err.contains("pool"), "{err}");
    }

    #[test]
    fn spiffe_paths() {
        for good in [
            "/jwt/bootstrap/node-1",
            "/a",
            "/a.b/..c/_-.",
            "/.../x",
            "/A9",
        ] {
            assert!(is_valid_spiffe_path(good), "{good:?}");
        }
        for bad in [
            "", "jwt", "/", "/a//b", "/a/", "/a/./b", "/a/../b", "/a b", "/é", "/.", "/..", "//a",
            "/a/.", "/a/..", "/a%2f", "/a\\b",
        ] {
            assert!(!is_valid_spiffe_path(bad), "{bad:?}");
        }
        for c in (0..=255u8).map(char::from) {
            let allowed = c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/');
            assert_eq!(is_valid_spiffe_path(&format!("/a{c}b/c")), allowed, "{c:?}");
        }
    }
}
