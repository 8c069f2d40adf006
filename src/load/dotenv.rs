//! A workflow's `dotenv:` files, parsed with `dotenvy` (quotes, `export `,
//! comments, escapes, `${VAR}`) through its iterator, so orch's own process
//! environment is never changed. A missing file is skipped; one that does
//! not parse is a diagnostic at its line.

use std::path::Path;
use std::sync::Arc;

use crate::diag::Diag;
use crate::model::{Dotenv, DotenvFile};
use crate::source::{Source, Span};

/// Read the `dotenv:` files named in `wf` (each with the span of its name),
/// relative to `base`, the workflow file's directory.
pub(crate) fn read(
    wf: &Arc<Source>,
    base: &Path,
    names: &[(String, Span)],
) -> Result<Dotenv, Vec<Diag>> {
    let mut out = Dotenv::default();
    let mut diags = Vec::new();
    for (name, span) in names {
        let path = base.join(name);
        let found = !matches!(
            std::fs::metadata(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound
        );
        out.files.push(DotenvFile {
            path: path.clone(),
            found,
        });
        if !found {
            continue;
        }
        let src = match super::read_source(&path) {
            Ok(s) => s,
            Err(d) => {
                // The loader's help speaks of workflow files.
                diags.push(
                    d.label(*span, "this dotenv file cannot be read")
                        .help(
                            "`dotenv:` names files relative to the workflow file's directory;                              a missing one is skipped",
                        )
                        .with_source(wf),
                );
                continue;
            }
        };
        match parse(&src) {
            Ok(vars) => {
                for (k, v) in vars {
                    out.vars.retain(|(x, _)| *x != k);
                    out.vars.push((k, v));
                }
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// The pairs of one dotenv file, or a diagnostic located in it.
pub(crate) fn parse(src: &Arc<Source>) -> Result<Vec<(String, String)>, Diag> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for item in dotenvy::from_read_iter(src.text.as_bytes()) {
        match item {
            Ok((k, v)) => {
                vars.retain(|(x, _)| *x != k);
                vars.push((k, v));
            }
            Err(dotenvy::Error::LineParse(line, at)) => {
                let offset = locate(&src.text, &line, at).min(src.text.len());
                return Err(Diag::new("dotenv", format!("cannot parse {}", src.name))
                    .label(Span::new(offset, 1), "not valid dotenv syntax from here")
                    .help(
                        "lines are `KEY=value`, `export KEY=value` or `# comment`; quote a value \
                         holding spaces, quotes or `#` (\"…\" or '…')",
                    )
                    .with_source(src));
            }
            Err(e) => {
                return Err(
                    Diag::new("dotenv", format!("cannot parse {}: {e}", src.name))
                        .label(Span::new(0, 0), "in this file")
                        .with_source(src),
                )
            }
        }
    }
    Ok(vars)
}

/// Where dotenvy's error points in `text`. It hands back either the
/// logical line (without its line break, maybe spanning several lines, maybe
/// cut before a comment) with a byte offset, or only the value after `=`
/// with a character index; a quote left open runs to the end of the file,
/// so point at the quote instead.
fn locate(text: &str, payload: &str, at: usize) -> usize {
    if payload.is_empty() {
        return 0;
    }
    let ends_whole = |after: &str| {
        after.is_empty()
            || after.starts_with(['\n', '\r', '#'])
            || after.starts_with(char::is_whitespace)
    };
    let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
    for start in starts {
        if let Some(after) = text[start..].strip_prefix(payload) {
            if ends_whole(after) {
                if at >= payload.trim_end().len() {
                    return start + payload.find(['"', '\'']).unwrap_or(0);
                }
                return start + at;
            }
        }
    }
    for (i, _) in text.match_indices(payload) {
        let before = text[..i].trim_end_matches([' ', '\t']);
        if before.ends_with('=') && ends_whole(&text[i + payload.len()..]) {
            let within = payload
                .char_indices()
                .nth(at)
                .map_or(payload.len(), |(b, _)| b);
            return i + within;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Arc<Source> {
        Arc::new(Source::new(".env", ".env", text))
    }

    #[test]
    fn quotes_export_comments_and_escapes() {
        let vars = parse(&src(concat!(
            "# a comment\n",
            "A=plain\n",
            "export B=\"double # not a comment\"\n",
            "C='single $A'\n",
            "D=\"line\\nbreak\"\n",
            "E=${A}-x # trailing comment\n",
            "A=again\n",
        )))
        .unwrap();
        assert_eq!(
            vars,
            [
                ("B", "double # not a comment"),
                ("C", "single $A"),
                ("D", "line\nbreak"),
                ("E", "plain-x"),
                ("A", "again"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn a_parse_error_points_at_its_line() {
        let at = |text: &str| {
            parse(&src(text))
                .unwrap_err()
                .location()
                .map(|l| (l.1, l.2))
        };
        // A line without `=`: where the `=` should be.
        assert_eq!(at("A=1\nB=2\nnot a line\nC=3\n"), Some((3, 5)));
        // A quote never closed: the quote.
        assert_eq!(at("A=1\nB = \"never closed\nC=3\n"), Some((2, 5)));
        // A value with an unquoted space: only the value comes back.
        assert_eq!(at("A=1\nB=two words\n"), Some((2, 7)));
        // An escape dotenv does not know.
        assert_eq!(at("A=\"x\\ty\"\n"), Some((1, 6)));
        // A line that is a prefix of an earlier one is still found at its own.
        assert_eq!(locate("FOOBAR=1\nFOO\n", "FOO", 3), 9);
    }

    #[test]
    fn a_directory_is_no_dotenv_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.env")).unwrap();
        let wf = src("dotenv: [conf.env]\n");
        let names = vec![("conf.env".to_string(), Span::new(9, 8))];
        let diags = read(&wf, dir.path(), &names).unwrap_err();
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("is a directory"), "{}", diags[0]);
        let help = diags[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("relative to the workflow file"), "{help}");
        assert_eq!(diags[0].location().map(|l| (l.1, l.2)), Some((1, 10)));
    }

    #[test]
    fn missing_files_are_skipped_and_later_files_win() {
        let dir = std::env::temp_dir().join(format!("orch-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.env"), "X=1\nY=1\n").unwrap();
        std::fs::write(dir.join("b.env"), "Y=2\n").unwrap();
        let wf = src("");
        let names: Vec<(String, Span)> = ["a.env", "gone.env", "b.env"]
            .iter()
            .map(|n| (n.to_string(), Span::default()))
            .collect();
        let got = read(&wf, &dir, &names).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let found: Vec<bool> = got.files.iter().map(|f| f.found).collect();
        assert_eq!(found, [true, false, true]);
        assert_eq!(
            got.vars,
            [("X", "1"), ("Y", "2")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }
}
