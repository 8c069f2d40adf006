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
        if let Some((file, line, col)) = d.location() {
            let _ = writeln!(
                out,
                "::error file={file},line={line},col={col}::{}",
                d.message.replace('\n', " ")
            );
        } else {
            let _ = writeln!(out, "::error::{}", d.message.replace('\n', " "));
        }
    }
    out
}

/// Every diagnostic, then a count, to stderr.
#[allow(
    clippy::print_stderr,
    reason = "rendering diagnostics is this function's job"
)]
pub(crate) fn report(diags: &[Diag], style: &Style) {
    let mut out = String::new();
    for d in diags {
        out.push_str(&diagnostic(d, style));
        out.push('\n');
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
