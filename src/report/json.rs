//! `--output json`: one JSON object per event on stdout and nothing else.
//! Step output goes to stderr, prefixed, so stdout stays machine-readable.
//! `-q` leaves the events whole (they are for programs) and thins only the
//! step output: the last lines of a step that failed, nothing of the rest.

use std::io::Write;

use crate::event::{Event, Output, RunSummary, Sink};

use super::tail::Tails;
use super::Reporter;

pub(crate) struct JsonReporter {
    /// `-q`: each running step's last lines, printed if it fails.
    quiet: Option<Tails>,
}

impl JsonReporter {
    pub(crate) fn new(quiet: bool) -> Self {
        JsonReporter {
            quiet: quiet.then(Tails::quiet),
        }
    }
}

impl Sink for JsonReporter {
    fn event(&self, ev: &Event) {
        if let Some(ended) = self.quiet.as_ref().and_then(|t| t.on_event(ev)) {
            if ended.failed {
                // Before the event that says it failed, as without `-q`.
                let text = super::tail_text(&format!("[{}] ", ended.id), &ended.tail);
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
        if let Ok(mut line) = serde_json::to_string(ev) {
            line.push('\n');
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }

    fn output(&self, out: &Output<'_>) {
        if let Some(tails) = &self.quiet {
            tails.push(out);
            return;
        }
        let _ = std::io::stderr()
            .lock()
            .write_all(super::prefixed(out).as_bytes());
    }
}

impl Reporter for JsonReporter {
    fn summary(&self, _outcome: &RunSummary) {
        // The run's last event already carries the verdict.
    }
}
