//! Parsing `ORCH_OUTPUT`: `key=value` lines and `key<<DELIM` … `DELIM`
//! blocks, exactly like GitHub Actions' `GITHUB_OUTPUT`.

#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum OutputFileError {
    #[error("ORCH_OUTPUT line {line}: expected `key=value` or `key<<DELIMITER`")]
    BadLine { line: usize },
    #[error("ORCH_OUTPUT line {line}: `{key}` is not a valid output name")]
    BadKey { line: usize, key: String },
    #[error("ORCH_OUTPUT line {line}: `{key}<<{delim}` is never closed by a `{delim}` line")]
    Unterminated {
        line: usize,
        key: String,
        delim: String,
    },
}

pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, OutputFileError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let eq = line.find('=');
        let (key, value) = match (heredoc, eq) {
            (Some(h), e) if e.is_none_or(|e| h < e) => {
                let key = &line[..h];
                let delim = &line[h + 2..];
                if delim.is_empty() {
                    return Err(OutputFileError::BadLine { line: line_no });
                }
                let mut body: Vec<&str> = Vec::new();
                let mut closed = false;
                for (_, l) in lines.by_ref() {
                    if l == delim {
                        closed = true;
                        break;
                    }
                    body.push(l);
                }
                if !closed {
                    return Err(OutputFileError::Unterminated {
                        line: line_no,
                        key: key.to_string(),
                        delim: delim.to_string(),
                    });
                }
                (key, body.join("\n"))
            }
            (_, Some(e)) => (&line[..e], line[e + 1..].to_string()),
            _ => return Err(OutputFileError::BadLine { line: line_no }),
        };
        if !crate::validate::is_name(key) {
            return Err(OutputFileError::BadKey {
                line: line_no,
                key: key.to_string(),
            });
        }
        // A later write of the same key wins, as in GitHub Actions.
        out.retain(|(k, _)| k != key);
        out.push((key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_and_heredocs() {
        let text = "a=1\nb=x=y\nmsg<<EOF\nline 1\nline 2\nEOF\n\na=2\nempty=\n";
        let got = parse(text).unwrap();
        assert_eq!(
            got,
            vec![
                ("b".into(), "x=y".into()),
                ("msg".into(), "line 1\nline 2".into()),
                ("a".into(), "2".into()),
                ("empty".into(), "".into()),
            ]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse("novalue\n").unwrap_err(),
            OutputFileError::BadLine { line: 1 }
        );
        assert!(matches!(
            parse("x<<END\nabc\n").unwrap_err(),
            OutputFileError::Unterminated { line: 1, .. }
        ));
        assert!(matches!(
            parse("bad key=1\n").unwrap_err(),
            OutputFileError::BadKey { .. }
        ));
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
