//! Diagnostics about what the user wrote: a message, a code, labelled spans
//! in one source file and an optional help line. Validation collects all of
//! them before reporting, so a user fixes everything in one pass.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, Severity};

use crate::source::{Source, Span};

#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub(crate) span: Span,
    pub(crate) text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Diag {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) labels: Vec<Label>,
    pub(crate) help: Option<String>,
    pub(crate) source: Option<Arc<Source>>,
}

impl Diag {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Diag {
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            source: None,
        }
    }

    pub(crate) fn label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub(crate) fn with_source(mut self, source: &Arc<Source>) -> Self {
        self.source = Some(source.clone());
        self
    }

    /// `file:line:col` of the first label, for CI annotations and plain logs.
    pub(crate) fn location(&self) -> Option<(String, usize, usize)> {
        let src = self.source.as_ref()?;
        let label = self.labels.first()?;
        let (l, c) = src.line_col(label.span.offset);
        Some((src.name.clone(), l, c))
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

/// What miette renders: the source is attached only here, at the edge.
pub(crate) struct Rendered {
    diag: Diag,
    named: Option<Arc<Source>>,
    /// Where the problem is, when its line is too long to show.
    at: Option<String>,
}

/// Lines (and labels) longer than this are not drawn: miette cannot lay
/// out columns beyond 65,535, and nobody reads such a line on a terminal.
const MAX_SHOWN_LINE: usize = 4096;

impl From<Diag> for Rendered {
    fn from(diag: Diag) -> Self {
        let drawable = |s: &Source| {
            diag.labels.iter().all(|l| {
                l.span.len <= MAX_SHOWN_LINE && s.line_len(l.span.offset) <= MAX_SHOWN_LINE
            })
        };
        match &diag.source {
            Some(s) if !drawable(s) => {
                let at = diag.location().map(|(file, line, col)| {
                    format!("at {file}:{line}:{col} (the line is too long to show)")
                });
                Rendered {
                    diag,
                    named: None,
                    at,
                }
            }
            _ => {
                let named = diag.source.clone();
                Rendered {
                    diag,
                    named,
                    at: None,
                }
            }
        }
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.diag, f)
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.diag, f)
    }
}

impl std::error::Error for Rendered {}

impl Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("orch::{}", self.diag.code)))
    }

    fn severity(&self) -> Option<Severity> {
        Some(Severity::Error)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let help = match (&self.at, &self.diag.help) {
            (Some(at), Some(h)) => Some(format!("{at}\n{h}")),
            (Some(at), None) => Some(at.clone()),
            (None, h) => h.clone(),
        };
        help.map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.diag.labels.is_empty() {
            return None;
        }
        self.named.as_deref().map(|n| n as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.named.is_none() || self.diag.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.diag.labels.iter().map(|l| {
            LabeledSpan::new_with_span(
                if l.text.is_empty() {
                    None
                } else {
                    Some(l.text.clone())
                },
                l.span,
            )
        })))
    }
}

/// Closest candidate by edit distance, for "did you mean" help. Typos
/// (a swapped or missing letter) count; unrelated short words do not.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let n = word.chars().count();
    let allowed = match n {
        0..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= allowed && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("neds", ["needs", "name", "env"]),
            Some("needs")
        );
        assert_eq!(did_you_mean("zzzz", ["needs", "name"]), None);
        assert_eq!(did_you_mean("evn", ["n", "env"]), Some("env"));
        assert_eq!(did_you_mean("buidl", ["build", "test"]), Some("build"));
        assert_eq!(did_you_mean("x", ["n", "env"]), None);
    }
}
