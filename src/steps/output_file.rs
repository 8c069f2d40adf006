//! Parsing `ORCH_OUTPUT` and `ORCH_ENV`: `key=value` lines and
//! `key<<DELIM` … `DELIM` blocks, exactly like GitHub Actions'
//! `GITHUB_OUTPUT` and `GITHUB_ENV`. The two differ only in which keys
//! they accept.

/// Which of the two files is read: it decides the names accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum File {
    /// `ORCH_OUTPUT`: output names (`[A-Za-z_][A-Za-z0-9_-]*`).
    Output,
    /// `ORCH_ENV`: environment variable names (`[A-Za-z_][A-Za-z0-9_]*`),
    /// none of orch's own `ORCH_*`.
    Env,
}

impl File {
    fn var(self) -> &'static str {
        match self {
            File::Output => "ORCH_OUTPUT",
            File::Env => "ORCH_ENV",
        }
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum OutputFileError {
    #[error("{file} line {line}: expected `key=value` or `key<<DELIMITER`", file = .file.var())]
    BadLine { file: File, line: usize },
    #[error("ORCH_OUTPUT line {line}: `{key}` is not a valid output name")]
    BadKey { line: usize, key: String },
    #[error(
        "ORCH_ENV line {line}: `{key}` is not a valid environment variable name (letters, digits and `_`, not starting with a digit)"
    )]
    BadEnvName { line: usize, key: String },
    #[error(
        "ORCH_ENV line {line}: `{key}` cannot be set: names starting with `ORCH_` are orch's own"
    )]
    Reserved { line: usize, key: String },
    #[error("{file} line {line}: `{key}<<{delim}` is never closed by a `{delim}` line", file = .file.var())]
    Unterminated {
        file: File,
        line: usize,
        key: String,
        delim: String,
    },
}

/// An environment variable name a step may set through `ORCH_ENV`.
pub(crate) fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The key-value pairs of `ORCH_OUTPUT`.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, OutputFileError> {
    parse_file(text, File::Output)
}

/// The key-value pairs of `file`, in the order of their last write.
pub(crate) fn parse_file(text: &str, file: File) -> Result<Vec<(String, String)>, OutputFileError> {
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
                    return Err(OutputFileError::BadLine {
                        file,
                        line: line_no,
                    });
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
                        file,
                        line: line_no,
                        key: key.to_string(),
                        delim: delim.to_string(),
                    });
                }
                (key, body.join("\n"))
            }
            (_, Some(e)) => (&line[..e], line[e + 1..].to_string()),
            _ => {
                return Err(OutputFileError::BadLine {
                    file,
                    line: line_no,
                })
            }
        };
        let key_error = match file {
            File::Output if !crate::validate::is_name(key) => Some(OutputFileError::BadKey {
                line: line_no,
                key: key.to_string(),
            }),
            File::Env if !is_env_name(key) => Some(OutputFileError::BadEnvName {
                line: line_no,
                key: key.to_string(),
            }),
            // orch's contract (ORCH_OUTPUT, ORCH_RUN_ID…) and settings
            // (ORCH_HOME…) must mean what orch says they mean.
            File::Env if key.starts_with("ORCH_") => Some(OutputFileError::Reserved {
                line: line_no,
                key: key.to_string(),
            }),
            _ => None,
        };
        if let Some(e) = key_error {
            return Err(e);
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
            OutputFileError::BadLine {
                file: File::Output,
                line: 1
            }
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

    #[test]
    fn env_names() {
        let got = parse_file("A_1=x\nMSG<<E\na\nb\nE\nPATH=/bin\n", File::Env).unwrap();
        assert_eq!(
            got,
            vec![
                ("A_1".into(), "x".into()),
                ("MSG".into(), "a\nb".into()),
                ("PATH".into(), "/bin".into()),
            ]
        );
        let e = parse_file("ok=1\nA-B=2\n", File::Env).unwrap_err();
        assert_eq!(
            e,
            OutputFileError::BadEnvName {
                line: 2,
                key: "A-B".into()
            }
        );
        assert!(e.to_string().starts_with("ORCH_ENV line 2: `A-B`"), "{e}");
        let e = parse_file("ORCH_STEP_ID=x\n", File::Env).unwrap_err();
        assert!(
            matches!(e, OutputFileError::Reserved { line: 1, .. }),
            "{e}"
        );
        let e = parse_file("X<<EOF\nabc\n", File::Env).unwrap_err();
        assert!(e.to_string().starts_with("ORCH_ENV line 1"), "{e}");
        // Hyphens are fine in output names, not in variable names.
        assert!(parse("a-b=1\n").is_ok());
    }
}
