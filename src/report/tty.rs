//! The live terminal view: a run bar, a spinner per running step, one
//! permanent line per finished step, and an end-of-run summary on stderr.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use console::{Style, Term};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::event::wire::Name;
use crate::event::{Event, EventKind, Output, Sink, Status, StepOutcome};
use crate::event::{RunSummary, StepReport};

use super::{short_duration, Reporter};

/// Output lines kept per step (both streams, arrival order).
const TAIL_LINES: usize = 20;
/// Of those, how many are shown under a failed step.
const TAIL_SHOWN: usize = 10;
/// Longer lines are cut so one runaway line cannot hold megabytes.
const MAX_LINE_CHARS: usize = 400;
/// Spinner redraw period.
const TICK: Duration = Duration::from_millis(100);

/// The live view. All drawing goes to stderr; when stderr is not a terminal
/// indicatif draws nothing and only the summary is printed.
pub(crate) struct TtyReporter {
    multi: MultiProgress,
    run_bar: ProgressBar,
    palette: Palette,
    color: bool,
    // Sinks are called from several engine tasks at once.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: HashMap<String, Running>,
    tails: HashMap<String, Tail>,
    /// Top-level steps already counted on the run bar (a step can get a
    /// second terminal event, e.g. compensated after succeeded).
    counted: HashSet<String>,
    /// Set by `summary`: the bars are gone, later events draw nothing.
    done: bool,
    /// Tests collect the summary here instead of writing to stderr.
    captured: Option<Vec<String>>,
}

/// A step with a spinner on screen.
struct Running {
    bar: ProgressBar,
    info: SpinnerInfo,
}

/// What the spinner's message says besides the step id and elapsed time.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct SpinnerInfo {
    attempt: u32,
    max_attempts: u32,
    /// Error of the previous attempt, while retrying.
    last_error: Option<String>,
    /// `for_each` items finished so far (for the parent step).
    items_done: usize,
    awaiting_approval: bool,
}

impl SpinnerInfo {
    fn message(&self) -> String {
        let mut parts = Vec::new();
        if self.awaiting_approval {
            parts.push("waiting for approval".to_string());
        }
        if self.max_attempts > 1 {
            parts.push(format!(
                "attempt {}/{}",
                self.attempt.max(1),
                self.max_attempts
            ));
        }
        if self.items_done > 0 {
            let s = if self.items_done == 1 { "" } else { "s" };
            parts.push(format!("{} item{s} done", self.items_done));
        }
        if let Some(e) = &self.last_error {
            parts.push(format!("last error: {}", first_line(e)));
        }
        parts.join(" · ")
    }
}

/// The last lines a step printed, bounded to `cap` lines.
#[derive(Debug)]
struct Tail {
    lines: VecDeque<String>,
    cap: usize,
}

impl Tail {
    fn new(cap: usize) -> Self {
        Tail {
            lines: VecDeque::with_capacity(cap.min(TAIL_LINES)),
            cap,
        }
    }

    fn push(&mut self, line: &str) {
        if self.cap == 0 {
            return;
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        // Escape codes from the step would fight with our own styling.
        let clean = console::strip_ansi_codes(line);
        self.lines.push_back(truncate(&clean, MAX_LINE_CHARS));
    }

    /// The last `n` lines, oldest first.
    fn last(&self, n: usize) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .skip(self.lines.len().saturating_sub(n))
            .map(String::as_str)
    }
}

/// Styles, forced on or off by the `color` setting rather than by what
/// console guesses from the environment.
#[derive(Debug, Clone)]
struct Palette {
    ok: Style,
    bad: Style,
    warn: Style,
    cached: Style,
    dim: Style,
    bold: Style,
}

impl Palette {
    fn new(color: bool) -> Self {
        let f = |s: Style| s.force_styling(color);
        Palette {
            ok: f(Style::new().green()),
            bad: f(Style::new().red()),
            warn: f(Style::new().yellow()),
            cached: f(Style::new().cyan()),
            dim: f(Style::new().dim()),
            bold: f(Style::new().bold()),
        }
    }
}

fn paint(style: &Style, text: &str) -> String {
    style.apply_to(text).to_string()
}

impl TtyReporter {
    /// A live view for a workflow with `total_steps` top-level steps.
    pub(crate) fn new(total_steps: usize, color: bool) -> TtyReporter {
        Self::with_target(total_steps, color, ProgressDrawTarget::stderr())
    }

    fn with_target(total_steps: usize, color: bool, target: ProgressDrawTarget) -> TtyReporter {
        let multi = MultiProgress::with_draw_target(target);
        let run_bar = multi.add(ProgressBar::new(total_steps as u64));
        run_bar.set_style(run_style(color));
        run_bar.set_prefix("run");
        TtyReporter {
            multi,
            run_bar,
            palette: Palette::new(color),
            color,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the display down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permanent line above the bars (no-op when the view is hidden).
    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    fn step_started(
        &self,
        st: &mut State,
        id: &str,
        attempt: Option<u32>,
        max_attempts: Option<u32>,
    ) {
        if let Some(r) = st.running.get_mut(id) {
            // Already shown (e.g. a `for_each` parent): just refresh.
            r.info.attempt = attempt.unwrap_or(r.info.attempt);
            r.info.max_attempts = max_attempts.unwrap_or(r.info.max_attempts);
            r.bar.set_message(r.info.message());
            return;
        }
        let bar = self
            .multi
            .insert_before(&self.run_bar, ProgressBar::new_spinner());
        bar.set_style(spinner_style(self.color));
        bar.set_prefix(format!("{}{id}", indent(id)));
        let info = SpinnerInfo {
            attempt: attempt.unwrap_or(1),
            max_attempts: max_attempts.unwrap_or(1),
            ..SpinnerInfo::default()
        };
        bar.set_message(info.message());
        bar.enable_steady_tick(TICK);
        st.running.insert(id.to_string(), Running { bar, info });
    }

    fn step_retrying(
        &self,
        st: &mut State,
        id: &str,
        next: u32,
        max: u32,
        error: &str,
        delay: Duration,
    ) {
        let error = error.to_string();
        let delay = short_duration(Duration::from_millis(crate::duration::millis(delay)));
        self.println(&paint(
            &self.palette.dim,
            &format!(
                "↻ {id} attempt {}/{max} failed: {}; retrying in {delay}",
                next.saturating_sub(1),
                first_line(&error)
            ),
        ));
        if let Some(r) = st.running.get_mut(id) {
            r.info.attempt = next;
            r.info.max_attempts = max;
            r.info.last_error = Some(error);
            r.bar.set_message(r.info.message());
        }
    }

    fn step_finished(&self, st: &mut State, id: &str, name: Name, o: &StepOutcome) {
        let running = st.running.remove(id);
        let mut elapsed = None;
        let mut max_attempts = 1;
        if let Some(r) = &running {
            elapsed = Some(r.bar.elapsed());
            max_attempts = r.info.max_attempts;
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
        let status = o.status;
        let end = StepEnd {
            id,
            status,
            // A skipped step never ran: no duration, whatever the event says.
            not_started: name == Name::StepSkipped,
            duration: o
                .duration
                .map(|d| Duration::from_millis(crate::duration::millis(d)))
                .or(elapsed),
            attempts: o.attempts.unwrap_or(1),
            max_attempts,
            error: o.error.as_deref(),
        };
        self.println(&end.line(&self.palette));
        // The tail is only needed to explain a failure; drop it either way.
        let tail = st.tails.remove(id);
        if status == Status::Failed {
            if let Some(tail) = tail {
                for l in tail.last(TAIL_SHOWN) {
                    self.println(&paint(&self.palette.dim, &format!("  │ {l}")));
                }
            }
        }
        match parent_of(id) {
            // A child run's step: its parent step counts for the run bar.
            _ if is_nested(id) => {}
            Some(parent) => {
                if let Some(p) = st.running.get_mut(parent) {
                    p.info.items_done += 1;
                    p.bar.set_message(p.info.message());
                }
            }
            None => {
                if st.counted.insert(id.to_string()) {
                    let pos = self.run_bar.position() + 1;
                    // Never show more finished than total.
                    if self.run_bar.length().is_some_and(|len| pos > len) {
                        self.run_bar.set_length(pos);
                    }
                    self.run_bar.set_position(pos);
                }
            }
        }
    }

    fn approval(&self, st: &mut State, id: &str, waiting: bool) {
        if let Some(r) = st.running.get_mut(id) {
            r.info.awaiting_approval = waiting;
            r.bar.set_message(r.info.message());
        }
    }

    /// Take every bar off the screen.
    fn clear_bars(&self, st: &mut State) {
        for (_, r) in st.running.drain() {
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
        self.run_bar.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl Drop for TtyReporter {
    fn drop(&mut self) {
        // If the run ended without a summary, do not leave spinners behind.
        let mut st = self.lock();
        if !st.done {
            st.done = true;
            self.clear_bars(&mut st);
        }
    }
}

impl Sink for TtyReporter {
    fn event(&self, ev: &Event) {
        let mut st = self.lock();
        if st.done {
            return;
        }
        if let EventKind::RunStarted = ev.kind {
            self.run_bar.set_prefix(ev.workflow.to_string());
            self.run_bar.reset_elapsed();
            // Ticks keep the elapsed time moving when no spinner is drawn.
            self.run_bar.enable_steady_tick(Duration::from_millis(250));
            return;
        }
        match &ev.kind {
            EventKind::StepStarted {
                step,
                attempt,
                max_attempts,
            } => self.step_started(&mut st, step, *attempt, *max_attempts),
            EventKind::StepRetrying {
                step,
                attempt,
                max_attempts,
                error,
                delay,
                ..
            } => self.step_retrying(&mut st, step, *attempt, *max_attempts, error, *delay),
            EventKind::StepFinished { step, outcome } => {
                self.step_finished(&mut st, step, Name::of(&ev.kind), outcome)
            }
            EventKind::ApprovalRequested { step, .. } => self.approval(&mut st, step, true),
            EventKind::ApprovalDecided { step, .. } => self.approval(&mut st, step, false),
            // A compensation is one line when it ends: it runs alone, after
            // every step, so no spinner is needed to follow it.
            EventKind::CompensationFinished { .. } => {
                if let Some(text) = super::plain::describe(ev) {
                    self.println(&text);
                }
            }
            EventKind::CompensationStarted { .. } => {}
            EventKind::RunCreated | EventKind::RunStarted | EventKind::RunFinished { .. } => {}
        }
    }

    fn output(&self, out: &Output<'_>) {
        let mut st = self.lock();
        if st.done {
            return;
        }
        // Not printed live: kept only to explain a failure.
        let tail = st
            .tails
            .entry(out.step_id.to_string())
            .or_insert_with(|| Tail::new(TAIL_LINES));
        // Only the last lines of a batch can matter.
        let skip = out.lines.len().saturating_sub(TAIL_LINES);
        for l in &out.lines[skip..] {
            tail.push(l.line);
        }
    }
}

impl Reporter for TtyReporter {
    fn pause(&self, paused: bool) {
        if paused {
            let _ = self.multi.clear();
            self.multi.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            self.multi.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn summary(&self, outcome: &RunSummary) {
        let mut st = self.lock();
        st.done = true;
        st.tails.clear();
        self.clear_bars(&mut st);
        // Written directly: the summary must appear even when indicatif
        // decided stderr is no terminal and hid the bars.
        let lines = summary_lines(&self.palette, outcome);
        if let Some(captured) = &mut st.captured {
            captured.extend(lines);
            return;
        }
        let term = Term::stderr();
        let _ = term.write_line("");
        for line in lines {
            let _ = term.write_line(&line);
        }
    }
}

/// How a step ended, for its permanent line.
struct StepEnd<'a> {
    id: &'a str,
    status: Status,
    not_started: bool,
    duration: Option<Duration>,
    attempts: u32,
    max_attempts: u32,
    error: Option<&'a str>,
}

impl StepEnd<'_> {
    /// `✓ build 1.2s`, `✗ test 3.4s (3 attempts) — exit code 1`, `↷ deploy skipped`.
    fn line(&self, p: &Palette) -> String {
        format!("{}{}", indent(self.id), self.unindented(p))
    }

    fn unindented(&self, p: &Palette) -> String {
        if self.not_started {
            // The whole line is dim: nothing happened here.
            return paint(&p.dim, &format!("↷ {} {}", self.id, self.status.as_str()));
        }
        let (mark, style, word) = match self.status {
            Status::Succeeded => ("✓", &p.ok, None),
            Status::Failed => ("✗", &p.bad, None),
            Status::Cancelled => ("✗", &p.warn, Some("cancelled")),
            Status::Skipped => ("↷", &p.dim, Some("skipped")),
            Status::Cached => ("⚡", &p.cached, Some("cached")),
            Status::Compensated => ("↺", &p.warn, Some("compensated")),
            other => ("•", &p.dim, Some(other.as_str())),
        };
        let mut s = format!("{} {}", paint(style, mark), paint(&p.bold, self.id));
        if let Some(d) = self.duration {
            let _ = write!(s, " {}", paint(&p.dim, &short_duration(d)));
        }
        if let Some(w) = word {
            let _ = write!(s, " {}", paint(&p.dim, w));
        }
        if self.attempts > 1 {
            let of = if self.max_attempts > 1 {
                format!("attempt {}/{}", self.attempts, self.max_attempts)
            } else {
                format!("{} attempts", self.attempts)
            };
            let _ = write!(s, " {}", paint(&p.dim, &format!("({of})")));
        }
        if matches!(self.status, Status::Failed | Status::Cancelled) {
            if let Some(e) = self.error {
                // Continuation lines of a long error stay under the step.
                let e = e.trim_end().replace('\n', "\n    ");
                let _ = write!(s, " — {}", paint(&p.bad, &e));
            }
        }
        s
    }
}

/// `✓ run succeeded in 3.2s — 5 succeeded, 1 skipped` (no styling).
fn summary_line(o: &RunSummary) -> String {
    let head = match o.status {
        Status::Succeeded => "✓ run succeeded".to_string(),
        Status::Failed => "✗ run failed".to_string(),
        other => format!("run {}", other.as_str()),
    };
    let counts = super::count_line(&o.steps);
    let counts = if counts.is_empty() {
        "no steps".to_string()
    } else {
        counts
    };
    format!("{head} in {} — {counts}", short_duration(o.duration))
}

/// The summary: headline, failed steps in failure order, run-level error.
fn summary_lines(p: &Palette, o: &RunSummary) -> Vec<String> {
    let head = summary_line(o);
    let head_style = match o.status {
        Status::Succeeded => p.ok.clone().bold(),
        Status::Failed => p.bad.clone().bold(),
        _ => p.warn.clone().bold(),
    };
    let mut lines = vec![paint(&head_style, &head)];
    if !o.failures.is_empty() {
        lines.push(String::new());
        lines.push(paint(&p.bold, "Failed steps (in the order they failed):"));
        let width = o
            .failures
            .iter()
            .map(|id| console::measure_text_width(id))
            .max()
            .unwrap_or(0);
        for (n, id) in o.failures.iter().enumerate() {
            let error = find_step(&o.steps, id)
                .and_then(|s| s.error.as_deref())
                .unwrap_or("failed")
                .trim_end();
            // Pad before styling: escape codes would upset the widths.
            let padded = format!("{id:<width$}");
            let num = format!("{:>3}.", n + 1);
            let indent = " ".repeat(num.len() + 1 + width + 2);
            let error = error.replace('\n', &format!("\n{indent}"));
            let id_style = if n == 0 {
                p.bad.clone().bold()
            } else {
                p.bold.clone()
            };
            let first = if n == 0 {
                paint(&p.dim, "  (first failure)")
            } else {
                String::new()
            };
            lines.push(format!(
                "{num} {}  {}{first}",
                paint(&id_style, &padded),
                error
            ));
        }
    }
    if let Some(e) = &o.error {
        lines.push(String::new());
        lines.push(format!(
            "{} {}",
            paint(&p.bad.clone().bold(), "error:"),
            e.trim_end()
        ));
    }
    for c in &o.compensation_failures {
        lines.push(format!(
            "{} {}",
            paint(&p.bad.clone().bold(), "error:"),
            c.trim_end()
        ));
    }
    if let Some(out) = o.outputs.as_object().filter(|m| !m.is_empty()) {
        lines.push(paint(&p.bold, "Outputs:"));
        for (k, v) in out {
            lines.push(format!("  {k} = {}", crate::expr::eval::to_text(v)));
        }
    }
    lines
}

/// A step or `for_each` item report by id, at any depth.
fn find_step<'a>(steps: &'a [StepReport], id: &str) -> Option<&'a StepReport> {
    steps.iter().find_map(|s| {
        if s.id == id {
            Some(s)
        } else {
            find_step(&s.items, id)
        }
    })
}

/// `deploy` for the item `deploy[2]`; `None` for a top-level step.
fn parent_of(id: &str) -> Option<&str> {
    id.split_once('[').map(|(parent, _)| parent)
}

/// A step of a child run, shown as `parent-step/child-step`.
fn is_nested(id: &str) -> bool {
    id.contains('/')
}

/// Child runs' steps are indented under the step that runs them.
fn indent(id: &str) -> String {
    "  ".repeat(id.matches('/').count())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Elapsed time in the same form as the permanent lines (`820ms`, `3.2s`).
fn elapsed_key(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = w.write_str(&short_duration(state.elapsed()));
}

fn spinner_template(color: bool) -> &'static str {
    if color {
        "  {spinner:.cyan} {prefix:.bold} {el:.dim} {wide_msg:.dim}"
    } else {
        "  {spinner} {prefix} {el} {wide_msg}"
    }
}

fn run_template(color: bool) -> &'static str {
    if color {
        "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} steps · {el}"
    } else {
        "{prefix} [{bar:30}] {pos}/{len} steps · {el}"
    }
}

fn spinner_style(color: bool) -> ProgressStyle {
    // Templates are constants (tested below); fall back rather than panic.
    ProgressStyle::with_template(spinner_template(color))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("el", elapsed_key)
}

fn run_style(color: bool) -> ProgressStyle {
    ProgressStyle::with_template(run_template(color))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("el", elapsed_key)
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn report(id: &str, status: Status, error: Option<&str>) -> StepReport {
        StepReport {
            id: id.into(),
            status,
            error: error.map(Into::into),
            outputs: serde_json::Value::Null,
            items: vec![],
            allowed: false,
        }
    }

    fn outcome(status: Status, steps: Vec<StepReport>, failures: &[&str]) -> RunSummary {
        RunSummary {
            status,
            steps,
            failures: failures.iter().map(|s| s.to_string()).collect(),
            outputs: serde_json::Value::Null,
            error: None,
            duration: Duration::from_millis(3240),
            waiting: vec![],
            compensation_failures: Vec::new(),
        }
    }

    fn event(kind: EventKind) -> Event {
        Event::new(kind, &Arc::from("r1"), &Arc::from("wf"))
    }

    fn started(id: &str, attempt: Option<u32>, max_attempts: Option<u32>) -> Event {
        event(EventKind::StepStarted {
            step: id.into(),
            attempt,
            max_attempts,
        })
    }

    fn finished(id: &str, status: Status, attempts: Option<u32>) -> Event {
        event(EventKind::StepFinished {
            step: id.into(),
            outcome: crate::event::StepOutcome {
                status,
                started: true,
                attempts,
                duration: None,
                error: None,
                exit_code: None,
                http_status: None,
                result: None,
                cache: None,
                allowed: false,
            },
        })
    }

    #[test]
    fn tail_keeps_only_the_last_lines() {
        let mut t = Tail::new(3);
        for i in 0..10 {
            t.push(&format!("line {i}"));
        }
        assert_eq!(t.lines.len(), 3);
        assert_eq!(
            t.last(10).collect::<Vec<_>>(),
            ["line 7", "line 8", "line 9"]
        );
        assert_eq!(t.last(2).collect::<Vec<_>>(), ["line 8", "line 9"]);
    }

    #[test]
    fn tail_cuts_long_lines_and_escapes() {
        let mut t = Tail::new(2);
        t.push(&"é".repeat(MAX_LINE_CHARS + 5));
        t.push("\x1b[31mred\x1b[0m");
        let lines: Vec<_> = t.last(2).collect();
        assert_eq!(lines[0].chars().count(), MAX_LINE_CHARS + 1);
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "red");
    }

    #[test]
    fn summary_line_counts_top_level_steps() {
        let mut steps: Vec<_> = (0..5)
            .map(|i| report(&format!("s{i}"), Status::Succeeded, None))
            .collect();
        steps.push(report("x", Status::Skipped, None));
        let o = outcome(Status::Succeeded, steps, &[]);
        assert_eq!(
            summary_line(&o),
            "✓ run succeeded in 3.2s — 5 succeeded, 1 skipped"
        );

        let mut steps: Vec<_> = (0..3)
            .map(|i| report(&format!("s{i}"), Status::Succeeded, None))
            .collect();
        let mut parent = report("b", Status::Failed, Some("1 of 2 items failed"));
        parent.items = vec![report("b[0]", Status::Failed, Some("boom"))];
        steps.push(parent);
        steps.push(report("c", Status::Skipped, None));
        steps.push(report("d", Status::Skipped, None));
        let o = outcome(Status::Failed, steps, &["b[0]"]);
        assert_eq!(
            summary_line(&o),
            "✗ run failed in 3.2s — 3 succeeded, 1 failed, 2 skipped"
        );

        let o = outcome(
            Status::Cancelled,
            vec![report("a", Status::Cancelled, None)],
            &[],
        );
        assert_eq!(summary_line(&o), "run cancelled in 3.2s — 1 cancelled");

        let o = outcome(Status::Succeeded, vec![], &[]);
        assert_eq!(summary_line(&o), "✓ run succeeded in 3.2s — no steps");
    }

    #[test]
    fn failures_listed_first_failure_first() {
        let mut deploy = report("deploy", Status::Failed, Some("1 of 3 items failed"));
        deploy.items = vec![report(
            "deploy[2]",
            Status::Failed,
            Some("timed out after 30s"),
        )];
        let steps = vec![report("build", Status::Failed, Some("exit code 2")), deploy];
        let mut o = outcome(Status::Failed, steps, &["build", "deploy[2]"]);
        o.error = Some("workflow timed out".into());
        let lines = summary_lines(&Palette::new(false), &o);
        assert_eq!(
            lines,
            [
                "✗ run failed in 3.2s — 2 failed",
                "",
                "Failed steps (in the order they failed):",
                "  1. build      exit code 2  (first failure)",
                "  2. deploy[2]  timed out after 30s",
                "",
                "error: workflow timed out",
            ]
        );
    }

    #[test]
    fn step_lines() {
        let p = Palette::new(false);
        let end = |status, not_started, error| StepEnd {
            id: "build",
            status,
            not_started,
            duration: (!not_started).then(|| Duration::from_millis(1200)),
            attempts: 1,
            max_attempts: 1,
            error,
        };
        assert_eq!(end(Status::Succeeded, false, None).line(&p), "✓ build 1.2s");
        assert_eq!(
            end(Status::Failed, false, Some("exit code 1")).line(&p),
            "✗ build 1.2s — exit code 1"
        );
        assert_eq!(end(Status::Skipped, true, None).line(&p), "↷ build skipped");
        assert_eq!(
            end(Status::Cancelled, true, None).line(&p),
            "↷ build cancelled"
        );
        assert_eq!(
            end(Status::Cached, false, None).line(&p),
            "⚡ build 1.2s cached"
        );
        let retried = StepEnd {
            attempts: 3,
            max_attempts: 3,
            ..end(Status::Failed, false, Some("boom"))
        };
        assert_eq!(retried.line(&p), "✗ build 1.2s (attempt 3/3) — boom");
    }

    #[test]
    fn spinner_message_shows_attempts_only_with_retries() {
        let mut info = SpinnerInfo {
            attempt: 1,
            max_attempts: 1,
            ..SpinnerInfo::default()
        };
        assert_eq!(info.message(), "");
        info.max_attempts = 3;
        info.attempt = 2;
        info.last_error = Some("exit code 1\nmore".into());
        assert_eq!(info.message(), "attempt 2/3 · last error: exit code 1");
    }

    #[test]
    fn templates_parse() {
        for color in [true, false] {
            assert!(ProgressStyle::with_template(spinner_template(color)).is_ok());
            assert!(ProgressStyle::with_template(run_template(color)).is_ok());
        }
    }

    #[test]
    fn events_drive_spinners_and_run_bar() {
        let r = TtyReporter::with_target(2, false, ProgressDrawTarget::hidden());
        r.lock().captured = Some(Vec::new());
        r.event(&event(EventKind::RunStarted));
        r.event(&started("build", Some(1), Some(2)));
        r.event(&started("deploy", None, None));
        r.event(&started("deploy[0]", None, None));
        for i in 0..30 {
            r.output(&Output::one(
                "build",
                &crate::event::OutputLine {
                    stream: crate::event::Stream::Stderr,
                    line: &format!("l{i}"),
                    partial: false,
                },
            ));
        }
        {
            let st = r.lock();
            assert_eq!(st.running.len(), 3);
            assert_eq!(st.tails["build"].lines.len(), TAIL_LINES);
        }
        r.event(&event(EventKind::StepRetrying {
            step: "build".into(),
            attempt: 2,
            max_attempts: 2,
            delay: Duration::from_millis(1500),
            error: "exit code 1".into(),
            exit_code: None,
            http_status: None,
        }));
        assert_eq!(
            r.lock().running["build"].bar.message(),
            "attempt 2/2 · last error: exit code 1"
        );

        r.event(&finished("build", Status::Failed, Some(2)));
        r.event(&finished("deploy[0]", Status::Succeeded, None));
        assert_eq!(r.run_bar.position(), 1, "items do not advance the run bar");
        assert_eq!(r.lock().running["deploy"].info.items_done, 1);
        r.event(&finished("deploy", Status::Succeeded, None));
        r.event(&finished("deploy", Status::Compensated, None));
        assert_eq!(r.run_bar.position(), 2, "one advance per top-level step");
        {
            let st = r.lock();
            assert!(st.running.is_empty());
            assert!(st.tails.is_empty());
        }

        let o = outcome(
            Status::Failed,
            vec![report("build", Status::Failed, Some("exit code 1"))],
            &["build"],
        );
        r.summary(&o);
        r.event(&started("late", None, None));
        let st = r.lock();
        assert!(st.running.is_empty(), "nothing is drawn after the summary");
        assert_eq!(
            st.captured.as_ref().map(|c| c[0].as_str()),
            Some("✗ run failed in 3.2s — 1 failed")
        );
    }
}
