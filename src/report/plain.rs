//! Plain lines for logs and CI: one timestamped line per event, step output
//! prefixed `[step-id] `. Under GitHub Actions each step's output is printed
//! as one `::group::` when the step ends, so parallel steps never interleave.
//! `-q` keeps each running step's last lines and prints them only if it
//! fails, before its failure line. The run's result is the summary's line.

use std::io::Write;
use std::time::Duration;

use crate::event::wire::Name;
use crate::event::{Event, EventKind, Output, RunSummary, Sink, Status};

use super::palette::{paint, Palette};
use super::tail::{Ended, Tails};
use super::{short_duration, Reporter};

/// Per-step buffer cap under GitHub Actions; beyond it the oldest lines go.
const GROUP_MAX_LINES: usize = 20_000;

pub(crate) struct PlainReporter {
    github: bool,
    /// `-q`: only failures (with their last lines) and the summary.
    quiet: bool,
    color: bool,
    palette: Palette,
    /// Output held back until its step ends: GitHub's groups, `-q`'s tails.
    held: Option<Tails>,
}

impl PlainReporter {
    pub(crate) fn new(github_actions: bool, quiet: bool, color: bool) -> Self {
        let held = if github_actions {
            Some(Tails::new(GROUP_MAX_LINES, usize::MAX, false))
        } else {
            quiet.then(Tails::quiet)
        };
        PlainReporter {
            github: github_actions,
            quiet,
            color,
            palette: Palette::new(color),
            held,
        }
    }

    fn write(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// `[id] `, dim when coloured: the output stands out, not its label.
    fn prefix(&self, id: &str) -> String {
        if self.color {
            format!("{} ", paint(&self.palette.dim, &format!("[{id}]")))
        } else {
            format!("[{id}] ")
        }
    }

    /// The lines a step's end releases, if they are to be shown.
    fn released(&self, ended: Ended, text: &mut String) {
        let Ended { id, tail, failed } = ended;
        if tail.is_empty() && tail.dropped == 0 {
            return;
        }
        if self.github {
            if self.quiet && !failed {
                return;
            }
            text.push_str(&format!("::group::{id}\n"));
            text.push_str(&super::tail_text(&self.prefix(&id), &tail));
            text.push_str("::endgroup::\n");
        } else if failed {
            text.push_str(&super::tail_text(&self.prefix(&id), &tail));
        }
    }
}

/// With `-q`, the only event lines: what failed.
fn shown_when_quiet(ev: &Event) -> bool {
    match &ev.kind {
        EventKind::StepFinished { outcome, .. } => {
            Name::of(&ev.kind) == Name::StepFailed && outcome.status == Status::Failed
        }
        EventKind::CompensationFinished { outcome, .. } => outcome.status != Status::Succeeded,
        _ => false,
    }
}

/// The text of one event line (without timestamp), or `None` for events
/// that say nothing a reader needs.
pub(crate) fn describe(ev: &Event) -> Option<String> {
    describe_in(ev, &Palette::new(false))
}

fn describe_in(ev: &Event, p: &Palette) -> Option<String> {
    let dur = |d: Option<Duration>| {
        d.map(|d| format!(" in {}", short_duration(ms(d))))
            .unwrap_or_default()
    };
    let err = |e: Option<&str>| e.map(|e| format!(": {e}")).unwrap_or_default();
    // An item is shown with its values: `test (linux, 20)`.
    let id = |step: &str| paint(&p.bold, ev.label.as_deref().unwrap_or(step));
    Some(match &ev.kind {
        // The summary says how the run ended, with more than the event.
        EventKind::RunCreated | EventKind::RunFinished { .. } => return None,
        EventKind::RunStarted => format!("run {} of {} started", ev.run_id, ev.workflow),
        EventKind::StepStarted {
            step,
            attempt,
            max_attempts,
        } => match (attempt, max_attempts) {
            (Some(a), Some(m)) if *m > 1 => format!("{} started (attempt {a}/{m})", id(step)),
            _ => format!("{} started", id(step)),
        },
        EventKind::StepRetrying {
            step,
            attempt,
            max_attempts,
            error,
            delay,
            ..
        } => {
            let what = format!(
                "will retry (attempt {attempt}/{max_attempts}) in {}{}",
                short_duration(ms(*delay)),
                err(Some(error))
            );
            format!("{} {}", id(step), paint(&p.warn, &what))
        }
        EventKind::StepFinished { step, outcome: o } => {
            let d = dur(o.duration);
            let (style, what) = match Name::of(&ev.kind) {
                Name::StepCompleted => (&p.ok, format!("✓ succeeded{d}")),
                Name::StepFailed if o.status == Status::Cancelled => {
                    (&p.warn, format!("cancelled{d}"))
                }
                Name::StepSkipped if o.status == Status::Cancelled => {
                    (&p.warn, "cancelled (not started)".to_string())
                }
                Name::StepSkipped => (&p.dim, "↷ skipped".to_string()),
                Name::StepCached => (&p.cached, "⚡ cached".to_string()),
                Name::StepCompensated => (&p.cached, format!("compensated{d}")),
                _ if o.allowed => (
                    &p.warn,
                    format!("✗ failed (allowed){d}{}", err(o.error.as_deref())),
                ),
                _ => (&p.bad, format!("✗ failed{d}{}", err(o.error.as_deref()))),
            };
            format!("{} {}", id(step), paint(style, &what))
        }
        EventKind::CompensationStarted {
            step,
            attempt,
            max_attempts,
        } if *max_attempts > 1 => {
            format!(
                "{} compensation started (attempt {attempt}/{max_attempts})",
                id(step)
            )
        }
        EventKind::CompensationStarted { step, .. } => {
            format!("{} compensation started", id(step))
        }
        EventKind::CompensationFinished { step, outcome: o } => {
            let d = dur(o.duration);
            if o.status == Status::Succeeded {
                let what = format!("↶ compensation succeeded{d}");
                format!("{} {}", id(step), paint(&p.ok, &what))
            } else {
                let what = format!(
                    "✗ compensation {}{d}{}",
                    o.status.as_str(),
                    err(o.error.as_deref())
                );
                format!("{} {}", id(step), paint(&p.bad, &what))
            }
        }
        EventKind::ApprovalRequested { step, message, .. } => {
            format!("{} waits for approval: {message}", id(step))
        }
        EventKind::ApprovalDecided { step, verdict } => {
            let mut s = format!("{} {}", id(step), verdict.name().replace('_', " "));
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
        // Everything this event prints, in one write.
        let mut text = String::new();
        if let Some(ended) = self.held.as_ref().and_then(|h| h.on_event(ev)) {
            self.released(ended, &mut text);
        }
        if !self.quiet || shown_when_quiet(ev) {
            if let Some(line) = describe_in(ev, &self.palette) {
                let ts = humantime::format_rfc3339_millis(ev.time).to_string();
                text.push_str(&format!("{} {line}\n", paint(&self.palette.dim, &ts)));
            }
            if let (true, EventKind::StepFinished { step, outcome }) = (self.github, &ev.kind) {
                if let (Name::StepFailed, Some(e)) = (Name::of(&ev.kind), &outcome.error) {
                    // An allowed failure did not fail the run: a warning.
                    let level = if outcome.allowed { "warning" } else { "error" };
                    let shown = ev.label.as_deref().unwrap_or(step);
                    let title = vec![("title", format!("step {shown} failed"))];
                    let line = crate::render::annotation(level, &title, e);
                    text.push_str(&format!("{line}\n"));
                }
            }
        }
        if !text.is_empty() {
            self.write(&text);
        }
    }

    fn output(&self, out: &Output<'_>) {
        if let Some(held) = &self.held {
            held.push(out);
            return;
        }
        // One write per batch: a syscall per line is what made output slow.
        if self.color {
            self.write(&super::with_prefix(&self.prefix(out.step_id), out));
        } else {
            self.write(&super::prefixed(out));
        }
    }
}

impl Reporter for PlainReporter {
    fn summary(&self, outcome: &RunSummary) {
        self.write(&format!("{}\n", summary_text(outcome, &self.palette)));
    }
}

/// `run failed in 1.2s: 3 succeeded, 1 failed, 2 skipped; first failure: build (exited with code 2)`
fn summary_text(o: &RunSummary, p: &Palette) -> String {
    let (style, verdict) = match o.status {
        Status::Succeeded => (&p.ok, "run succeeded"),
        Status::Cancelled => (&p.warn, "run cancelled"),
        Status::Waiting => (&p.warn, "run waiting"),
        _ => (&p.bad, "run failed"),
    };
    let verdict = paint(&style.clone().bold(), verdict);
    let mut s = format!(
        "{verdict} in {}: {}",
        short_duration(o.duration),
        super::count_line(&o.steps)
    );
    if let Some(first) = o.failures.first() {
        let failed = o
            .steps
            .iter()
            .flat_map(|s| std::iter::once(s).chain(s.items.iter()))
            .find(|s| &s.id == first);
        let err = failed.and_then(|s| s.error.clone());
        let shown = failed.map_or(first.as_str(), |s| s.shown());
        s.push_str(&format!("; first failure: {}", paint(&p.bold, shown)));
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
    // In the order `outputs:` declares them.
    for (k, v) in o.outputs.iter() {
        s.push_str(&format!("\noutput {k} = {}", crate::expr::eval::to_text(v)));
    }
    s
}
