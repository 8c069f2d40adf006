//! Sinks that show a run to people and machines: the live terminal view,
//! plain lines for logs and CI, JSON lines, and the telemetry log file.

// Printing is what reporters are for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod github;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod logfile;
pub(crate) mod metrics;
pub(crate) mod palette;
pub(crate) mod plain;
pub(crate) mod pushgateway;
pub(crate) mod scrape;
pub(crate) mod tail;
pub(crate) mod timeline;
pub(crate) mod tty;
pub(crate) mod webhook;

use crate::event::{Output, RunSummary, Sink};

/// A sink that also prints the end-of-run summary.
pub(crate) trait Reporter: Sink {
    fn summary(&self, outcome: &RunSummary);
    /// Stop (or resume) drawing live progress while someone is asked a
    /// question on the terminal.
    fn pause(&self, _paused: bool) {}
    /// A line for the person at the terminal while the run goes on (the
    /// cancel hint), on stderr; the live view puts it above its bars.
    fn notice(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// How `orch run` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputMode {
    Tty,
    Plain,
    Json,
}

impl OutputMode {
    /// `auto`: the live view only on a terminal outside CI (nextest's rule;
    /// both facts are arguments so tests can choose).
    pub(crate) fn resolve_auto(stderr_is_terminal: bool, is_ci: bool) -> OutputMode {
        if stderr_is_terminal && !is_ci {
            OutputMode::Tty
        } else {
            OutputMode::Plain
        }
    }
}

/// A batch of step output as `[id] line` lines, for one write.
pub(crate) fn prefixed(out: &Output<'_>) -> String {
    with_prefix(&format!("[{}] ", out.step_id), out)
}

/// A batch of step output, each line after `prefix` (`[id] `, perhaps
/// coloured), for one write.
pub(crate) fn with_prefix(prefix: &str, out: &Output<'_>) -> String {
    let len = out
        .lines
        .iter()
        .map(|l| l.line.len() + prefix.len() + 1)
        .sum();
    let mut text = String::with_capacity(len);
    push_lines(&mut text, prefix, out.lines.iter().map(|l| l.line));
    text
}

/// A step's kept last lines after `prefix`, the lines let go said first.
pub(crate) fn tail_text(prefix: &str, tail: &tail::Tail) -> String {
    let mut text = String::with_capacity(tail.text_len() + (tail.len() + 1) * prefix.len() + 40);
    if tail.dropped > 0 {
        text.push_str(prefix);
        text.push_str(&format!("… {} earlier lines not shown\n", tail.dropped));
    }
    push_lines(&mut text, prefix, tail.lines());
    text
}

fn push_lines<'a>(text: &mut String, prefix: &str, lines: impl Iterator<Item = &'a str>) {
    for l in lines {
        text.push_str(prefix);
        text.push_str(l);
        text.push('\n');
    }
}

pub(crate) use crate::duration::short as short_duration;
pub(crate) use crate::event::count_line;

/// A temporary file beside the target, then a rename: a reader sees the
/// old file or the whole new one, never half of it.
pub(crate) fn write_atomically(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn auto_mode() {
        assert_eq!(OutputMode::resolve_auto(true, false), OutputMode::Tty);
        assert_eq!(OutputMode::resolve_auto(true, true), OutputMode::Plain);
        assert_eq!(OutputMode::resolve_auto(false, false), OutputMode::Plain);
    }

    #[test]
    fn durations() {
        assert_eq!(short_duration(Duration::from_millis(820)), "820ms");
        assert_eq!(short_duration(Duration::from_millis(3240)), "3.2s");
        assert_eq!(short_duration(Duration::from_secs(125)), "2m05s");
    }
}
