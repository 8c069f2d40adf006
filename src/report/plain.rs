//! Plain lines for logs and CI: one timestamped line per event, step output
//! prefixed `[step-id] `. Under GitHub Actions each step's output is printed
//! as one `::group::` when the step ends, so parallel steps never interleave.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::event::{Event, EventKind, OutputLine, Sink, Status};
use crate::exec::RunOutcome;

use super::{short_duration, Reporter};

/// Per-step buffer cap under GitHub Actions; beyond it the oldest lines go.
const GROUP_MAX_LINES: usize = 20_000;

pub struct PlainReporter {
    github: bool,
    /// `-q`: only failures and the summary.
    quiet: bool,
    groups: Mutex<HashMap<String, (Vec<String>, usize)>>,
}

impl PlainReporter {
    pub fn new(github_actions: bool, quiet: bool) -> Self {
        PlainReporter {
            github: github_actions,
            quiet,
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn write(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// The text of one event line (without timestamp), or `None` for events
/// that say nothing a reader needs.
pub fn describe(ev: &Event) -> Option<String> {
    let step = ev.step_id.as_deref().unwrap_or("");
    let dur = ev
        .duration_ms
        .map(|ms| format!(" in {}", short_duration(Duration::from_millis(ms))))
        .unwrap_or_default();
    let err = ev
        .error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    Some(match ev.event {
        EventKind::RunCreated => return None,
        EventKind::RunStarted => format!("run {} of {} started", ev.run_id, ev.workflow),
        EventKind::RunCompleted => format!("run succeeded{dur}"),
        EventKind::RunFailed => format!("run failed{dur}{err}"),
        EventKind::RunCancelled => format!("run cancelled{dur}"),
        EventKind::RunWaiting => format!("run waiting{err}"),
        EventKind::StepStarted => match (ev.attempt, ev.max_attempts) {
            (Some(a), Some(m)) if m > 1 => format!("{step} started (attempt {a}/{m})"),
            _ => format!("{step} started"),
        },
        EventKind::StepRetrying => format!(
            "{step} will retry (attempt {}/{}) in {}{err}",
            ev.attempt.unwrap_or(0),
            ev.max_attempts.unwrap_or(0),
            short_duration(Duration::from_millis(ev.delay_ms.unwrap_or(0)))
        ),
        EventKind::StepCompleted => format!("{step} ✓ succeeded{dur}"),
        EventKind::StepFailed if ev.status == Some(Status::Cancelled) => {
            format!("{step} cancelled{dur}")
        }
        EventKind::StepFailed => format!("{step} ✗ failed{dur}{err}"),
        EventKind::StepSkipped if ev.status == Some(Status::Cancelled) => {
            format!("{step} cancelled (not started)")
        }
        EventKind::StepSkipped => format!("{step} ↷ skipped"),
        EventKind::StepCached => format!("{step} ⚡ cached"),
        EventKind::StepCompensated => format!("{step} compensated{dur}"),
        EventKind::ApprovalRequested => {
            match ev.approval.as_ref().and_then(|a| a.message.as_deref()) {
                Some(m) => format!("{step} waits for approval: {m}"),
                None => format!("{step} waits for approval"),
            }
        }
        EventKind::ApprovalDecided => {
            let a = ev.approval.clone().unwrap_or_default();
            let mut s = format!(
                "{step} {}",
                a.decision.unwrap_or("decided").replace('_', " ")
            );
            if let Some(by) = a.by {
                s.push_str(&format!(" by {by}"));
            }
            if let Some(c) = a.comment {
                s.push_str(&format!(": {c}"));
            }
            s
        }
    })
}

impl Sink for PlainReporter {
    fn event(&self, ev: &Event) {
        if self.quiet && ev.event != EventKind::StepFailed {
            return;
        }
        let step_end = matches!(ev.event, EventKind::StepCompleted | EventKind::StepFailed);
        if self.github && step_end {
            if let Some(id) = &ev.step_id {
                let group = self
                    .groups
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(id);
                if let Some((lines, dropped)) = group {
                    let mut text = format!("::group::{id}\n");
                    if dropped > 0 {
                        text.push_str(&format!("[{id}] … {dropped} earlier lines not shown\n"));
                    }
                    for l in lines {
                        text.push_str(&format!("[{id}] {l}\n"));
                    }
                    text.push_str("::endgroup::\n");
                    self.write(&text);
                }
            }
        }
        if let Some(text) = describe(ev) {
            let ts = humantime::format_rfc3339_millis(ev.time);
            self.write(&format!("{ts} {text}\n"));
        }
        if self.github && ev.event == EventKind::StepFailed {
            if let (Some(id), Some(e)) = (&ev.step_id, &ev.error) {
                self.write(&format!("::error title=step {id} failed::{e}\n"));
            }
        }
    }

    fn output(&self, line: &OutputLine<'_>) {
        if self.quiet {
            return;
        }
        if self.github {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            let entry = groups.entry(line.step_id.to_string()).or_default();
            if entry.0.len() >= GROUP_MAX_LINES {
                entry.0.remove(0);
                entry.1 += 1;
            }
            entry.0.push(line.line.to_string());
            return;
        }
        self.write(&format!("[{}] {}\n", line.step_id, line.line));
    }
}

impl Reporter for PlainReporter {
    fn summary(&self, outcome: &RunOutcome) {
        self.write(&format!("{}\n", summary_text(outcome)));
    }
}

/// `run failed in 1.2s: 3 succeeded, 1 failed, 2 skipped; first failure: build (exited with code 2)`
pub fn summary_text(o: &RunOutcome) -> String {
    let verdict = match o.status {
        Status::Succeeded => "run succeeded",
        Status::Cancelled => "run cancelled",
        Status::Waiting => "run waiting",
        _ => "run failed",
    };
    let mut s = format!(
        "{verdict} in {}: {}",
        short_duration(o.duration),
        super::count_line(&o.steps)
    );
    if let Some(first) = o.failures.first() {
        let err = o
            .steps
            .iter()
            .flat_map(|s| std::iter::once(s).chain(s.items.iter()))
            .find(|s| &s.id == first)
            .and_then(|s| s.error.clone());
        s.push_str(&format!("; first failure: {first}"));
        if let Some(e) = err {
            s.push_str(&format!(" ({e})"));
        }
    }
    if let Some(e) = &o.error {
        s.push_str(&format!("; {e}"));
    }
    if let Some(out) = o.outputs.as_object().filter(|m| !m.is_empty()) {
        for (k, v) in out {
            s.push_str(&format!("\noutput {k} = {}", crate::expr::eval::to_text(v)));
        }
    }
    s
}
