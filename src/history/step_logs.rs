//! Step logs (`logs/<run>/<step>.log`): what each step printed, one write
//! per batch, on the writer thread (off the engine's thread: writing into
//! the page cache is the dearest part of passing output through; only when
//! nothing else runs does the engine's thread commit, and write, itself),
//! in order with the events, so a step's output is in its file before its
//! end is committed and `kill -9` loses none of it. How much output may wait for
//! the writer is bounded by [`Backlog`].

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use std::sync::Condvar;
use std::time::Duration;

use crate::event::{Event, EventKind, Output};

pub(super) struct StepLogs {
    /// `None`: no logs are written (an in-memory history).
    dir: Option<PathBuf>,
    /// `runs.attempt` of this run attempt.
    run_attempt: i64,
    /// Attempts each step made in earlier attempts of the run (on resume),
    /// so that attempts are numbered over the whole run.
    before: HashMap<String, i64>,
    /// Used by whoever holds the writer's core alone: no lock of its own.
    open: Open,
}

#[derive(Default)]
struct Open {
    /// Open logs; a step's file is closed when the step ends, so a run of
    /// thousands of steps never holds thousands of descriptors.
    files: HashMap<String, File>,
    dir_ready: bool,
    /// The first write that failed; later ones are given up.
    error: Option<String>,
}

impl StepLogs {
    pub(super) fn new(
        dir: Option<PathBuf>,
        run_attempt: i64,
        before: HashMap<String, i64>,
    ) -> Self {
        StepLogs {
            dir,
            run_attempt,
            before,
            open: Open::default(),
        }
    }

    /// What an event means for the logs: a header before a new attempt's
    /// output, and the end of a step's log. Called before the event is
    /// recorded, in order with the step's output.
    pub(super) fn event(&mut self, ev: &Event) {
        if self.dir.is_none() {
            return;
        }
        if let Some((log, header)) = self.attempt_header(ev) {
            self.write(&log, &header);
        }
        let ended = match &ev.kind {
            EventKind::StepFinished { step, outcome } if outcome.status.is_terminal() => {
                Some(step.clone())
            }
            EventKind::CompensationFinished { step, .. } => Some(format!("{step}.compensate")),
            _ => None,
        };
        if let Some(step) = ended {
            self.open.files.remove(&step);
        }
    }

    /// The first error, if a write failed.
    pub(super) fn error(&self) -> Option<String> {
        self.open.error.clone()
    }

    /// Append `text` (whole lines) to a step's log.
    pub(super) fn write(&mut self, log: &str, text: &str) {
        let Some(dir) = &self.dir else {
            return;
        };
        if self.open.error.is_some() {
            return;
        }
        if let Err(e) = append(&mut self.open, dir, log, text) {
            self.open.error = Some(e);
        }
    }

    /// The line that separates an attempt's output from the one before it
    /// (`── attempt 2 ──`, `── attempt 3 (resumed …) ──`), and the log it
    /// goes in. The first attempt of a step that never ran before gets none.
    fn attempt_header(&self, ev: &Event) -> Option<(String, String)> {
        let (log, before, attempt, resumed) = match &ev.kind {
            EventKind::StepStarted {
                step,
                attempt: Some(1),
                ..
            } if self.run_attempt > 1 => (step.clone(), self.before(step), 1, true),
            EventKind::StepRetrying { step, attempt, .. } => {
                (step.clone(), self.before(step), *attempt, false)
            }
            EventKind::CompensationStarted { step, attempt, .. } if *attempt > 1 => {
                (format!("{step}.compensate"), 0, *attempt, false)
            }
            _ => return None,
        };
        if resumed && before == 0 {
            return None;
        }
        let n = before + i64::from(attempt);
        let header = if resumed {
            let at = humantime::format_rfc3339_seconds(ev.time);
            format!("── attempt {n} (resumed {at}) ──\n")
        } else {
            format!("── attempt {n} ──\n")
        };
        Some((log, header))
    }

    fn before(&self, step: &str) -> i64 {
        self.before.get(step).copied().unwrap_or(0)
    }
}

fn append(open: &mut Open, dir: &std::path::Path, log: &str, text: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = || dir.join(format!("{log}.log"));
    if !open.files.contains_key(log) {
        if !open.dir_ready {
            super::store::create_private_dir(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            open.dir_ready = true;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path())
            .map_err(|e| format!("cannot write {}: {e}", path().display()))?;
        open.files.insert(log.to_string(), f);
    }
    let Some(f) = open.files.get_mut(log) else {
        return Ok(());
    };
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path().display()))
}

/// A batch of a step's output as the text of its log: each line and `\n`.
pub(super) fn text_of(out: &Output<'_>) -> String {
    let len = out.lines.iter().map(|l| l.line.len() + 1).sum();
    let mut text = String::with_capacity(len);
    for l in out.lines {
        text.push_str(l.line);
        text.push('\n');
    }
    text
}

/// Output bytes on their way to the writer thread, bounded: a step printing
/// faster than the disk takes it waits (as it would for a slow terminal)
/// rather than growing memory (a gigabyte printed was 147 MiB of queue).
pub(super) struct Backlog {
    bytes: Mutex<usize>,
    drained: Condvar,
}

/// Output that may wait for the writer at most.
const BACKLOG: usize = 4 * 1024 * 1024;

impl Backlog {
    pub(super) fn new() -> Self {
        Backlog {
            bytes: Mutex::new(0),
            drained: Condvar::new(),
        }
    }

    /// Count `n` more bytes in, once there is room (or the writer is gone:
    /// `alive` turns false, and nothing waits for it any more).
    pub(super) fn reserve(&self, n: usize, alive: impl Fn() -> bool) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        while *bytes > 0 && *bytes + n > BACKLOG && alive() {
            bytes = match self.drained.wait_timeout(bytes, Duration::from_millis(50)) {
                Ok((b, _)) => b,
                Err(e) => e.into_inner().0,
            };
        }
        *bytes += n;
    }

    /// `n` bytes are written.
    pub(super) fn release(&self, n: usize) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        *bytes = bytes.saturating_sub(n);
        self.drained.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_backlog_waits_for_room_and_never_for_a_gone_writer() {
        let b = Arc::new(Backlog::new());
        b.reserve(BACKLOG, || true);
        let b2 = b.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            b2.release(BACKLOG);
        });
        let t = std::time::Instant::now();
        b.reserve(1024, || true);
        assert!(
            t.elapsed() >= Duration::from_millis(90),
            "it waited for room"
        );
        writer.join().unwrap();
        b.release(1024);
        // Full again, and the writer is gone: no wait.
        b.reserve(BACKLOG, || true);
        let t = std::time::Instant::now();
        b.reserve(1024, || false);
        assert!(t.elapsed() < Duration::from_millis(50));
    }
}
