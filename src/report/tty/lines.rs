//! The text of the live view, as pure functions of what is known and of
//! the terminal's width: a running step's spinner line and its latest
//! output, the run bar, a finished step's permanent line.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use console::{measure_text_width, truncate_str};

use super::super::short_duration;
use crate::event::Status;

/// Output lines kept per step (both streams, arrival order).
pub(super) const TAIL_LINES: usize = 20;
/// Of those, how many are shown under a failed step.
pub(super) const TAIL_SHOWN: usize = 10;
/// Longer lines are cut so one runaway line cannot hold megabytes.
pub(super) const MAX_LINE_CHARS: usize = 400;
/// The run bar's width when the terminal has room for it.
const BAR_WIDTH: usize = 30;
/// Spinner frames, one per 100ms.
const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Before each live output line under a spinner.
const TAIL_MARK: &str = "    │ ";

pub(super) use crate::report::palette::{paint, Palette};

/// The last lines a step printed, bounded to `cap` lines.
#[derive(Debug)]
pub(super) struct Tail {
    pub(super) lines: VecDeque<String>,
    cap: usize,
}

impl Tail {
    pub(super) fn new(cap: usize) -> Self {
        Tail {
            lines: VecDeque::with_capacity(cap.min(TAIL_LINES)),
            cap,
        }
    }

    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    pub(super) fn push(&mut self, line: &str) {
        if self.cap == 0 {
            return;
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(sanitize(line, MAX_LINE_CHARS));
    }

    /// The last `n` lines, oldest first.
    pub(super) fn last(&self, n: usize) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .skip(self.lines.len().saturating_sub(n))
            .map(String::as_str)
    }
}

/// A step's line as a terminal would leave it, safe to draw between our
/// own cursor movements: what follows the last carriage return (progress
/// meters redraw a line that way), without escape codes (they would fight
/// with our styling and cursor), tabs as spaces, no other control
/// characters, at most `max_chars` characters.
pub(super) fn sanitize(line: &str, max_chars: usize) -> String {
    let shown = line
        .rsplit('\r')
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let plain = console::strip_ansi_codes(shown);
    let mut out = String::with_capacity(plain.len().min(max_chars.saturating_mul(4)));
    for (n, c) in plain.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        match c {
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to `cols` terminal columns.
pub(super) fn fit(text: &str, cols: usize) -> String {
    truncate_str(text, cols, "…").into_owned()
}

/// A running step: `  ⠋ build 1.2s attempt 2/3`, then its latest `shown`
/// output lines, each within `cols` columns.
pub(super) struct Spinner<'a> {
    pub(super) id: &'a str,
    pub(super) info: &'a str,
    pub(super) elapsed: Duration,
    pub(super) tail: &'a Tail,
    pub(super) shown: usize,
}

impl Spinner<'_> {
    pub(super) fn render(&self, cols: usize, p: &Palette) -> String {
        let frame = FRAMES[(self.elapsed.as_millis() / 100) as usize % FRAMES.len()];
        let indent = indent(self.id);
        let el = short_duration(self.elapsed);
        // "  ⠋ " before the id, " 1.2s" after it.
        let fixed = indent.len() + 4 + 1 + el.len();
        let id = fit(self.id, cols.saturating_sub(fixed).max(1));
        let mut s = format!(
            "{indent}  {} {} {}",
            paint(&p.accent, frame),
            paint(&p.bold, &id),
            paint(&p.dim, &el)
        );
        let used = fixed + measure_text_width(&id);
        if !self.info.is_empty() && used + 2 < cols {
            let info = fit(self.info, cols - used - 1);
            let _ = write!(s, " {}", paint(&p.dim, &info));
        }
        let mark = format!("{indent}{TAIL_MARK}");
        let room = cols.saturating_sub(measure_text_width(&mark));
        if room > 0 {
            for l in self.tail.last(self.shown) {
                let _ = write!(s, "\n{}", paint(&p.dim, &format!("{mark}{}", fit(l, room))));
            }
        }
        s
    }
}

/// How many output lines fit under each of `running` spinners on a
/// terminal of `rows` rows, at most `wanted`: the run bar and the spinner
/// lines come first, and indicatif drops whatever does not fit, from the
/// bottom (the run bar first).
pub(super) fn tail_budget(wanted: usize, running: usize, rows: usize) -> usize {
    if running == 0 {
        return wanted;
    }
    // One row for the run bar, one for the cursor's line.
    let free = rows.saturating_sub(2 + running);
    wanted.min(free / running)
}

/// `release [=====>      ] 2/5 steps · 3.2s`, within `cols` columns: the bar
/// shrinks, then goes, then the name is cut.
pub(super) fn run_line(
    name: &str,
    pos: u64,
    len: u64,
    elapsed: Duration,
    cols: usize,
    p: &Palette,
) -> String {
    let counts = format!("{pos}/{len} steps · {}", short_duration(elapsed));
    let counts_w = measure_text_width(&counts);
    if counts_w >= cols {
        return fit(&counts, cols);
    }
    let name = fit(name, cols - counts_w - 1);
    let name_w = measure_text_width(&name);
    // "name [bar] counts"
    let bar = BAR_WIDTH.min(cols.saturating_sub(name_w + counts_w + 4));
    let mut s = paint(&p.bold, &name);
    if bar >= 5 {
        let filled = (bar as u64 * pos.min(len))
            .checked_div(len)
            .map_or(0, |f| f as usize);
        let mut drawn = "=".repeat(filled);
        if filled < bar {
            drawn.push(if pos > 0 { '>' } else { ' ' });
            drawn.push_str(&" ".repeat(bar - filled - 1));
        }
        let _ = write!(s, " [{}]", paint(&p.accent, &drawn));
    }
    let _ = write!(s, " {counts}");
    s
}

/// How a step ended, for its permanent line.
pub(super) struct StepEnd<'a> {
    pub(super) id: &'a str,
    pub(super) status: Status,
    pub(super) not_started: bool,
    pub(super) duration: Option<Duration>,
    pub(super) attempts: u32,
    pub(super) max_attempts: u32,
    pub(super) error: Option<&'a str>,
    /// A failure `continue_on_error` lets the run go on from.
    pub(super) allowed: bool,
}

impl StepEnd<'_> {
    /// `✓ build 1.2s`, `✗ test 3.4s (3 attempts) — exit code 1`, `↷ deploy skipped`,
    /// `✗ lint (allowed) 0.3s — exit code 1`.
    pub(super) fn line(&self, p: &Palette) -> String {
        format!("{}{}", indent(self.id), self.unindented(p))
    }

    fn unindented(&self, p: &Palette) -> String {
        if self.not_started {
            // The whole line is dim: nothing happened here.
            return paint(&p.dim, &format!("↷ {} {}", self.id, self.status.as_str()));
        }
        let (mark, style, word) = match self.status {
            Status::Failed if self.allowed => ("✗", &p.warn, None),
            Status::Succeeded => ("✓", &p.ok, None),
            Status::Failed => ("✗", &p.bad, None),
            Status::Cancelled => ("✗", &p.warn, Some("cancelled")),
            Status::Skipped => ("↷", &p.dim, Some("skipped")),
            Status::Cached => ("⚡", &p.cached, Some("cached")),
            Status::Compensated => ("↺", &p.warn, Some("compensated")),
            other => ("•", &p.dim, Some(other.as_str())),
        };
        let mut s = format!("{} {}", paint(style, mark), paint(&p.bold, self.id));
        if self.allowed && self.status == Status::Failed {
            let _ = write!(s, " {}", paint(&p.warn, "(allowed)"));
        }
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

/// `deploy` for the item `deploy[2]`; `None` for a top-level step.
pub(super) fn parent_of(id: &str) -> Option<&str> {
    id.split_once('[').map(|(parent, _)| parent)
}

/// A step of a child run, shown as `parent-step/child-step`.
pub(super) fn is_nested(id: &str) -> bool {
    id.contains('/')
}

/// Child runs' steps are indented under the step that runs them.
pub(super) fn indent(id: &str) -> String {
    "  ".repeat(id.matches('/').count())
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn lines_lose_what_would_move_the_cursor() {
        assert_eq!(sanitize("10%\r55%\r", 50), "55%");
        assert_eq!(sanitize("a\tb\x07c\x1b[2Jd", 50), "a bcd");
        assert_eq!(sanitize("\r", 50), "");
    }

    fn tail(lines: &[&str]) -> Tail {
        let mut t = Tail::new(TAIL_LINES);
        for l in lines {
            t.push(l);
        }
        t
    }

    #[test]
    fn a_spinner_shows_the_latest_lines_within_the_width() {
        let p = Palette::new(false);
        let t = tail(&["one", "two", &"x".repeat(200)]);
        let s = Spinner {
            id: "build",
            info: "attempt 2/3",
            elapsed: Duration::from_millis(1200),
            tail: &t,
            shown: 2,
        };
        let text = s.render(40, &p);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "  ⠹ build 1.2s attempt 2/3");
        assert_eq!(lines[1], "    │ two");
        assert!(lines[2].starts_with("    │ xxx") && lines[2].ends_with('…'));
        for l in &lines {
            assert!(measure_text_width(l) <= 40, "{l:?}");
        }
        // Narrow: the id is cut, nothing wraps.
        let long = Spinner {
            id: "a-very-long-step-identifier-that-goes-on",
            ..s
        };
        for l in long.render(20, &p).lines() {
            assert!(measure_text_width(l) <= 20, "{l:?}");
        }
        let none = Spinner { shown: 0, ..s };
        assert_eq!(none.render(40, &p).lines().count(), 1);
    }

    #[test]
    fn tails_give_way_to_the_bars_on_a_short_terminal() {
        assert_eq!(tail_budget(3, 2, 24), 3);
        assert_eq!(tail_budget(3, 6, 24), 2);
        assert_eq!(tail_budget(3, 20, 24), 0);
        assert_eq!(tail_budget(3, 0, 5), 3);
    }

    #[test]
    fn the_run_line_fits_any_width() {
        let p = Palette::new(false);
        let el = Duration::from_millis(3200);
        assert_eq!(
            run_line("release", 2, 4, el, 80, &p),
            format!(
                "release [{}>{}] 2/4 steps · 3.2s",
                "=".repeat(15),
                " ".repeat(14)
            )
        );
        for cols in [1, 5, 10, 20, 30, 50, 60] {
            let l = run_line("a-workflow-with-a-long-name", 3, 10, el, cols, &p);
            assert!(measure_text_width(&l) <= cols, "{cols}: {l:?}");
        }
        assert_eq!(run_line("w", 0, 0, el, 80, &p).matches('=').count(), 0);
        assert_eq!(run_line("w", 4, 4, el, 80, &p).matches('=').count(), 30);
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
            allowed: false,
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
        let allowed = StepEnd {
            allowed: true,
            ..end(Status::Failed, false, Some("exit code 1"))
        };
        assert_eq!(allowed.line(&p), "✗ build (allowed) 1.2s — exit code 1");
    }
}
