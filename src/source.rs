//! Source files as the user wrote them: text, path, and byte-offset spans that
//! miette can render.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// One file that was read, kept whole so diagnostics can quote it.
#[derive(Debug)]
pub(crate) struct Source {
    /// The path as the user should see it (relative when it was given relative).
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) text: Arc<str>,
    line_starts: Vec<usize>,
}

/// A byte range inside one [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl Span {
    pub(crate) fn new(offset: usize, len: usize) -> Self {
        Span { offset, len }
    }
}

impl From<Span> for SourceSpan {
    fn from(s: Span) -> Self {
        SourceSpan::new(s.offset.into(), s.len)
    }
}

impl Source {
    pub(crate) fn new(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        text: impl Into<Arc<str>>,
    ) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name: name.into(),
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// Byte offset of a 0-based line and a 0-based *character* column.
    /// YAML parsers count characters; miette wants bytes.
    pub(crate) fn offset_of(&self, line: usize, col_chars: usize) -> usize {
        let Some(&start) = self.line_starts.get(line) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        let within = line_text
            .char_indices()
            .nth(col_chars)
            .map(|(i, _)| i)
            .unwrap_or(line_text.len());
        start + within
    }

    /// 1-based line and column of a byte offset (for `file:line:col` and CI annotations).
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts[line];
        let col = self.text[start..offset.min(self.text.len())]
            .chars()
            .count();
        (line + 1, col + 1)
    }

    pub(crate) fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.name.clone(), self.text.clone()).with_language("yaml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_characters_not_bytes() {
        let s = Source::new("t", "t", "a: é\nb: x\n");
        assert_eq!(s.offset_of(0, 3), 3);
        assert_eq!(s.offset_of(1, 0), 6);
        assert_eq!(s.offset_of(1, 3), 9);
        assert_eq!(s.line_col(9), (2, 4));
        assert_eq!(s.line_col(0), (1, 1));
    }
}
