//! From the spanned YAML tree to validated models, collecting every problem
//! instead of stopping at the first.

mod children;
pub(crate) mod config;
pub(crate) mod duration;
mod hints;
pub(crate) mod keys;
pub(crate) mod refs;
mod step;
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use crate::diag::{did_you_mean, Diag};
use crate::expr::{self, template, Expr};
use crate::load::yaml::{Key, Yaml, YamlKind};
use crate::model::{Part, Template, Val};
use crate::source::{OffsetMap, Source, Span};

pub(crate) use workflow::workflow;

/// Parse and validate a workflow file's text.
pub(crate) fn workflow_source(
    src: &Arc<Source>,
    config: &crate::model::Config,
) -> Result<crate::model::Workflow, Vec<Diag>> {
    let top = std::fs::canonicalize(&src.path).unwrap_or_else(|_| src.path.clone());
    workflow_in(src, config, &mut vec![top])
}

/// One file of a tree of `workflow:` steps; `stack` holds the files above it
/// and itself (canonical paths), for cycles and the depth limit.
fn workflow_in(
    src: &Arc<Source>,
    config: &crate::model::Config,
    stack: &mut Vec<std::path::PathBuf>,
) -> Result<crate::model::Workflow, Vec<Diag>> {
    let tree = crate::load::yaml::parse(src).map_err(|d| vec![d])?;
    let mut wf = workflow(src, &tree, config)?;
    let diags = children::check(&mut wf, config, stack);
    if diags.is_empty() {
        Ok(wf)
    } else {
        Err(diags)
    }
}

/// Collects diagnostics for one source file.
pub(crate) struct Ctx {
    pub(crate) src: Arc<Source>,
    pub(crate) diags: Vec<Diag>,
    /// Steps and inputs that were declared but had errors of their own:
    /// references to them are not reported a second time.
    pub(crate) broken_steps: Vec<String>,
    pub(crate) broken_inputs: Vec<String>,
}

/// The keys of a mapping, after unknown ones were reported.
pub(crate) struct Fields<'a> {
    pub(crate) entries: &'a [(Key, Yaml)],
    pub(crate) span: Span,
}

impl<'a> Fields<'a> {
    pub(crate) fn get(&self, k: &str) -> Option<&'a Yaml> {
        self.entries
            .iter()
            .find(|(key, _)| key.name == k)
            .map(|(_, v)| v)
    }

    pub(crate) fn key(&self, k: &str) -> Option<&'a Key> {
        self.entries
            .iter()
            .find(|(key, _)| key.name == k)
            .map(|(k, _)| k)
    }

    pub(crate) fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
}

impl Ctx {
    pub(crate) fn new(src: &Arc<Source>) -> Self {
        Ctx {
            src: src.clone(),
            diags: Vec::new(),
            broken_steps: Vec::new(),
            broken_inputs: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, d: Diag) {
        self.diags.push(d.with_source(&self.src));
    }

    pub(crate) fn error(
        &mut self,
        code: &'static str,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) {
        self.push(Diag::new(code, message).label(span, label));
    }

    pub(crate) fn expected(&mut self, y: &Yaml, what: &str, expected: &str) {
        self.push(
            Diag::new(
                "type",
                if what.contains(' ') {
                    format!("{what} must be {expected}")
                } else {
                    format!("`{what}` must be {expected}")
                },
            )
            .label(y.span, format!("found {}", y.kind_name()))
            .maybe_help(hints::example(what, y)),
        );
    }

    /// A mapping with only the keys of `table`.
    pub(crate) fn keys<'a>(&mut self, y: &'a Yaml, table: &keys::Table) -> Option<Fields<'a>> {
        self.fields(y, table.what, &table.names())
    }

    /// A mapping with only `allowed` keys; unknown keys get a did-you-mean.
    pub(crate) fn fields<'a>(
        &mut self,
        y: &'a Yaml,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'a>> {
        let Some(entries) = y.as_map() else {
            self.expected(y, what, "a mapping");
            return None;
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                let suggestion = did_you_mean(&k.name, allowed.iter().copied());
                let help = match (hints::alias(&k.name, allowed), suggestion) {
                    (Some(alias), _) => alias,
                    (None, Some(s)) => format!("did you mean `{s}`?"),
                    (None, None) => format!("known keys: {}", allowed.join(", ")),
                };
                self.push(
                    Diag::new("unknown-key", format!("unknown key `{}` in {what}", k.name))
                        .label(k.span, "not a known key")
                        .help(help),
                );
            }
        }
        Some(Fields {
            entries,
            span: y.span,
        })
    }

    pub(crate) fn string(&mut self, y: &Yaml, what: &str) -> Option<String> {
        match &y.kind {
            YamlKind::Scalar(s) if !y.is_null() => Some(s.text.clone()),
            _ => {
                self.expected(y, what, "a string");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, y: &Yaml, what: &str) -> Option<bool> {
        let b = y.as_bool();
        if b.is_none() {
            self.expected(y, what, "true or false");
        }
        b
    }

    pub(crate) fn int(&mut self, y: &Yaml, what: &str) -> Option<i64> {
        let i = y.as_i64();
        if i.is_none() {
            self.expected(y, what, "an integer");
        }
        i
    }

    /// A positive count (concurrency, attempts, …).
    pub(crate) fn count(&mut self, y: &Yaml, what: &str, min: i64) -> Option<u64> {
        let i = self.int(y, what)?;
        if i < min {
            self.push(
                Diag::new("range", format!("`{what}` must be at least {min}"))
                    .label(y.span, format!("{i} is too small")),
            );
            return None;
        }
        Some(i as u64)
    }

    pub(crate) fn duration(&mut self, y: &Yaml, what: &str) -> Option<Duration> {
        let s = match &y.kind {
            YamlKind::Scalar(s) if !y.is_null() => s.text.clone(),
            _ => {
                self.expected(y, what, "a duration like 30s or 1m30s");
                return None;
            }
        };
        match duration::parse(&s) {
            // A timeout of nothing fails every attempt; a delay capped at
            // nothing makes `jitter` and backoff meaningless.
            Ok(d) if d.is_zero() && matches!(what, "timeout" | "max_delay") => {
                self.push(
                    Diag::new("duration", format!("`{what}` must be more than 0s"))
                        .label(y.span, "zero")
                        .help(match what {
                            "timeout" => "leave `timeout` out for no timeout",
                            _ => "leave `max_delay` out for no cap",
                        }),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.push(
                    Diag::new("duration", format!("invalid duration for `{what}`"))
                        .label(y.span, e)
                        .help("durations look like 250ms, 30s, 10m, 2h, 1d or 1m30s"),
                );
                None
            }
        }
    }

    /// A string or a list of strings.
    pub(crate) fn string_list(&mut self, y: &Yaml, what: &str) -> Vec<(String, Span)> {
        match &y.kind {
            YamlKind::Seq(items) => items
                .iter()
                .filter_map(|i| self.string(i, what).map(|s| (s, i.span)))
                .collect(),
            YamlKind::Scalar(_) if !y.is_null() => {
                vec![(y.as_str().unwrap_or_default().to_string(), y.span)]
            }
            _ => {
                self.expected(y, what, "a string or a list of strings");
                Vec::new()
            }
        }
    }

    /// A string value that may hold `${{ }}`.
    pub(crate) fn template(&mut self, y: &Yaml, what: &str) -> Option<Template> {
        let text = self.string(y, what)?;
        self.template_of(&text, y, false)
    }

    /// Compile the expressions inside `text` (the text of the scalar `y`).
    pub(crate) fn template_of(&mut self, text: &str, y: &Yaml, bare: bool) -> Option<Template> {
        let span = y.span;
        // Where each byte of `text` is written, through quotes and escapes.
        let map = y
            .as_scalar()
            .filter(|s| s.text == text)
            .and_then(|s| s.offsets());
        let pieces = if bare && !text.contains("${{") {
            vec![template::Piece::Expr { text, offset: 0 }]
        } else {
            match template::split(text) {
                Ok(p) => p,
                Err(u) => {
                    let loc = |o: usize| match &map {
                        Some(m) => Some(m.source(o)),
                        None => self.locate(span, &text[o..]),
                    };
                    let at = loc(u.offset).unwrap_or(span.offset);
                    let mut d = Diag::new("expression", "`${{` is never closed")
                        .label(Span::new(at, 3), "opened here");
                    // A quote left open hides the `}}` after it.
                    let string = u.string.and_then(|o| {
                        text.get(o..)?;
                        let found = loc(o)?;
                        (found > at).then_some(found)
                    });
                    d = match string {
                        Some(q) => d
                            .label(Span::new(q, 1), "this string is never closed")
                            .help(
                            "inside '…' a quote is written \\' (or quote with \"…\" or '''…''')",
                        ),
                        None => d.help("close the expression with `}}`"),
                    };
                    self.push(d);
                    return None;
                }
            }
        };
        let mut parts = Vec::new();
        let mut ok = true;
        for p in pieces {
            match p {
                template::Piece::Text(t) => parts.push(Part::Text(t.to_string())),
                template::Piece::Expr {
                    text: inner,
                    offset,
                } => match self.expr(inner, span, map.as_ref().map(|m| m.from(offset))) {
                    Some(e) => parts.push(Part::Expr(e)),
                    None => ok = false,
                },
            }
        }
        ok.then_some(Template { parts })
    }

    /// Where `needle` is written in the file, searching from the value's start.
    fn locate(&self, span: Span, needle: &str) -> Option<usize> {
        let text = &self.src.text;
        let start = span.offset.min(text.len());
        let end = (start + needle.len() * 2 + 4096).min(text.len());
        let hay = text.get(start..end)?;
        hay.find(needle).map(|i| start + i)
    }

    /// Compile one expression; syntax errors point inside it. `at` says where
    /// each byte of `text` is written; without it, `text` is searched for.
    pub(crate) fn expr(
        &mut self,
        text: &str,
        value_span: Span,
        at: Option<OffsetMap>,
    ) -> Option<Arc<Expr>> {
        let (file_offset, file_map) = match at {
            Some(m) => (Some(m.source(0)), (!m.is_linear()).then(|| Arc::new(m))),
            None => (self.locate(value_span, text), None),
        };
        match expr::compile(text) {
            Ok((ast, refs, unknown_idents)) => Some(Arc::new(Expr {
                text: text.to_string(),
                ast,
                refs,
                unknown_idents,
                file_offset,
                file_map,
                value_span,
            })),
            Err(e) => {
                let probe = Expr {
                    text: text.to_string(),
                    ast: Default::default(),
                    refs: vec![],
                    unknown_idents: vec![],
                    file_offset,
                    file_map,
                    value_span,
                };
                let d = if e.too_deep {
                    Diag::new("expression", e.message)
                        .label(probe.span_of(e.offset, 1), "too deep from here")
                        .help(
                            "split it: compute parts in a `transform` step and combine its results",
                        )
                } else {
                    Diag::new("expression", "invalid expression")
                        .label(probe.span_of(e.offset, 1), e.message)
                        .help("expressions are CEL: https://github.com/google/cel-spec/blob/master/doc/langdef.md")
                };
                self.push(d);
                None
            }
        }
    }

    /// Names and functions in `e` that nothing defines.
    pub(crate) fn unknown_names(&mut self, e: &Expr) {
        for u in &e.unknown_idents {
            let span = e.span_of(u.offset, u.len);
            let name = &u.name;
            let d = match &u.call {
                Some(problem) => {
                    let (message, help) = problem.explain(name);
                    let label = match problem {
                        crate::expr::functions::Problem::Unknown(_) => "no such function",
                        _ => "called here",
                    };
                    Diag::new("expression", message)
                        .label(span, label)
                        .help(help)
                }
                None => {
                    let namespaces = crate::expr::functions::namespaces();
                    let hint =
                        did_you_mean(name, crate::expr::ROOTS.iter().copied().chain(namespaces));
                    Diag::new("expression", format!("unknown name `{name}` in expression"))
                        .label(span, "not defined")
                        .help(match hint {
                            Some(h) => format!("did you mean `{h}`?"),
                            None => "expressions can use inputs, env, steps, run, secrets (and item, index in for_each steps)".into(),
                        })
                }
            };
            self.push(d);
        }
    }

    /// Any YAML value, with expressions compiled in every string inside.
    pub(crate) fn val(&mut self, y: &Yaml, what: &str) -> Option<Val> {
        Some(match &y.kind {
            YamlKind::Scalar(s) if s.text.contains("${{") => Val::Str(self.template(y, what)?),
            YamlKind::Scalar(_) => Val::Lit(y.to_json()),
            YamlKind::Seq(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for i in items {
                    match self.val(i, what) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                if out.iter().all(|v| matches!(v, Val::Lit(_))) {
                    Val::Lit(y.to_json())
                } else {
                    Val::List(out)
                }
            }
            YamlKind::Map(m) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (k, v) in m {
                    match self.val(v, what) {
                        Some(x) => out.push((k.name.clone(), x)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                if out.iter().all(|(_, v)| matches!(v, Val::Lit(_))) {
                    Val::Lit(y.to_json())
                } else {
                    Val::Map(out)
                }
            }
        })
    }

    /// A mapping of names to values with expressions (`env:`, `outputs:`, `with:`).
    pub(crate) fn val_map(&mut self, y: &Yaml, what: &str) -> Vec<(String, Val)> {
        let Some(m) = y.as_map() else {
            self.expected(y, what, "a mapping");
            return Vec::new();
        };
        // Sized up front: `collect` through a filter would start at four
        // entries, and most of these maps hold one or two (a tenth of a
        // 100,000-step run's memory).
        let mut out = Vec::with_capacity(m.len());
        for (k, v) in m {
            let val = if v.is_null() {
                Val::Lit(serde_json::Value::String(String::new()))
            } else {
                match self.val(v, what) {
                    Some(val) => val,
                    None => continue,
                }
            };
            out.push((k.name.clone(), val));
        }
        out
    }
}

/// `[A-Za-z_][A-Za-z0-9_-]*`: step, input and secret names.
pub(crate) fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == '-')
}

pub(crate) use workflow::check_type;

/// "a list", "a string", … for messages about values computed at run time.
pub(crate) fn json_kind_of(v: &serde_json::Value) -> &'static str {
    workflow::json_kind(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_name("build-image"));
        assert!(is_name("_x1"));
        assert!(!is_name("1x"));
        assert!(!is_name("a b"));
        assert!(!is_name(""));
    }
}
