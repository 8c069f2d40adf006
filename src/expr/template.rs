//! Splitting a string value into literal text and `${{ … }}` expressions.

/// A piece of a string value: literal text, or the inside of `${{ … }}` with
/// its character offset inside the value.
#[derive(Debug, PartialEq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Expr { text: &'a str, offset: usize },
}

#[derive(Debug, PartialEq)]
pub(crate) struct Unterminated {
    /// Byte offset of the `${{` that never closes.
    pub(crate) offset: usize,
    /// Byte offset of a string literal inside it that never closes either,
    /// the likely cause (`${{ 'it's' }}`).
    pub(crate) string: Option<usize>,
}

/// Split `s` on `${{ … }}`. The closing `}}` is found outside string literals
/// and nested braces, so map literals inside an expression work.
pub(crate) fn split(s: &str) -> Result<Vec<Piece<'_>>, Unterminated> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(found) = s[rest..].find("${{") {
        let open = rest + found;
        if open > rest {
            out.push(Piece::Text(&s[rest..open]));
        }
        let inner_start = open + 3;
        let close = find_close(&s[inner_start..]).map_err(|string| Unterminated {
            offset: open,
            string: string.map(|o| inner_start + o),
        })?;
        out.push(Piece::Expr {
            text: &s[inner_start..inner_start + close],
            offset: inner_start,
        });
        rest = inner_start + close + 2;
    }
    if rest < s.len() {
        out.push(Piece::Text(&s[rest..]));
    }
    Ok(out)
}

/// The offset of the `}}` that closes an expression starting at `s`: the
/// first one outside string literals, comments and nested braces, by CEL's
/// lexical rules (so `'}}'`, `r'\'`, `'''it's'''` and `// }}` are read as
/// the parser reads them).
/// Without one, the error holds the start of the last string literal that
/// is never closed, if any.
fn find_close(s: &str) -> Result<usize, Option<usize>> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut unclosed = None;
    for t in super::lex::tokens(s) {
        if t.kind == super::lex::Tok::Unclosed {
            unclosed = Some(t.start);
        }
        if t.kind != super::lex::Tok::Punct {
            continue;
        }
        match b[t.start] {
            b'{' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'}' if b.get(t.start + 1) == Some(&b'}') => return Ok(t.start),
            _ => {}
        }
    }
    Err(unclosed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_expressions() {
        let p = split("a ${{ x }} b${{y}}").unwrap();
        assert_eq!(
            p,
            vec![
                Piece::Text("a "),
                Piece::Expr {
                    text: " x ",
                    offset: 5
                },
                Piece::Text(" b"),
                Piece::Expr {
                    text: "y",
                    offset: 15
                },
            ]
        );
    }

    #[test]
    fn braces_and_strings_inside() {
        let p = split("${{ {'a': {'b': '}}'}} }}").unwrap();
        assert_eq!(
            p,
            vec![Piece::Expr {
                text: " {'a': {'b': '}}'}} ",
                offset: 3
            }]
        );
    }

    #[test]
    fn cel_strings_and_comments_inside() {
        let inner = |s: &'static str| match split(s).unwrap().as_slice() {
            [Piece::Expr { text, .. }] => *text,
            other => panic!("{other:?}"),
        };
        assert_eq!(inner(r"${{ r'\' }}"), r" r'\' ");
        assert_eq!(inner(r#"${{ R"\" + b'\'' }}"#), r#" R"\" + b'\'' "#);
        assert_eq!(inner("${{ '''it's''' }}"), " '''it's''' ");
        assert_eq!(
            inner(r#"${{ """say "}}" now""" }}"#),
            r#" """say "}}" now""" "#
        );
        assert_eq!(inner(r#"${{ "}}" }}"#), r#" "}}" "#);
        assert_eq!(inner("${{ 1 // }} \n }}"), " 1 // }} \n ");
        // A comment runs to the end of the line: here, of the value.
        assert!(split("${{ 1 // }}").is_err());
        assert_eq!(split(r"${{ 'a' }} and ${{ r'b\' }}").unwrap().len(), 3);
    }

    #[test]
    fn unterminated() {
        assert_eq!(
            split("x ${{ y").unwrap_err(),
            Unterminated {
                offset: 2,
                string: None
            }
        );
        assert_eq!(
            split("${{ 'it's' }}").unwrap_err(),
            Unterminated {
                offset: 0,
                string: Some(9)
            }
        );
        assert_eq!(split("plain").unwrap(), vec![Piece::Text("plain")]);
    }
}
