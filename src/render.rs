//! Rendering diagnostics for people (miette), for CI annotations and as
//! JSON (`orch validate --json`, `orch run --output json`).

use std::fmt::Write;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use crate::diag::{Diag, Rendered};

pub(crate) struct Style {
    pub(crate) color: bool,
    pub(crate) width: usize,
    pub(crate) github: bool,
}

impl Style {
    pub(crate) fn for_stderr(color: bool, github: bool) -> Self {
        let term = console::Term::stderr();
        let width = if term.is_term() {
            term.size_checked().map(|(_, w)| w as usize).unwrap_or(100)
        } else {
            100
        };
        Style {
            color,
            width: width.clamp(60, 160),
            github,
        }
    }
}

pub(crate) fn diagnostic(d: &Diag, style: &Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let rendered = Rendered::from(d.clone());
    let mut out = String::new();
    if handler.render_report(&mut out, &rendered).is_err() {
        out = format!("error: {}\n", d.message);
    }
    if style.github {
        let mut props = match d.location() {
            Some((file, line, col)) => vec![
                ("file", file),
                ("line", line.to_string()),
                ("col", col.to_string()),
            ],
            None => Vec::new(),
        };
        // The annotation's heading: the code miette shows too.
        props.push(("title", format!("orch::{}", d.code)));
        let _ = writeln!(out, "{}", annotation("error", &props, &d.message));
    }
    out
}

/// A GitHub Actions workflow command (`::error file=…,line=…::message`),
/// escaped as the Actions toolkit does: `%`, CR and LF in the message, and
/// also `:` and `,` in properties, so no value can start a command of its own.
pub(crate) fn annotation(command: &str, props: &[(&str, String)], message: &str) -> String {
    let props: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{command}{sep}{}::{}",
        props.join(","),
        escape_data(message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// At most this many diagnostics are shown; all of them are counted.
const MAX_SHOWN: usize = 200;

/// Every diagnostic (the first [`MAX_SHOWN`]), then a count, to stderr.
#[allow(
    clippy::print_stderr,
    reason = "rendering diagnostics is this function's job"
)]
pub(crate) fn report(diags: &[Diag], style: &Style) {
    let mut out = String::new();
    for d in diags.iter().take(MAX_SHOWN) {
        out.push_str(&diagnostic(d, style));
        out.push('\n');
    }
    if diags.len() > MAX_SHOWN {
        let _ = writeln!(
            out,
            "… and {} more problems not shown (fix these first)\n",
            diags.len() - MAX_SHOWN
        );
    }
    let files: Vec<String> = {
        let mut f: Vec<String> = diags
            .iter()
            .filter_map(|d| d.source.as_ref().map(|s| s.name.clone()))
            .collect();
        f.dedup();
        f
    };
    if diags.len() > 1 || !files.is_empty() {
        let n = diags.len();
        let _ = writeln!(
            out,
            "error: {n} problem{} found{}",
            if n == 1 { "" } else { "s" },
            if files.is_empty() {
                String::new()
            } else {
                format!(" in {}", files.join(", "))
            }
        );
    }
    eprint!("{out}");
}

/// One diagnostic as `orch validate --json` prints it. Positions are
/// 1-based; a column counts characters; `end_*` is the position just past
/// the span. Without a label (a file that cannot be read) the positions are
/// `null`; without a source, so is `file` unless the caller knows it.
#[derive(Debug, Serialize)]
pub(crate) struct JsonDiag {
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    severity: &'static str,
    code: &'static str,
    message: String,
    help: Option<String>,
    /// Every labelled span, the primary one (the position above) first.
    labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
struct JsonLabel {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: Option<String>,
}

/// `d` as JSON; `file` names the file when the diagnostic has no source
/// (it could not be read or parsed far enough to keep one).
pub(crate) fn json(d: &Diag, file: Option<&str>) -> JsonDiag {
    let labels: Vec<JsonLabel> = match &d.source {
        Some(src) => d
            .labels
            .iter()
            .map(|l| {
                let (line, column) = src.line_col(l.span.offset);
                let (end_line, end_column) = src.line_col(l.span.offset + l.span.len);
                JsonLabel {
                    line,
                    column,
                    end_line,
                    end_column,
                    message: (!l.text.is_empty()).then(|| l.text.clone()),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let first = labels.first();
    JsonDiag {
        file: d
            .source
            .as_ref()
            .map(|s| s.name.clone())
            .or_else(|| file.map(str::to_owned)),
        line: first.map(|l| l.line),
        column: first.map(|l| l.column),
        end_line: first.map(|l| l.end_line),
        end_column: first.map(|l| l.end_column),
        severity: "error",
        code: d.code,
        message: d.message.clone(),
        help: d.help.clone(),
        labels,
    }
}

#[cfg(test)]
mod json_tests {
    use std::sync::Arc;

    use super::json;
    use crate::diag::Diag;
    use crate::source::{Source, Span};

    #[test]
    fn positions_are_one_based_and_end_past_the_span() {
        let src = Arc::new(Source::new("w.yaml", "w.yaml", "steps:\n  é: {rn: x}\n"));
        // `rn` starts at byte 14 (é is two bytes), column 7.
        let d = Diag::new("unknown-key", "unknown key `rn`")
            .label(Span::new(14, 2), "here")
            .label(Span::new(9, 2), "")
            .help("did you mean `run`?")
            .with_source(&src);
        let v = serde_json::to_value(json(&d, None)).unwrap_or_default();
        assert_eq!(v["file"], "w.yaml");
        assert_eq!(
            (v["line"].clone(), v["column"].clone()),
            (2.into(), 7.into())
        );
        assert_eq!(v["end_column"], 9);
        assert_eq!(v["labels"][0]["message"], "here");
        assert_eq!(v["labels"][1]["column"], 3);
        assert!(v["labels"][1]["message"].is_null());
        assert_eq!(v["severity"], "error");
    }

    #[test]
    fn a_diagnostic_without_a_source_names_the_file_it_was_given() {
        let d = Diag::new("io", "cannot read x.yaml: no such file");
        let v = serde_json::to_value(json(&d, Some("x.yaml"))).unwrap_or_default();
        assert_eq!(v["file"], "x.yaml");
        assert!(v["line"].is_null());
        assert!(v["help"].is_null());
        assert_eq!(v["labels"], serde_json::json!([]));
    }
}

#[cfg(test)]
mod annotation_tests {
    use super::annotation;

    #[test]
    fn workflow_commands_cannot_be_injected() {
        assert_eq!(
            annotation(
                "error",
                &[("title", "step a,b: c".into())],
                "50% done\r\n::warning::x"
            ),
            "::error title=step a%2Cb%3A c::50%25 done%0D%0A::warning::x"
        );
        assert_eq!(
            annotation(
                "error",
                &[("file", "w.yaml".into()), ("line", "4".into())],
                "bad"
            ),
            "::error file=w.yaml,line=4::bad"
        );
        assert_eq!(annotation("error", &[], "x"), "::error::x");
    }
}
