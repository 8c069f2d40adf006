//! CEL's lexical rules, as far as orch reads an expression before the CEL
//! parser does: where string literals and comments start and end (for the
//! `${{ }}` splitter and the hyphenated-name rewrite), and the tokens the
//! nesting bound counts. It follows the CEL grammar's lexer: quotes `'` and
//! `"`, triple-quoted `'''`/`"""` strings (which may span lines), raw strings
//! (`r`/`R` prefix, no escapes), bytes (`b`/`B` prefix, raw or not), and `//`
//! comments to the end of the line.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An identifier or keyword (`in`, `true`).
    Ident,
    Number,
    /// A string or bytes literal, prefix and quotes included.
    Str,
    /// A string literal whose closing quote is missing: up to the end of its
    /// line (one-line quotes), or of the text (triple quotes).
    Unclosed,
    Comment,
    Space,
    /// An operator or punctuation: `&&`, `==`, `.`, `(`, …
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    /// Byte range in the text.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    #[cfg(test)]
    fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or_default()
    }

    /// Text that the parser reads as one literal, not as code.
    pub(crate) fn is_literal(&self) -> bool {
        matches!(self.kind, Tok::Str | Tok::Unclosed | Tok::Comment)
    }
}

/// The tokens of `src`, in order, covering every byte.
pub(crate) fn tokens(src: &str) -> Lexer<'_> {
    Lexer {
        s: src.as_bytes(),
        i: 0,
    }
}

pub(crate) struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

const TWO_CHAR_OPS: [&[u8; 2]; 6] = [b"==", b"!=", b"<=", b">=", b"&&", b"||"];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let s = self.s;
        let start = self.i;
        let c = *s.get(start)?;
        let at = |k: usize| s.get(k).copied();
        let (kind, end) = match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                let mut j = start + 1;
                while matches!(at(j), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
                    j += 1;
                }
                (Tok::Space, j)
            }
            b'/' if at(start + 1) == Some(b'/') => {
                let end = s[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(s.len(), |p| start + p);
                (Tok::Comment, end)
            }
            b'\'' | b'"' => string_literal(s, start, false),
            c if is_ident_start(c) => {
                let mut j = start + 1;
                while at(j).is_some_and(is_ident) {
                    j += 1;
                }
                // A string prefix: `r'…'`, `b"…"`, `br'…'` (not `rb`, as in CEL).
                let raw = match &s[start..j] {
                    b"r" | b"R" | b"br" | b"bR" | b"Br" | b"BR" => Some(true),
                    b"b" | b"B" => Some(false),
                    _ => None,
                };
                match raw {
                    Some(raw) if matches!(at(j), Some(b'\'' | b'"')) => string_literal(s, j, raw),
                    _ => (Tok::Ident, j),
                }
            }
            c if c.is_ascii_digit()
                || (c == b'.' && at(start + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let mut j = start;
                // Digits, hex digits, the `u` suffix, a fraction and an exponent.
                while let Some(d) = at(j) {
                    let exponent_sign = matches!(d, b'+' | b'-')
                        && matches!(at(j.wrapping_sub(1)), Some(b'e' | b'E'))
                        && !s[start..j].starts_with(b"0x")
                        && !s[start..j].starts_with(b"0X");
                    if is_ident(d)
                        || exponent_sign
                        || (d == b'.' && at(j + 1).is_some_and(|n| n.is_ascii_digit()))
                    {
                        j += 1;
                    } else {
                        break;
                    }
                }
                (Tok::Number, j.max(start + 1))
            }
            _ => {
                let two = s.get(start..start + 2);
                if two.is_some_and(|t| TWO_CHAR_OPS.iter().any(|op| op.as_slice() == t)) {
                    (Tok::Punct, start + 2)
                } else {
                    // One character (a whole UTF-8 sequence for non-ASCII).
                    let len = match c {
                        0xF0..=0xFF => 4,
                        0xE0..=0xEF => 3,
                        0xC0..=0xDF => 2,
                        _ => 1,
                    };
                    (Tok::Punct, (start + len).min(s.len()))
                }
            }
        };
        self.i = end;
        Some(Token { kind, start, end })
    }
}

/// A string literal whose opening quote is at `quote` (after any prefix).
/// Returns its kind and end.
fn string_literal(s: &[u8], quote: usize, raw: bool) -> (Tok, usize) {
    let q = s[quote];
    let triple = s.get(quote..quote + 3) == Some(&[q, q, q][..]);
    let mut j = quote + if triple { 3 } else { 1 };
    while j < s.len() {
        let c = s[j];
        if triple {
            if !raw && c == b'\\' {
                j += 2;
                continue;
            }
            if s.get(j..j + 3) == Some(&[q, q, q][..]) {
                return (Tok::Str, j + 3);
            }
        } else {
            if c == b'\n' || c == b'\r' {
                return (Tok::Unclosed, j);
            }
            if !raw && c == b'\\' && !matches!(s.get(j + 1), None | Some(b'\n' | b'\r')) {
                j += 2;
                continue;
            }
            if c == q {
                return (Tok::Str, j + 1);
            }
        }
        j += 1;
    }
    (Tok::Unclosed, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, &str)> {
        tokens(src)
            .filter(|t| t.kind != Tok::Space)
            .map(|t| (t.kind, t.text(src)))
            .collect()
    }

    #[test]
    fn string_literals_follow_cel() {
        assert_eq!(
            kinds(r"r'\' + x"),
            vec![(Tok::Str, r"r'\'"), (Tok::Punct, "+"), (Tok::Ident, "x")]
        );
        assert_eq!(
            kinds(r"'\'' x"),
            vec![(Tok::Str, r"'\''"), (Tok::Ident, "x")]
        );
        assert_eq!(
            kinds("'''it's''' y"),
            vec![(Tok::Str, "'''it's'''"), (Tok::Ident, "y")]
        );
        // Triple quotes end at the first three quotes, and span lines.
        assert_eq!(
            kinds("\"\"\"a\n\"b\"\"\"\"")[0],
            (Tok::Str, "\"\"\"a\n\"b\"\"\"")
        );
        assert_eq!(
            kinds(r#"b"\"" R"\" br'\'"#),
            vec![
                (Tok::Str, r#"b"\"""#),
                (Tok::Str, r#"R"\""#),
                (Tok::Str, r"br'\'"),
            ]
        );
        // `rb` is an identifier in CEL, then a string.
        assert_eq!(kinds("rb'x'"), vec![(Tok::Ident, "rb"), (Tok::Str, "'x'")]);
        assert_eq!(kinds("'a\n' b")[0], (Tok::Unclosed, "'a"));
        assert_eq!(kinds("'''a")[0], (Tok::Unclosed, "'''a"));
    }

    #[test]
    fn comments_numbers_operators() {
        assert_eq!(
            kinds("1 // }} x\n+ 2"),
            vec![
                (Tok::Number, "1"),
                (Tok::Comment, "// }} x"),
                (Tok::Punct, "+"),
                (Tok::Number, "2"),
            ]
        );
        assert_eq!(
            kinds("1.5e-3 0x1Fu .5 a.b"),
            vec![
                (Tok::Number, "1.5e-3"),
                (Tok::Number, "0x1Fu"),
                (Tok::Number, ".5"),
                (Tok::Ident, "a"),
                (Tok::Punct, "."),
                (Tok::Ident, "b"),
            ]
        );
        assert_eq!(
            kinds("a&&!b!=c"),
            vec![
                (Tok::Ident, "a"),
                (Tok::Punct, "&&"),
                (Tok::Punct, "!"),
                (Tok::Ident, "b"),
                (Tok::Punct, "!="),
                (Tok::Ident, "c"),
            ]
        );
        let src = "é + ü";
        let all: String = tokens(src).map(|t| t.text(src)).collect();
        assert_eq!(all, src);
    }
}
