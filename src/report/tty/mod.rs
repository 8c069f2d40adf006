//! The live terminal view: a run bar, a spinner per running step with its
//! latest output lines under it, one permanent line per finished step, and
//! an end-of-run summary on stderr.
//!
//! Step output never redraws anything by itself: it only replaces the
//! lines a spinner shows, and the spinners' own ticks draw them, at most
//! 15 times a second (see [`screen`]).

mod lines;
mod passthrough;
mod screen;
mod summary;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use console::Term;
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};

use crate::event::wire::Name;
use crate::event::{Event, EventKind, Output, RunSummary, Sink, Status, StepOutcome};

use self::lines::{
    first_line, is_nested, paint, parent_of, run_line, sanitize, tail_budget, Palette, Spinner,
    StepEnd, Tail, TAIL_LINES, TAIL_SHOWN,
};
use self::passthrough::StdoutLines;
use self::screen::Screen;
use self::summary::summary_lines;
use super::{short_duration, Reporter};

/// Spinner redraw period.
const TICK: Duration = Duration::from_millis(100);

/// What the view shows, from the flags and the workflow.
#[derive(Debug, Clone, Default)]
pub(crate) struct TtyOptions {
    pub(crate) color: bool,
    /// Latest output lines under each running step (`--tail`).
    pub(crate) tail: usize,
    /// `-v`: every output line above the bars.
    pub(crate) verbose: bool,
    /// `-q`: no spinners, no line per step; failures and the summary only.
    pub(crate) quiet: bool,
    /// Write step output to stdout as `[id] line` (stdout is no terminal).
    pub(crate) passthrough: bool,
}

/// The live view. All drawing goes to stderr; when stderr is not a terminal
/// nothing is drawn and only the summary is printed.
pub(crate) struct TtyReporter {
    multi: MultiProgress,
    run_bar: ProgressBar,
    /// The workflow's name on the run bar (known at `run.started`).
    run_name: Arc<Mutex<String>>,
    palette: Palette,
    opts: TtyOptions,
    screen: Screen,
    /// Spinners on screen, to share the rows among their output lines.
    on_screen: Arc<AtomicUsize>,
    stdout: Option<StdoutLines>,
    // Sinks are called from several engine tasks at once.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: HashMap<String, Running>,
    /// What each step printed last, and its spinner's message.
    live: HashMap<String, Arc<Mutex<Live>>>,
    /// Top-level steps already counted on the run bar (a step can get a
    /// second terminal event, e.g. compensated after succeeded).
    counted: HashSet<String>,
    /// Set by `summary`: the bars are gone, later events draw nothing.
    done: bool,
    /// Tests collect the summary here instead of writing to stderr.
    captured: Option<Vec<String>>,
}

/// A step's latest output and spinner message, shared with the spinner's
/// template (drawn on indicatif's ticker thread).
#[derive(Debug)]
struct Live {
    tail: Tail,
    info: String,
}

/// A step with a spinner on screen.
struct Running {
    bar: ProgressBar,
    info: SpinnerInfo,
    live: Arc<Mutex<Live>>,
}

impl Running {
    fn refresh(&self) {
        let msg = self.info.message();
        lock(&self.live).info = msg.clone();
        self.bar.set_message(msg);
    }
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

/// A panic elsewhere must not take the display down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TtyReporter {
    /// A live view on stderr for a workflow with `total_steps` top-level steps.
    pub(crate) fn new(total_steps: usize, opts: TtyOptions) -> TtyReporter {
        let stdout = opts.passthrough.then(StdoutLines::stdout);
        Self::with_screen(total_steps, opts, Screen::stderr(), stdout)
    }

    fn with_screen(
        total_steps: usize,
        opts: TtyOptions,
        screen: Screen,
        stdout: Option<StdoutLines>,
    ) -> TtyReporter {
        let multi = MultiProgress::with_draw_target(screen.target());
        let run_bar = multi.add(ProgressBar::new(total_steps as u64));
        let palette = Palette::new(opts.color);
        let run_name = Arc::new(Mutex::new("run".to_string()));
        run_bar.set_style(run_style(&run_name, &screen, &palette));
        TtyReporter {
            multi,
            run_bar,
            run_name,
            palette,
            opts,
            screen,
            on_screen: Arc::default(),
            stdout,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// A permanent line above the bars (no-op when the view is hidden).
    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    fn live(&self, st: &mut State, id: &str) -> Arc<Mutex<Live>> {
        if let Some(live) = st.live.get(id) {
            return live.clone();
        }
        let cap = TAIL_LINES.max(self.opts.tail);
        st.live
            .entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Live {
                    tail: Tail::new(cap),
                    info: String::new(),
                }))
            })
            .clone()
    }

    fn step_started(
        &self,
        st: &mut State,
        id: &str,
        shown: &str,
        attempt: Option<u32>,
        max_attempts: Option<u32>,
    ) {
        if let Some(r) = st.running.get_mut(id) {
            // Already shown (e.g. a `for_each` parent): just refresh.
            r.info.attempt = attempt.unwrap_or(r.info.attempt);
            r.info.max_attempts = max_attempts.unwrap_or(r.info.max_attempts);
            r.refresh();
            return;
        }
        if self.opts.quiet {
            return;
        }
        let live = self.live(st, id);
        let bar = self
            .multi
            .insert_before(&self.run_bar, ProgressBar::new_spinner());
        bar.set_style(self.spinner_style(shown, &live));
        let r = Running {
            bar,
            info: SpinnerInfo {
                attempt: attempt.unwrap_or(1),
                max_attempts: max_attempts.unwrap_or(1),
                ..SpinnerInfo::default()
            },
            live,
        };
        r.refresh();
        r.bar.enable_steady_tick(TICK);
        st.running.insert(id.to_string(), r);
        self.on_screen.store(st.running.len(), Ordering::Relaxed);
    }

    /// A spinner drawn from the step's shared [`Live`] state at each tick,
    /// within the terminal's width and its share of the rows.
    fn spinner_style(&self, id: &str, live: &Arc<Mutex<Live>>) -> ProgressStyle {
        let (id, live, screen) = (id.to_string(), live.clone(), self.screen.clone());
        // With -v every line is above the bars already.
        let wanted = if self.opts.verbose { 0 } else { self.opts.tail };
        let (palette, on_screen) = (self.palette.clone(), self.on_screen.clone());
        let draw = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let (rows, cols) = screen.size();
            let shown = tail_budget(wanted, on_screen.load(Ordering::Relaxed), rows);
            let live = lock(&live);
            let text = Spinner {
                id: &id,
                info: &live.info,
                elapsed: state.elapsed(),
                tail: &live.tail,
                shown,
            }
            .render(cols, &palette);
            let _ = w.write_str(&text);
        };
        // The template is a constant; fall back rather than panic.
        ProgressStyle::with_template("{step}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("step", draw)
    }

    fn step_retrying(
        &self,
        st: &mut State,
        id: &str,
        shown: &str,
        (next, max): (u32, u32),
        error: &str,
        delay: Duration,
    ) {
        let error = error.to_string();
        let delay = short_duration(Duration::from_millis(crate::duration::millis(delay)));
        if !self.opts.quiet {
            self.println(&paint(
                &self.palette.dim,
                &format!(
                    "↻ {shown} attempt {}/{max} failed: {}; retrying in {delay}",
                    next.saturating_sub(1),
                    first_line(&error)
                ),
            ));
        }
        if let Some(r) = st.running.get_mut(id) {
            r.info.attempt = next;
            r.info.max_attempts = max;
            r.info.last_error = Some(error);
            r.refresh();
        }
    }

    fn step_finished(&self, st: &mut State, id: &str, shown: &str, name: Name, o: &StepOutcome) {
        let running = st.running.remove(id);
        self.on_screen.store(st.running.len(), Ordering::Relaxed);
        let mut elapsed = None;
        let mut max_attempts = 1;
        if let Some(r) = &running {
            elapsed = Some(r.bar.elapsed());
            max_attempts = r.info.max_attempts;
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
        // The run bar first: the line printed below redraws it.
        self.count(st, id);
        let status = o.status;
        let end = StepEnd {
            id: shown,
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
            // A failure the run goes on from (`continue_on_error`).
            allowed: status == Status::Failed && o.allowed,
        };
        // The live lines are only needed to explain a failure; drop them either way.
        let live = st.live.remove(id);
        if self.opts.quiet && status != Status::Failed {
            return;
        }
        self.println(&end.line(&self.palette));
        if status == Status::Failed {
            if let Some(live) = live {
                let live = lock(&live);
                for l in live.tail.last(TAIL_SHOWN) {
                    self.println(&paint(&self.palette.dim, &format!("  │ {l}")));
                }
            }
        }
    }

    /// Advance the run bar for a top-level step (or a `for_each` parent's
    /// item count).
    fn count(&self, st: &mut State, id: &str) {
        match parent_of(id) {
            // A child run's step: its parent step counts for the run bar.
            _ if is_nested(id) => {}
            Some(parent) => {
                if let Some(p) = st.running.get_mut(parent) {
                    p.info.items_done += 1;
                    p.refresh();
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
                    // With a steady tick, indicatif redraws a bar only on
                    // its tick: every frame drawn until then (one per
                    // finished step) would show the old count.
                    self.run_bar.force_draw();
                }
            }
        }
    }

    fn approval(&self, st: &mut State, id: &str, waiting: bool) {
        if let Some(r) = st.running.get_mut(id) {
            r.info.awaiting_approval = waiting;
            r.refresh();
        }
    }

    /// `-v`: a batch of output above the bars, each line after its step id.
    fn print_lines(&self, out: &Output<'_>) {
        let prefix = paint(&self.palette.dim, &format!("[{}] ", out.step_id));
        let mut text = String::new();
        for (n, l) in out.lines.iter().enumerate() {
            if n > 0 {
                text.push('\n');
            }
            text.push_str(&prefix);
            text.push_str(&sanitize(l.line, usize::MAX));
        }
        // One redraw per batch, not per line.
        self.println(&text);
    }

    /// Take every bar off the screen.
    fn clear_bars(&self, st: &mut State) {
        for (_, r) in st.running.drain() {
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
        self.on_screen.store(0, Ordering::Relaxed);
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
            *lock(&self.run_name) = ev.workflow.to_string();
            self.run_bar.reset_elapsed();
            // Ticks keep the elapsed time moving when no spinner is drawn.
            self.run_bar.enable_steady_tick(Duration::from_millis(250));
            return;
        }
        // An item is shown with its values: `test (linux, 20)`.
        let shown = ev.shown_step().unwrap_or_default();
        match &ev.kind {
            EventKind::StepStarted {
                step,
                attempt,
                max_attempts,
            } => self.step_started(&mut st, step, shown, *attempt, *max_attempts),
            EventKind::StepRetrying {
                step,
                attempt,
                max_attempts,
                error,
                delay,
                ..
            } => self.step_retrying(
                &mut st,
                step,
                shown,
                (*attempt, *max_attempts),
                error,
                *delay,
            ),
            EventKind::StepFinished { step, outcome } => {
                self.step_finished(&mut st, step, shown, Name::of(&ev.kind), outcome)
            }
            EventKind::ApprovalRequested { step, .. } => self.approval(&mut st, step, true),
            EventKind::ApprovalDecided { step, .. } => self.approval(&mut st, step, false),
            // A compensation is one line when it ends: it runs alone, after
            // every step, so no spinner is needed to follow it.
            EventKind::CompensationFinished { outcome, .. } => {
                if self.opts.quiet && outcome.status != Status::Failed {
                    return;
                }
                if let Some(text) = super::plain::describe(ev) {
                    self.println(&text);
                }
            }
            EventKind::CompensationStarted { .. } => {}
            EventKind::RunCreated | EventKind::RunStarted | EventKind::RunFinished { .. } => {}
        }
    }

    fn output(&self, out: &Output<'_>) {
        if let Some(s) = &self.stdout {
            s.output(out);
        }
        let mut st = self.lock();
        if st.done {
            return;
        }
        if self.opts.verbose && !self.screen.is_hidden() {
            self.print_lines(out);
        }
        let live = self.live(&mut st, out.step_id);
        drop(st);
        let mut live = lock(&live);
        // Only the last lines of a batch can matter: the cost per batch is
        // bounded by what is kept, not by what the step printed.
        let skip = out.lines.len().saturating_sub(live.tail.cap());
        for l in &out.lines[skip..] {
            live.tail.push(l.line);
        }
    }
}

impl Reporter for TtyReporter {
    fn pause(&self, paused: bool) {
        if paused {
            let _ = self.multi.clear();
            self.multi
                .set_draw_target(indicatif::ProgressDrawTarget::hidden());
        } else {
            self.multi.set_draw_target(self.screen.target());
        }
    }

    fn notice(&self, text: &str) {
        let mut st = self.lock();
        // Hidden too while a question is asked on the terminal.
        if st.done || self.multi.is_hidden() {
            write_direct(&mut st, vec![text.to_string()]);
        } else {
            // Above the bars: written under them, the next frame would
            // draw over it.
            self.println(&paint(&self.palette.warn, text));
        }
    }

    fn summary(&self, outcome: &RunSummary) {
        let mut st = self.lock();
        st.done = true;
        st.live.clear();
        self.clear_bars(&mut st);
        // Written directly: the summary must appear even when indicatif
        // decided stderr is no terminal and hid the bars.
        let lines = summary_lines(&self.palette, outcome);
        if st.captured.is_none() {
            let _ = Term::stderr().write_line("");
        }
        write_direct(&mut st, lines);
    }
}

/// Lines straight to stderr, past indicatif (or to the test's capture).
fn write_direct(st: &mut State, lines: Vec<String>) {
    if let Some(captured) = &mut st.captured {
        captured.extend(lines);
        return;
    }
    let term = Term::stderr();
    for line in lines {
        let _ = term.write_line(&line);
    }
    let _ = term.flush();
}

/// The run bar, drawn at each tick within the terminal's width.
fn run_style(name: &Arc<Mutex<String>>, screen: &Screen, palette: &Palette) -> ProgressStyle {
    let (name, screen, palette) = (name.clone(), screen.clone(), palette.clone());
    let draw = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let (_, cols) = screen.size();
        let pos = state.pos();
        let len = state.len().unwrap_or(pos);
        let line = run_line(&lock(&name), pos, len, state.elapsed(), cols, &palette);
        let _ = w.write_str(&line);
    };
    ProgressStyle::with_template("{run}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("run", draw)
}

#[cfg(test)]
mod tests {
    use super::summary::tests::{outcome, report};
    use super::*;
    use crate::event::{OutputLine, Stream};

    impl TtyReporter {
        /// A view that draws nothing (`target` is always hidden here).
        fn with_target(
            total_steps: usize,
            color: bool,
            _target: indicatif::ProgressDrawTarget,
        ) -> TtyReporter {
            let opts = TtyOptions {
                color,
                tail: 3,
                ..TtyOptions::default()
            };
            Self::with_screen(total_steps, opts, Screen::hidden(), None)
        }
    }

    /// A reporter drawing on a `rows` × `cols` buffer; what it wrote.
    fn on_buffer(
        total: usize,
        opts: TtyOptions,
        rows: u16,
        cols: u16,
    ) -> (TtyReporter, Arc<Mutex<String>>) {
        let written = Arc::new(Mutex::new(String::new()));
        let screen = Screen::buffer(rows, cols, written.clone());
        let r = TtyReporter::with_screen(total, opts, screen, None);
        r.lock().captured = Some(Vec::new());
        (r, written)
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

    fn line<'a>(text: &'a str) -> OutputLine<'a> {
        OutputLine {
            stream: Stream::Stdout,
            line: text,
            partial: false,
        }
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
    fn a_finished_step_shows_on_the_run_bar_at_once() {
        let (r, written) = on_buffer(2, TtyOptions::default(), 24, 80);
        r.event(&event(EventKind::RunStarted));
        r.event(&started("a", None, None));
        r.event(&finished("a", Status::Succeeded, None));
        // No tick has run yet: the frame drawn for `✓ a` has the new count.
        let text = written.lock().unwrap().clone();
        let after = &text[text.rfind("✓ a").expect("step line")..];
        assert!(after.contains("1/2 steps"), "{text:?}");
    }

    #[test]
    fn a_running_step_shows_its_latest_lines() {
        let opts = TtyOptions {
            tail: 2,
            ..TtyOptions::default()
        };
        let (r, written) = on_buffer(1, opts, 24, 50);
        r.event(&event(EventKind::RunStarted));
        r.event(&started("build", None, None));
        let many: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let lines: Vec<_> = many.iter().map(|l| line(l)).collect();
        r.output(&Output {
            step_id: "build",
            lines: &lines,
        });
        let long = "y".repeat(300);
        r.output(&Output::one("build", &line(&long)));
        // Only what is kept was copied out of the batch.
        assert_eq!(
            r.lock().live["build"].lock().unwrap().tail.lines.len(),
            TAIL_LINES
        );
        r.lock().running["build"].bar.force_draw();
        let text = written.lock().unwrap().clone();
        let frame = &text[text.rfind("build").expect("spinner")..];
        assert!(frame.contains("│ line 999"), "{frame:?}");
        assert!(frame.contains("│ yyy"), "{frame:?}");
        assert!(!frame.contains("line 998"), "{frame:?}");
        // A step that ends well keeps only its ✓ line.
        r.event(&finished("build", Status::Succeeded, None));
        r.summary(&outcome(Status::Succeeded, vec![], &[]));
        let text = written.lock().unwrap().clone();
        let printed = &text[text.rfind("✓ build").expect("step line")..];
        assert!(!printed.contains("│"), "{printed:?}");
    }

    #[test]
    fn verbose_prints_every_line_above_the_bars() {
        let opts = TtyOptions {
            verbose: true,
            tail: 3,
            ..TtyOptions::default()
        };
        let (r, written) = on_buffer(1, opts, 24, 80);
        r.event(&event(EventKind::RunStarted));
        r.event(&started("build", None, None));
        let lines = [line("one"), line("\x1b[1mtwo\x1b[0m")];
        r.output(&Output {
            step_id: "build",
            lines: &lines,
        });
        r.lock().running["build"].bar.force_draw();
        let text = written.lock().unwrap().clone();
        assert!(text.contains("[build] one"), "{text:?}");
        assert!(text.contains("[build] two"), "{text:?}");
        // Not again under the spinner.
        assert!(!text.contains("│ one"), "{text:?}");
    }

    #[test]
    fn quiet_shows_failures_only() {
        let opts = TtyOptions {
            quiet: true,
            ..TtyOptions::default()
        };
        let (r, written) = on_buffer(2, opts, 24, 80);
        r.event(&event(EventKind::RunStarted));
        r.event(&started("ok", None, None));
        r.event(&started("bad", None, None));
        assert!(r.lock().running.is_empty(), "no spinners");
        r.output(&Output::one("bad", &line("the cause")));
        r.event(&finished("ok", Status::Succeeded, None));
        r.event(&finished("bad", Status::Failed, None));
        let text = written.lock().unwrap().clone();
        assert!(!text.contains("✓ ok"), "{text:?}");
        assert!(text.contains("✗ bad"), "{text:?}");
        assert!(text.contains("│ the cause"), "{text:?}");
        assert_eq!(r.run_bar.position(), 2);
    }

    #[test]
    fn an_allowed_failure_says_so() {
        let (r, written) = on_buffer(2, TtyOptions::default(), 24, 80);
        r.event(&event(EventKind::RunStarted));
        for id in ["lint", "test"] {
            r.event(&started(id, None, None));
            let mut end = finished(id, Status::Failed, None);
            if let EventKind::StepFinished { outcome, .. } = &mut end.kind {
                outcome.allowed = id == "lint";
            }
            r.event(&end);
        }
        let text = written.lock().unwrap().clone();
        assert!(text.contains("✗ lint (allowed)"), "{text:?}");
        assert!(text.contains("✗ test"), "{text:?}");
        assert!(!text.contains("test (allowed)"), "{text:?}");
    }

    #[test]
    fn a_notice_goes_above_the_bars() {
        let (r, written) = on_buffer(1, TtyOptions::default(), 24, 80);
        r.event(&event(EventKind::RunStarted));
        r.event(&started("a", None, None));
        r.notice("cancelling: stopping running steps");
        let text = written.lock().unwrap().clone();
        let at = text.rfind("cancelling").expect("notice");
        // The bars are drawn again after (below) it.
        assert!(text[at..].contains("⠋ a"), "{text:?}");
    }

    #[test]
    fn a_notice_is_not_lost_while_the_view_is_paused() {
        let (r, written) = on_buffer(1, TtyOptions::default(), 24, 80);
        r.event(&event(EventKind::RunStarted));
        r.pause(true);
        r.notice("cancelling");
        assert!(!written.lock().unwrap().contains("cancelling"));
        assert_eq!(
            r.lock().captured.as_deref(),
            Some(&["cancelling".to_string()][..])
        );
    }

    #[test]
    fn events_drive_spinners_and_run_bar() {
        let r = TtyReporter::with_target(2, false, indicatif::ProgressDrawTarget::hidden());
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
            assert_eq!(
                st.live["build"].lock().unwrap().tail.lines.len(),
                TAIL_LINES
            );
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
            assert!(st.live.is_empty());
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
