//! Rendering diagnostics for people (miette) and for CI annotations.

use std::fmt::Write;

use miette::{GraphicalReportHandler, GraphicalTheme};

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
