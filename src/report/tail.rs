//! The last lines of each running step, held back until the step ends:
//! `-q` prints them only for a step that failed (the cause must not be
//! hidden), GitHub Actions prints them as one `::group::`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::event::wire::Name;
use crate::event::{Event, EventKind, Output, Status};

/// `-q`: what is kept of a running step's output: its last lines.
pub(crate) const QUIET_LINES: usize = 50;
/// `-q`: and at most this much of them (but always the last line).
pub(crate) const QUIET_BYTES: usize = 64 * 1024;

/// A step's last lines, bounded in count and bytes. The lines live in one
/// buffer, each ended by `\n`: no allocation per line.
#[derive(Debug)]
pub(crate) struct Tail {
    buf: String,
    /// Where the oldest kept line starts in `buf`.
    start: usize,
    lines: usize,
    /// Lines let go to stay within the bounds.
    pub(crate) dropped: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl Tail {
    pub(crate) fn new(max_lines: usize, max_bytes: usize) -> Tail {
        Tail {
            buf: String::new(),
            start: 0,
            lines: 0,
            dropped: 0,
            max_lines: max_lines.max(1),
            max_bytes,
        }
    }

    pub(crate) fn push(&mut self, line: &str) {
        self.buf.push_str(line);
        self.buf.push('\n');
        self.lines += 1;
        while self.lines > self.max_lines
            || (self.lines > 1 && self.buf.len() - self.start > self.max_bytes)
        {
            let rest = &self.buf[self.start..];
            let first = rest.find('\n').map_or(rest.len(), |n| n + 1);
            self.start += first;
            self.lines -= 1;
            self.dropped += 1;
        }
        // Move the kept lines to the front once the dead half is the larger:
        // each byte moves at most once on average.
        if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// The kept lines, oldest first, without their line endings.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &str> {
        self.buf[self.start..].split_terminator('\n')
    }

    /// How many lines are kept.
    pub(crate) fn len(&self) -> usize {
        self.lines
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The kept text's size, for a caller sizing one buffer for it.
    pub(crate) fn text_len(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// What a step's (or compensation's) end hands back: its kept lines.
pub(crate) struct Ended {
    /// The output id the lines were printed under (`id`, `id[i]`,
    /// `id.compensate`).
    pub(crate) id: String,
    pub(crate) tail: Tail,
    /// It failed: not cancelled, not skipped, not succeeded.
    pub(crate) failed: bool,
}

/// The tails of every running step.
pub(crate) struct Tails {
    map: Mutex<HashMap<String, Tail>>,
    max_lines: usize,
    max_bytes: usize,
    /// A new attempt starts with no lines: the failure shown is the last
    /// attempt's, and so are the lines shown with it.
    fresh_attempts: bool,
}

impl Tails {
    pub(crate) fn new(max_lines: usize, max_bytes: usize, fresh_attempts: bool) -> Tails {
        Tails {
            map: Mutex::new(HashMap::new()),
            max_lines,
            max_bytes,
            fresh_attempts,
        }
    }

    /// The bounds `-q` keeps.
    pub(crate) fn quiet() -> Tails {
        Tails::new(QUIET_LINES, QUIET_BYTES, true)
    }

    pub(crate) fn push(&self, out: &Output<'_>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        // One lookup per batch, and an owned key only for a new step.
        let tail = match map.get_mut(out.step_id) {
            Some(t) => t,
            None => map
                .entry(out.step_id.to_string())
                .or_insert_with(|| Tail::new(self.max_lines, self.max_bytes)),
        };
        for l in out.lines {
            tail.push(l.line);
        }
    }

    /// Follow a step's life: forget an earlier attempt's lines when a new
    /// attempt starts; hand back the lines of a step (or compensation)
    /// that ended.
    pub(crate) fn on_event(&self, ev: &Event) -> Option<Ended> {
        let (id, failed) = match &ev.kind {
            EventKind::StepStarted {
                step,
                attempt: Some(a),
                ..
            } if self.fresh_attempts && *a > 1 => {
                self.take(step);
                return None;
            }
            // What a retried attempt printed is in: the next one starts
            // afresh (no `StepStarted` is sent for it).
            EventKind::StepRetrying { step, .. } if self.fresh_attempts => {
                self.take(step);
                return None;
            }
            EventKind::CompensationStarted { step, attempt, .. }
                if self.fresh_attempts && *attempt > 1 =>
            {
                self.take(&format!("{step}.compensate"));
                return None;
            }
            EventKind::StepFinished { step, outcome } => (
                step.clone(),
                Name::of(&ev.kind) == Name::StepFailed && outcome.status == Status::Failed,
            ),
            EventKind::CompensationFinished { step, outcome } => (
                format!("{step}.compensate"),
                outcome.status != Status::Succeeded,
            ),
            _ => return None,
        };
        let tail = self.take(&id)?;
        Some(Ended { id, tail, failed })
    }

    fn take(&self, id: &str) -> Option<Tail> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::sample;
    use crate::event::{OutputLine, Stream};

    fn lines(t: &Tail) -> Vec<&str> {
        t.lines().collect()
    }

    #[test]
    fn keeps_the_last_lines_within_both_bounds() {
        let mut t = Tail::new(3, 1000);
        for i in 0..10 {
            t.push(&format!("line {i}"));
        }
        assert_eq!(lines(&t), ["line 7", "line 8", "line 9"]);
        assert_eq!(t.dropped, 7);

        let mut t = Tail::new(100, 10);
        for l in ["aaaa", "bbbb", "cccc"] {
            t.push(l);
        }
        // "bbbb\ncccc\n" is exactly 10 bytes.
        assert_eq!(lines(&t), ["bbbb", "cccc"]);
        // A line longer than the byte bound is still kept, alone.
        t.push(&"x".repeat(50));
        assert_eq!(lines(&t), ["x".repeat(50)]);
        assert_eq!(t.dropped, 3);
    }

    #[test]
    fn memory_stays_bounded_over_a_long_output() {
        let mut t = Tail::new(50, 64 * 1024);
        let line = "0".repeat(60);
        for _ in 0..200_000 {
            t.push(&line);
        }
        assert_eq!(t.lines().count(), 50);
        assert!(t.buf.capacity() < 64 * 1024, "{}", t.buf.capacity());
        assert!(t.lines().all(|l| l == line));
    }

    #[test]
    fn empty_lines_are_lines() {
        let mut t = Tail::new(5, 100);
        t.push("");
        t.push("a");
        t.push("");
        assert_eq!(lines(&t), ["", "a", ""]);
    }

    fn push(tails: &Tails, id: &str, line: &str) {
        let l = OutputLine {
            stream: Stream::Stdout,
            line,
            partial: false,
        };
        tails.push(&Output::one(id, &l));
    }

    #[test]
    fn a_retry_forgets_the_failed_attempts_lines() {
        let tails = Tails::quiet();
        push(&tails, "a", "first attempt");
        assert!(tails
            .on_event(&sample::of(Name::StepRetrying, "a"))
            .is_none());
        push(&tails, "a", "second attempt");
        let ended = tails.on_event(&sample::of(Name::StepFailed, "a")).unwrap();
        assert_eq!(lines(&ended.tail), ["second attempt"]);
        assert_eq!(ended.tail.dropped, 0);
    }

    #[test]
    fn ends_hand_back_lines_and_retries_start_afresh() {
        let tails = Tails::quiet();
        push(&tails, "a", "first attempt");
        let retry = sample::event(EventKind::StepStarted {
            step: "a".into(),
            attempt: Some(2),
            max_attempts: Some(2),
        });
        assert!(tails.on_event(&retry).is_none());
        push(&tails, "a", "second attempt");
        let ended = tails.on_event(&sample::of(Name::StepFailed, "a")).unwrap();
        assert!(ended.failed);
        assert_eq!(lines(&ended.tail), ["second attempt"]);
        // Gone once handed back.
        assert!(tails.on_event(&sample::of(Name::StepFailed, "a")).is_none());

        push(&tails, "b", "fine");
        let ended = tails
            .on_event(&sample::of(Name::StepCompleted, "b"))
            .unwrap();
        assert!(!ended.failed);

        let mut cancelled = sample::of(Name::StepFailed, "c");
        cancelled.outcome_mut().status = Status::Cancelled;
        push(&tails, "c", "interrupted");
        assert!(!tails.on_event(&cancelled).unwrap().failed);

        push(&tails, "d.compensate", "undoing");
        let ended = tails
            .on_event(&sample::of(Name::CompensationFailed, "d"))
            .unwrap();
        assert!(ended.failed);
        assert_eq!(ended.id, "d.compensate");
    }
}
