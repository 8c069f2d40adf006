//! `--output json`: one JSON object per event on stdout and nothing else.
//! Step output goes to stderr, prefixed, so stdout stays machine-readable.

use std::io::Write;

use crate::event::{Event, Output, RunSummary, Sink};

use super::Reporter;

pub(crate) struct JsonReporter;

impl Sink for JsonReporter {
    fn event(&self, ev: &Event) {
        if let Ok(mut line) = serde_json::to_string(ev) {
            line.push('\n');
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }

    fn output(&self, out: &Output<'_>) {
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
