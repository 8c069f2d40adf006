//! Sinks that show a run to people and machines: the live terminal view,
//! plain lines for logs and CI, JSON lines, and the telemetry log file.

pub mod json;
pub mod logfile;
pub mod plain;
pub mod tty;
pub mod webhook;

use crate::event::Sink;
use crate::exec::RunOutcome;

/// A sink that also prints the end-of-run summary.
pub trait Reporter: Sink {
    fn summary(&self, outcome: &RunOutcome);
    /// Stop (or resume) drawing live progress while someone is asked a
    /// question on the terminal.
    fn pause(&self, _paused: bool) {}
}

/// How `orch run` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Tty,
    Plain,
    Json,
}

impl OutputMode {
    /// `auto`: the live view only on a terminal outside CI (nextest's rule;
    /// both facts are arguments so tests can choose).
    pub fn resolve_auto(stderr_is_terminal: bool, is_ci: bool) -> OutputMode {
        if stderr_is_terminal && !is_ci {
            OutputMode::Tty
        } else {
            OutputMode::Plain
        }
    }
}

/// `3 succeeded, 1 failed, 2 skipped` over top-level steps, zeros left out.
pub fn count_line(steps: &[crate::exec::StepReport]) -> String {
    use crate::event::Status;
    const ORDER: [Status; 10] = [
        Status::Succeeded,
        Status::Cached,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
        Status::Compensated,
        Status::Pending,
        Status::Running,
        Status::Retrying,
        Status::Waiting,
    ];
    ORDER
        .iter()
        .filter_map(|st| {
            let n = steps.iter().filter(|s| s.status == *st).count();
            (n > 0).then(|| format!("{n} {}", st.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Short human form of a duration: `820ms`, `3.2s`, `2m05s`.
pub fn short_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
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
