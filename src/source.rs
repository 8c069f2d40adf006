//! Source files as the user wrote them: text, path, and byte-offset spans that
//! miette can render.

use std::path::PathBuf;
use std::sync::Arc;

use miette::SourceSpan;

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

/// Where each byte of a decoded YAML scalar was written in the file: quotes,
/// escapes (`''`, `\"`), folded line breaks and block indentation make the
/// decoded text differ from the source. Breakpoints `(decoded, source)`,
/// sorted by `decoded`; between two, both offsets advance together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetMap {
    /// The first breakpoint; most scalars need no other, and then the map
    /// holds no heap memory (a workflow has one per scalar).
    head: (usize, usize),
    rest: Vec<(usize, usize)>,
}

impl OffsetMap {
    /// Written as decoded, from `source` on.
    pub(crate) fn linear(source: usize) -> OffsetMap {
        OffsetMap {
            head: (0, source),
            rest: Vec::new(),
        }
    }

    /// Decoded byte `decoded` is written at source byte `source` (called in
    /// increasing `decoded` order).
    pub(crate) fn push(&mut self, decoded: usize, source: usize) {
        let &(d, s) = self.rest.last().unwrap_or(&self.head);
        if decoded >= d && s + (decoded - d) == source {
            return;
        }
        self.rest.push((decoded, source));
    }

    /// The source offset of a decoded byte offset.
    pub(crate) fn source(&self, decoded: usize) -> usize {
        let i = self.rest.partition_point(|&(d, _)| d <= decoded);
        let (d, s) = match i.checked_sub(1) {
            Some(i) => self.rest[i],
            None => self.head,
        };
        // Before the first breakpoint: where the text starts.
        s + decoded.saturating_sub(d)
    }

    /// Whether decoded and source bytes advance together everywhere.
    pub(crate) fn is_linear(&self) -> bool {
        self.rest.is_empty()
    }

    /// The map of the part of the decoded text that starts at `from`.
    pub(crate) fn from(&self, from: usize) -> OffsetMap {
        let mut m = OffsetMap::linear(self.source(from));
        for &(d, s) in std::iter::once(&self.head)
            .chain(&self.rest)
            .filter(|(d, _)| *d > from)
        {
            m.push(d - from, s);
        }
        m
    }

    /// The source span of the decoded bytes `start..start + len` (`len` ≥ 1
    /// bytes, the last of which starts a character of `char_len` bytes).
    pub(crate) fn span(&self, start: usize, len: usize, last_char_len: usize) -> Span {
        let from = self.source(start);
        let last = self.source(start + len.saturating_sub(last_char_len.max(1)));
        Span::new(
            from,
            (last + last_char_len.max(1)).saturating_sub(from).max(1),
        )
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
        // Most lines are ASCII up to the column: then characters are bytes.
        let head = &rest.as_bytes()[..col_chars.min(rest.len())];
        if head.is_ascii() && !head.contains(&b'\n') {
            return start + head.len();
        }
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

    /// The length in bytes of the line holding byte `offset`.
    pub(crate) fn line_len(&self, offset: usize) -> usize {
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let end = self
            .line_starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len());
        end - start
    }

    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }
}

/// What miette reads to show a label. Its own reader scans the text from
/// the start for every label, so 10,000 diagnostics took seconds; this one
/// hands it only the lines around the span (found by the line index) and
/// shifts what it finds back into place: the same output, in linear time.
impl miette::SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text = self.text.as_bytes();
        let start = span.offset().min(text.len());
        let end = (span.offset() + span.len()).min(text.len());
        // One line more above too: miette looks one byte before an empty span.
        let first = self.line_of(start).saturating_sub(before + 1);
        // A line more than miette looks at, so it stops where it would.
        let last = self.line_of(end) + after + 2;
        let from = self.line_starts[first];
        let to = self.line_starts.get(last).copied().unwrap_or(text.len());
        let window = &text[from..to];
        let relative = SourceSpan::new((span.offset() - from).into(), span.len());
        let found = window.read_span(&relative, before, after)?;
        let at = found.span();
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.name.clone(),
                found.data(),
                SourceSpan::new((at.offset() + from).into(), at.len()),
                found.line() + first,
                found.column(),
                found.line_count() + first,
            )
            .with_language("yaml"),
        ))
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

    #[test]
    fn the_ascii_shortcut_gives_what_counting_characters_gives() {
        let text = "ab: c\né: ü x\n\nlong line\r\nend";
        let s = Source::new("t", "t", text);
        let lines: Vec<&str> = text.split('\n').collect();
        for (line, l) in lines.iter().enumerate() {
            let start: usize = lines[..line].iter().map(|l| l.len() + 1).sum();
            for col in 0..l.chars().count() + 3 {
                let within = l.char_indices().nth(col).map_or(l.len(), |(i, _)| i);
                assert_eq!(
                    s.offset_of(line, col),
                    start + within,
                    "line {line} col {col}"
                );
            }
        }
    }
}

#[cfg(test)]
mod read_span_tests {
    use super::*;
    use miette::SourceCode;

    #[test]
    fn reads_what_miettes_own_reader_reads() {
        let text = "a: 1\nbb: 2\r\n\nccc: [1,\n  2]\nlast: x";
        let src = Source::new("t.yaml", "t.yaml", text);
        for offset in 0..text.len() {
            for len in [0, 1, 3, 9] {
                if offset + len > text.len() {
                    continue;
                }
                for (before, after) in [(0, 0), (1, 1), (2, 3)] {
                    let span = SourceSpan::new(offset.into(), len);
                    let ours = src.read_span(&span, before, after);
                    let theirs = text.as_bytes().read_span(&span, before, after);
                    match (ours, theirs) {
                        (Ok(o), Ok(t)) => {
                            assert_eq!(o.data(), t.data(), "{offset}+{len} ({before},{after})");
                            assert_eq!(o.span(), t.span());
                            assert_eq!(o.line(), t.line());
                            assert_eq!(o.column(), t.column());
                        }
                        (o, t) => assert_eq!(o.is_err(), t.is_err()),
                    }
                }
            }
        }
    }
}
