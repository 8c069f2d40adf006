//! Plain lines for logs and CI: one timestamped line per event, step output
//! prefixed `[step-id] `. Under GitHub Actions each step's output is printed
//! as one `::group::` when the step ends, so parallel steps never interleave.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::event::wire::Name;
use crate::event::{Event, EventKind, Output, RunSummary, Sink, Status};

use super::{short_duration, Reporter};

/// Per-step buffer cap under GitHub Actions; beyond it the oldest lines go.
const GROUP_MAX_LINES: usize = 20_000;

pub(crate) struct PlainReporter {
    github: bool,
    /// `-q`: only failures and the summary.
    quiet: bool,
    groups: Mutex<HashMap<String, (VecDeque<String>, usize)>>,
}

impl PlainReporter {
    pub(crate) fn new(github_actions: bool, quiet: bool) -> Self {
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
pub(crate) fn describe(ev: &Event) -> Option<String> {
    let dur = |d: Option<Duration>| {
        d.map(|d| format!(" in {}", short_duration(ms(d))))
            .unwrap_or_default()
    };
    let err = |e: Option<&str>| e.map(|e| format!(": {e}")).unwrap_or_default();
    Some(match &ev.kind {
        EventKind::RunCreated => return None,
        EventKind::RunStarted => format!("run {} of {} started", ev.run_id, ev.workflow),
        EventKind::RunFinished { summary: s } => {
            let d = dur(Some(s.duration));
            match s.status {
                Status::Succeeded => format!("run succeeded{d}"),
                Status::Cancelled => format!("run cancelled{d}"),
                Status::Waiting => format!("run waiting{}", err(s.event_error().as_deref())),
                _ => format!("run failed{d}{}", err(s.event_error().as_deref())),
            }
        }
        EventKind::StepStarted {
            step,
            attempt,
            max_attempts,
        } => match (attempt, max_attempts) {
            (Some(a), Some(m)) if *m > 1 => format!("{step} started (attempt {a}/{m})"),
            _ => format!("{step} started"),
        },
        EventKind::StepRetrying {
            step,
            attempt,
            max_attempts,
            error,
            delay,
            ..
        } => format!(
            "{step} will retry (attempt {attempt}/{max_attempts}) in {}{}",
            short_duration(ms(*delay)),
            err(Some(error))
        ),
        EventKind::StepFinished { step, outcome: o } => {
            let d = dur(o.duration);
            match Name::of(&ev.kind) {
                Name::StepCompleted => format!("{step} ✓ succeeded{d}"),
                Name::StepFailed if o.status == Status::Cancelled => {
                    format!("{step} cancelled{d}")
                }
                Name::StepSkipped if o.status == Status::Cancelled => {
                    format!("{step} cancelled (not started)")
                }
                Name::StepSkipped => format!("{step} ↷ skipped"),
                Name::StepCached => format!("{step} ⚡ cached"),
                Name::StepCompensated => format!("{step} compensated{d}"),
                _ => format!("{step} ✗ failed{d}{}", err(o.error.as_deref())),
            }
        }
        EventKind::CompensationStarted {
            step,
            attempt,
            max_attempts,
        } if *max_attempts > 1 => {
            format!("{step} compensation started (attempt {attempt}/{max_attempts})")
        }
        EventKind::CompensationStarted { step, .. } => format!("{step} compensation started"),
        EventKind::CompensationFinished { step, outcome: o } => {
            let d = dur(o.duration);
            if o.status == Status::Succeeded {
                format!("{step} ↶ compensation succeeded{d}")
            } else {
                format!(
                    "{step} ✗ compensation {}{d}{}",
                    o.status.as_str(),
                    err(o.error.as_deref())
                )
            }
        }
        EventKind::ApprovalRequested { step, message, .. } => {
            format!("{step} waits for approval: {message}")
        }
        EventKind::ApprovalDecided { step, verdict } => {
            let mut s = format!("{step} {}", verdict.name().replace('_', " "));
            if let Some(by) = verdict.by() {
                s.push_str(&format!(" by {by}"));
            }
            if let Some(c) = verdict.comment() {
                s.push_str(&format!(": {c}"));
            }
            s
        }
    })
}

/// Durations travel as whole milliseconds: show what the JSON says.
fn ms(d: Duration) -> Duration {
    Duration::from_millis(crate::duration::millis(d))
}

impl Sink for PlainReporter {
    fn event(&self, ev: &Event) {
        let name = Name::of(&ev.kind);
        if self.quiet && !matches!(name, Name::StepFailed | Name::CompensationFailed) {
            return;
        }
        let step_end = matches!(name, Name::StepCompleted | Name::StepFailed);
        if self.github && step_end {
            if let Some(id) = ev.step_id() {
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
        if let (true, EventKind::StepFinished { step, outcome }) = (self.github, &ev.kind) {
            if let (Name::StepFailed, Some(e)) = (name, &outcome.error) {
                let title = vec![("title", format!("step {step} failed"))];
                let line = crate::render::annotation("error", &title, e);
                self.write(&format!("{line}\n"));
            }
        }
    }

    fn output(&self, out: &Output<'_>) {
        if self.quiet {
            return;
        }
        if self.github {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            let entry = groups.entry(out.step_id.to_string()).or_default();
            for l in out.lines {
                if entry.0.len() >= GROUP_MAX_LINES {
                    entry.0.pop_front();
                    entry.1 += 1;
                }
                entry.0.push_back(l.line.to_string());
            }
            return;
        }
        // One write per batch: a syscall per line is what made output slow.
        self.write(&super::prefixed(out));
    }
}

impl Reporter for PlainReporter {
    fn summary(&self, outcome: &RunSummary) {
        self.write(&format!("{}\n", summary_text(outcome)));
    }
}

/// `run failed in 1.2s: 3 succeeded, 1 failed, 2 skipped; first failure: build (exited with code 2)`
pub(crate) fn summary_text(o: &RunSummary) -> String {
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
    for c in &o.compensation_failures {
        s.push_str(&format!("; {c}"));
    }
    if let Some(out) = o.outputs.as_object().filter(|m| !m.is_empty()) {
        for (k, v) in out {
            s.push_str(&format!("\noutput {k} = {}", crate::expr::eval::to_text(v)));
        }
    }
    s
}
