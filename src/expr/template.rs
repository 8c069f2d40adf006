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
        let close = find_close(&s[inner_start..]).ok_or(Unterminated { offset: open })?;
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

fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else {
            match c {
                b'\'' | b'"' => quote = Some(c),
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    None
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
    fn unterminated() {
        assert_eq!(split("x ${{ y").unwrap_err(), Unterminated { offset: 2 });
        assert_eq!(split("plain").unwrap(), vec![Piece::Text("plain")]);
    }
}
