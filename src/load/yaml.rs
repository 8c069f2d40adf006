//! YAML → a small spanned tree of our own. The validator works on this tree, so
//! nothing downstream depends on the YAML crate, and every value keeps the byte
//! range it came from.

use std::sync::Arc;

use super::events::LoadError;

use crate::diag::Diag;
use crate::source::{OffsetMap, Source, Span};

#[derive(Debug, Clone)]
pub(crate) struct Yaml {
    pub(crate) span: Span,
    pub(crate) kind: YamlKind,
}

#[derive(Debug, Clone)]
pub(crate) enum YamlKind {
    Scalar(Scalar),
    Seq(Vec<Yaml>),
    Map(Vec<(Key, Yaml)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    /// Plain (unquoted) scalars are typed (`3`, `true`, `null`); quoted ones are strings.
    pub(crate) plain: bool,
    /// Where each byte of `text` is written in the file, for labels inside
    /// the value (an expression in `'it''s ${{ … }}'`): see [`Scalar::offsets`].
    at: At,
}

/// Most scalars are written as they read, from one offset on: that costs
/// no allocation (a large workflow has hundreds of thousands of scalars).
#[derive(Debug, Clone)]
enum At {
    Linear(usize),
    Mapped(Arc<OffsetMap>),
    Unknown,
}

impl Scalar {
    /// Where each byte of the text is written in the file; `None` when the
    /// source could not be matched to the text.
    pub(crate) fn offsets(&self) -> Option<OffsetMap> {
        match &self.at {
            At::Linear(start) => Some(OffsetMap::linear(*start)),
            At::Mapped(m) => Some((**m).clone()),
            At::Unknown => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) span: Span,
}

impl Yaml {
    pub(crate) fn as_map(&self) -> Option<&[(Key, Yaml)]> {
        match &self.kind {
            YamlKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn as_seq(&self) -> Option<&[Yaml]> {
        match &self.kind {
            YamlKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            YamlKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Any scalar as text (numbers and booleans included), as a shell or URL would see it.
    pub(crate) fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, YamlKind::Scalar(s) if s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            YamlKind::Scalar(s) if s.plain => match s.text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match &self.kind {
            YamlKind::Scalar(s) if s.plain => s.text.parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match &self.kind {
            YamlKind::Scalar(s) if s.plain => s.text.parse().ok(),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// A short name of the node's shape, for "expected X, found Y".
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.kind {
            YamlKind::Map(_) => "a mapping",
            YamlKind::Seq(_) => "a list",
            YamlKind::Scalar(_) if self.is_null() => "nothing",
            YamlKind::Scalar(s) if !s.plain => "a string",
            YamlKind::Scalar(_) if self.as_bool().is_some() => "a boolean",
            YamlKind::Scalar(_) if self.as_f64().is_some() => "a number",
            YamlKind::Scalar(_) => "a string",
        }
    }

    /// The value as JSON, with YAML 1.2 core-schema typing of plain scalars.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            YamlKind::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
            YamlKind::Seq(s) => J::Array(s.iter().map(Yaml::to_json).collect()),
            YamlKind::Scalar(s) => {
                if !s.plain {
                    J::String(s.text.clone())
                } else if self.is_null() {
                    J::Null
                } else if let Some(b) = self.as_bool() {
                    J::Bool(b)
                } else if let Ok(i) = s.text.parse::<i64>() {
                    J::from(i)
                } else if let Some(f) = s
                    .text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                {
                    J::Number(f)
                } else {
                    J::String(s.text.clone())
                }
            }
        }
    }
}

impl Yaml {
    /// The SHA-256 of [`Yaml::to_json`] as compact JSON, without building
    /// that value: a step's definition digest (as `orch resume` and the
    /// cache compare it).
    pub(crate) fn json_digest(&self) -> String {
        crate::digest::sha256_hex_of_json(&AsJson(self))
    }
}

/// A [`Yaml`] serialized as [`Yaml::to_json`] would be: keys sorted as in a
/// `serde_json::Map`, scalars typed the same way.
struct AsJson<'a>(&'a Yaml);

impl serde::Serialize for AsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let y = self.0;
        match &y.kind {
            YamlKind::Map(m) => {
                let mut entries: Vec<_> = m.iter().collect();
                entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
                let mut map = ser.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(&k.name, &AsJson(v))?;
                }
                map.end()
            }
            YamlKind::Seq(s) => {
                let mut seq = ser.serialize_seq(Some(s.len()))?;
                for v in s {
                    seq.serialize_element(&AsJson(v))?;
                }
                seq.end()
            }
            // A scalar is typed as `to_json` types it (its value is small).
            YamlKind::Scalar(_) => y.to_json().serialize(ser),
        }
    }
}

/// Parse YAML text into the spanned tree. Anchors, aliases and tags are refused
/// (no alias bombs); duplicate keys are errors.
pub(crate) fn parse(source: &Arc<Source>) -> Result<Yaml, Diag> {
    let text = &source.text;
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(Diag::new("yaml", format!("{} is empty", source.name))
            .help("a workflow needs at least `name:` and `steps:`")
            .with_source(source));
    }
    // The YAML parser has internal assertions; a panic there must become a
    // diagnostic, never a crash.
    match std::panic::catch_unwind(|| super::events::load(source)) {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(e)) => Err(load_error(source, e)),
        Err(_) => Err(Diag::new(
            "yaml",
            format!("{} is not YAML that orch can read", source.name),
        )
        .with_source(source)),
    }
}

fn load_error(source: &Arc<Source>, e: LoadError) -> Diag {
    let at = |o: usize| Span::new(o, 1);
    // The parser marks the node a tag or an anchor belongs to, which starts
    // after it: label the `!tag` or `&anchor` itself.
    let before = |offset: usize, sigil: char| {
        token_before(&source.text, offset, sigil).unwrap_or(Span::new(offset, 1))
    };
    let d = match e {
        LoadError::TopLevelNotMapping(o) => Diag::new(
            "yaml",
            "the top level of the file must be a mapping of keys",
        )
        .label(at(o), "expected `key: value` here"),
        LoadError::Anchor(o) => Diag::new("yaml", "YAML anchors and aliases are not supported")
            .label(before(o, '&'), "anchor defined here")
            .help("write the value out, or use `defaults:` for values shared by every step"),
        LoadError::KeyNotScalar(o) => {
            Diag::new("yaml", "mapping keys must be plain strings").label(at(o), "complex key here")
        }
        LoadError::Tag(o) => Diag::new("yaml", "YAML tags (`!tag`) are not supported")
            .label(before(o, '!'), "tag here"),
        LoadError::Scan(o, what) => {
            let msg = what.split(" at byte").next().unwrap_or(&what).to_string();
            if msg.contains("anchor") || msg.contains("alias") {
                Diag::new("yaml", "YAML anchors and aliases are not supported").label(at(o), msg)
            } else if msg.contains("tab") {
                let tab = offending_tab(&source.text, o).unwrap_or(o);
                Diag::new("yaml", format!("invalid YAML: {msg}"))
                    .label(Span::new(tab, 1), "tab here")
                    .help("indent with spaces; YAML does not allow tabs there")
            } else {
                Diag::new("yaml", format!("invalid YAML: {msg}")).label(at(o), "here")
            }
        }
        LoadError::DuplicateKey { first, second, key } => {
            let len = key.len().max(1);
            Diag::new("duplicate-key", format!("duplicate key `{key}`"))
                .label(Span::new(first, len), "first defined here")
                .label(Span::new(second, len), "defined again here")
        }
    };
    d.with_source(source)
}

/// The whitespace-separated token holding `sigil` (`!` of a tag, `&` of an
/// anchor) nearest before `offset`, over line breaks and comments.
fn token_before(text: &str, offset: usize, sigil: char) -> Option<Span> {
    let mut end = offset.min(text.len());
    // A node has at most a tag and an anchor before it.
    for _ in 0..2 {
        let head = text.get(..end)?;
        // Back over blanks, and over whole lines that hold only a comment.
        let mut upto = head.trim_end().len();
        loop {
            let line_start = head[..upto].rfind('\n').map_or(0, |i| i + 1);
            let line = &head[line_start..upto];
            let code = match line.find(" #") {
                Some(i) => &line[..i],
                None if line.trim_start().starts_with('#') => "",
                None => line,
            };
            if code.trim().is_empty() && line_start > 0 {
                upto = head[..line_start].trim_end().len();
                continue;
            }
            upto = line_start + code.trim_end().len();
            break;
        }
        let start = head[..upto].rfind([' ', '\t', '\n']).map_or(0, |i| i + 1);
        let token = &head[start..upto];
        if let Some(i) = token.find(sigil) {
            return Some(Span::new(start + i, (upto - start - i).max(1)));
        }
        if start == 0 {
            return None;
        }
        end = start;
    }
    None
}

/// The tab a scanner error is about: at the mark, or else the first tab in
/// the indentation of the mark's line or a line after it (a plain scalar
/// is marked where it starts, the line before its bad continuation).
fn offending_tab(text: &str, offset: usize) -> Option<usize> {
    let offset = offset.min(text.len());
    if text[offset..].starts_with('\t') {
        return Some(offset);
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut at = line_start;
    for line in text[line_start..].split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(i) = line[..indent].find('\t') {
            return Some(at + i);
        }
        at += line.len();
    }
    None
}

/// Where each byte of the decoded scalar `value`, which starts at `start`,
/// is written: past the opening quote or the block header, through `''`
/// and `\` escapes, folded line breaks and indentation. `None` when the
/// source cannot be matched to the value (a style not understood here):
/// labels then fall back to searching the value, or to its start.
fn offset_map(text: &str, start: usize, value: &str) -> Option<OffsetMap> {
    let rest = text.get(start..).unwrap_or("");
    let (quote, body) = match rest.chars().next() {
        Some(q @ ('\'' | '"')) => (Some(q), 1),
        // A block scalar's text starts on the line after its header.
        Some('|' | '>') => (None, rest.find('\n').map_or(rest.len(), |i| i + 1)),
        _ => (None, 0),
    };
    if rest[body..].starts_with(value) {
        return Some(OffsetMap::linear(start + body));
    }
    let mut map = OffsetMap::linear(start + body);
    let mut pos = body;
    for (di, dc) in value.char_indices() {
        loop {
            let sc = rest.get(pos..).and_then(|t| t.chars().next())?;
            let next = rest[pos + sc.len_utf8()..].chars().next();
            match (quote, sc) {
                (Some('\''), '\'') if next == Some('\'') && dc == '\'' => {
                    map.push(di, start + pos);
                    pos += 2;
                }
                (Some('"'), '\\') => match next {
                    // An escaped line break produces nothing.
                    Some('\n' | '\r') => {
                        let tail = rest.get(pos + 2..).unwrap_or("");
                        pos +=
                            2 + tail.len() - tail.trim_start_matches([' ', '\t', '\r', '\n']).len();
                        continue;
                    }
                    Some(e) => {
                        let len = match e {
                            'x' => 4,
                            'u' => 6,
                            'U' => 10,
                            _ => 1 + e.len_utf8(),
                        };
                        map.push(di, start + pos);
                        pos = (pos + len).min(rest.len());
                    }
                    None => return None,
                },
                (Some(q), c) if c == q => return None,
                (_, c) if c == dc => {
                    map.push(di, start + pos);
                    pos += c.len_utf8();
                }
                // A folded line break or blank is written as other blanks.
                (_, c) if c.is_whitespace() && dc.is_whitespace() => {
                    map.push(di, start + pos);
                    pos += c.len_utf8();
                }
                // Indentation and the blanks around a folded line break.
                (_, c) if c.is_whitespace() => {
                    pos += c.len_utf8();
                    continue;
                }
                _ => return None,
            }
            break;
        }
    }
    Some(map)
}

/// Length of a scalar as written, so a label underlines the whole value.
pub(super) fn scalar_len(text: &str, at: usize, value: &str) -> usize {
    let rest = &text[at.min(text.len())..];
    let line = rest.split('\n').next().unwrap_or("");
    if value.is_empty() {
        return 1;
    }
    if line.starts_with(value) {
        return value.len();
    }
    if let Some(q @ ('"' | '\'')) = line.chars().next() {
        // Quoted: up to the closing quote on this line.
        let mut escaped = false;
        let mut chars = line.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if q == '"' && c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            // `''` is a quote inside a single-quoted scalar.
            if q == '\'' && c == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
                continue;
            }
            if c == q && !escaped {
                return i + 1;
            }
            escaped = false;
        }
    }
    line.trim_end().len().max(1)
}

/// A scalar node: its decoded `text` starts at byte `start` of the file.
pub(super) fn scalar(source: &Source, start: usize, text: String, plain: bool) -> Yaml {
    Yaml {
        span: Span::new(start, scalar_len(&source.text, start, &text)),
        kind: YamlKind::Scalar(Scalar {
            at: match offset_map(&source.text, start, &text) {
                Some(m) if m.is_linear() => At::Linear(m.source(0)),
                Some(m) => At::Mapped(Arc::new(m)),
                None => At::Unknown,
            },
            plain,
            text,
        }),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_digest_is_the_digest_of_to_json() {
        let text = "z: 1\na: { y: [1, -2, 3.5, 1e3, .inf, .nan, null, ~, true, False, yes, '7', \"x\\ty\", é] }\nm:\n  - k: v\n    b: 0x1f\n  - |\n    block\n    text\nempty: {}\nlist: []\nn: 12345678901234567890\nq: \"quote\\\"s\"\n";
        let y = parse(&Arc::new(Source::new("t.yaml", "t.yaml", text))).unwrap();
        let want = crate::digest::sha256_hex(y.to_json().to_string().as_bytes());
        assert_eq!(y.json_digest(), want);
        let steps = parse(&Arc::new(Source::new(
            "s.yaml",
            "s.yaml",
            "steps:\n  - id: a\n    run: echo\n",
        )))
        .unwrap();
        assert_eq!(
            steps.json_digest(),
            crate::digest::sha256_hex(steps.to_json().to_string().as_bytes())
        );
    }

    fn src(t: &str) -> Arc<Source> {
        Arc::new(Source::new("t.yaml", "t.yaml", t))
    }

    #[test]
    fn spans_point_at_values() {
        let s = src("name: x\nsteps:\n  - id: \"héllo\"\n    run: echo hi\n");
        let y = parse(&s).unwrap();
        let steps = y.get("steps").unwrap().as_seq().unwrap();
        let id = steps[0].get("id").unwrap();
        assert_eq!(
            &s.text[id.span.offset..id.span.offset + id.span.len],
            "\"héllo\""
        );
        let run = steps[0].get("run").unwrap();
        assert_eq!(
            &s.text[run.span.offset..run.span.offset + run.span.len],
            "echo hi"
        );
        assert!(!id.as_scalar().unwrap().plain);
    }

    #[test]
    fn refuses_aliases_and_empty_files() {
        assert!(parse(&src("a: &x [1]\nb: *x\n")).is_err());
        assert!(parse(&src("b: *x\n")).is_err());
        assert!(parse(&src("")).is_err());
        assert!(parse(&src("# only a comment\n")).is_err());
        assert!(parse(&src("- a\n- b\n")).is_err());
        assert!(parse(&src("a: 1\na: 2\n")).is_err());
        assert!(parse(&src("a: !tag 1\n")).is_err());
        assert!(parse(&src("a: [1\n")).is_err());
    }

    /// The source text at the decoded offset of `needle` in the value of `key`.
    fn written_at(t: &str, key: &str, needle: &str) -> String {
        let s = src(t);
        let y = parse(&s).unwrap();
        let v = y.get(key).unwrap().as_scalar().unwrap();
        let at = v.offsets().expect("mapped");
        let d = v.text.find(needle).unwrap();
        s.text[at.source(d)..].chars().take(needle.len()).collect()
    }

    #[test]
    fn decoded_offsets_map_back_through_escapes_and_folds() {
        let x = "steps.x";
        assert_eq!(written_at("a: 'it''s ''q'' steps.x'\n", "a", x), x);
        assert_eq!(written_at("a: 'it''s'\n", "a", "s"), "s");
        assert_eq!(written_at("a: \"\\u00e9 \\\"q\\\" steps.x\"\n", "a", x), x);
        assert_eq!(written_at("a: \"é\\t\\\n    steps.x\"\n", "a", x), x);
        assert_eq!(written_at("a: \"one\n  two steps.x\"\n", "a", x), x);
        assert_eq!(written_at("a: >\n  one\n\n  two steps.x\n", "a", x), x);
        assert_eq!(written_at("a: |-\n  one\n    steps.x\n", "a", x), x);
        assert_eq!(written_at("a: one\n  two steps.x\n", "a", x), x);
        // The `'` of `''` is where the first quote is.
        let s = src("a: 'it''s'\n");
        let y = parse(&s).unwrap();
        let v = y.get("a").unwrap();
        assert_eq!(v.as_scalar().unwrap().offsets().unwrap().source(2), 6);
        // The label of the whole value covers `''`.
        assert_eq!(
            &s.text[v.span.offset..v.span.offset + v.span.len],
            "'it''s'"
        );
    }

    fn label_of(t: &str) -> (usize, usize, String) {
        let s = src(t);
        let d = parse(&s).unwrap_err();
        let span = d.labels.first().expect("a label").span;
        let (line, col) = s.line_col(span.offset);
        (
            line,
            col,
            s.text[span.offset..span.offset + span.len].to_string(),
        )
    }

    #[test]
    fn tags_and_anchors_are_labelled_themselves() {
        assert_eq!(label_of("a: !tag 1\n"), (1, 4, "!tag".into()));
        assert_eq!(label_of("a: &x 1\n"), (1, 4, "&x".into()));
        // Reported as an anchor: the token before the tag.
        assert_eq!(label_of("a: &x !t 1\n").2, "&x");
        assert_eq!(label_of("a: [!t 1]\n").2, "!t");
        assert_eq!(
            label_of("a: !m # c\n  # more\n  b: 1\n"),
            (1, 4, "!m".into())
        );
        assert_eq!(label_of("s:\n  - &x a: 1\n").2, "&x");
        // Not a YAML blank: part of the anchor's name, never a cut mid-character.
        assert_eq!(label_of("a: &x\u{3000}!t 1\n").2, "&x\u{3000}!t");
    }

    #[test]
    fn a_tab_is_reported_where_it_is() {
        let (line, col, text) = label_of("a:\n  b: c\n\td: e\n");
        assert_eq!((line, col, text.as_str()), (3, 1, "\t"));
    }

    #[test]
    fn typing_of_plain_scalars() {
        let y = parse(&src("a: 3\nb: '3'\nc: true\nd: ~\ne: 1.5\n")).unwrap();
        assert_eq!(y.get("a").unwrap().to_json(), serde_json::json!(3));
        assert_eq!(y.get("b").unwrap().to_json(), serde_json::json!("3"));
        assert_eq!(y.get("c").unwrap().to_json(), serde_json::json!(true));
        assert_eq!(y.get("d").unwrap().to_json(), serde_json::Value::Null);
        assert_eq!(y.get("e").unwrap().to_json(), serde_json::json!(1.5));
    }
}
