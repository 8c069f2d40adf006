//! A run's sink stack: the masker on top, so no secret reaches a byte orch
//! writes, over a fanout to the history writer, the reporter, the
//! telemetry log file, the webhook and GitHub Actions' files. The history writer sits in a guard
//! that finishes it exactly once, on every path out of the run.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;

use crate::diag::Diag;
use crate::error::Error;
use crate::event::{Fanout, Sink};
use crate::exec::Restored;
use crate::history::writer::{HistorySink, WriterReport};
use crate::mask::{Masker, MaskingSink};
use crate::model::Workflow;
use crate::report::webhook::Webhook;
use crate::report::{self, OutputMode, Reporter};
use crate::settings::RunSettings;

/// Something that must be finished once, and says how that went.
pub(crate) trait Finish: Send + Sync {
    type Report;
    fn finish(&self) -> Self::Report;
}

impl Finish for HistorySink {
    type Report = WriterReport;
    fn finish(&self) -> WriterReport {
        HistorySink::finish(self)
    }
}

/// Finishes what it holds when asked, or else when dropped; never twice.
pub(crate) struct FinishGuard<T: Finish> {
    inner: Option<Arc<T>>,
}

impl<T: Finish> FinishGuard<T> {
    pub(crate) fn new(inner: Arc<T>) -> Self {
        FinishGuard { inner: Some(inner) }
    }

    /// The report, the first time; `None` once finished.
    pub(crate) fn finish(&mut self) -> Option<T::Report> {
        self.inner.take().map(|t| t.finish())
    }
}

impl<T: Finish> Drop for FinishGuard<T> {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The live view, plain lines or JSON, as the settings say.
pub(crate) fn reporter(
    settings: &RunSettings,
    wf: &Workflow,
    restore: &HashMap<String, Restored>,
) -> Arc<dyn Reporter> {
    match settings.output {
        OutputMode::Tty => {
            let restored = wf
                .steps
                .iter()
                .filter(|s| restore.contains_key(&s.id))
                .count();
            let opts = report::tty::TtyOptions {
                color: settings.color,
                tail: settings.tail,
                verbose: settings.verbose > 0,
                quiet: settings.quiet,
                // `orch run x > log`: the view stays on the terminal, the
                // log gets the lines.
                passthrough: !std::io::stdout().is_terminal(),
            };
            Arc::new(report::tty::TtyReporter::new(
                wf.steps.len() - restored,
                opts,
            ))
        }
        OutputMode::Plain => Arc::new(report::plain::PlainReporter::new(
            settings.github_actions,
            settings.quiet,
            settings.color_stdout,
        )),
        OutputMode::Json => Arc::new(report::json::JsonReporter::new(settings.quiet)),
    }
}

/// Every sink of one run.
pub(crate) struct Sinks {
    pub(crate) reporter: Arc<dyn Reporter>,
    /// The telemetry log file and the webhook: sinks that take the events
    /// of child runs too.
    pub(crate) observers: Vec<Arc<dyn Sink>>,
    pub(crate) webhook: Option<Arc<Webhook>>,
    /// Sinks of this run's own events only (GitHub Actions' files).
    parent_only: Vec<Arc<dyn Sink>>,
    history: FinishGuard<HistorySink>,
    history_sink: Arc<dyn Sink>,
}

impl Sinks {
    /// Takes charge of the history writer at once: from here on, any
    /// early return finishes it.
    pub(crate) fn new(history: Arc<HistorySink>, reporter: Arc<dyn Reporter>) -> Sinks {
        Sinks {
            reporter,
            observers: Vec::new(),
            webhook: None,
            parent_only: Vec::new(),
            history_sink: history.clone(),
            history: FinishGuard::new(history),
        }
    }

    /// `telemetry.log_to_file`.
    pub(crate) fn open_log(&mut self, path: &Path) -> Result<(), Error> {
        let f = report::logfile::LogFile::open(path).map_err(|e| {
            Error::environment(Diag::new(
                "io",
                format!("cannot open the telemetry log {}: {e}", path.display()),
            ))
        })?;
        self.observers.push(Arc::new(f));
        Ok(())
    }

    /// `--junit`: the report takes child runs' events too (their own suites).
    pub(crate) fn open_junit(&mut self, path: &Path) -> Result<(), Error> {
        let j = report::junit::JUnit::new(path).map_err(|e| {
            Error::environment(Diag::new(
                "io",
                format!("cannot write the JUnit report {}: {e}", path.display()),
            ))
        })?;
        self.observers.push(Arc::new(j));
        Ok(())
    }

    /// The webhook's delivery task lives on the run's runtime.
    pub(crate) fn start_webhook(&mut self, url: String, runtime: &tokio::runtime::Runtime) {
        let _in_runtime = runtime.enter();
        let w = Webhook::start(url);
        self.observers.push(w.clone());
        self.webhook = Some(w);
    }

    /// `GITHUB_ACTIONS=true`: the step summary and the outputs file.
    pub(crate) fn add_github(&mut self, files: &report::github::Files) {
        if files.any() {
            self.parent_only
                .push(Arc::new(report::github::GithubSink::new(files.clone())));
        }
    }

    /// What the engine writes to: the masker over everything.
    pub(crate) fn top(&self, masker: &Arc<Masker>) -> Arc<dyn Sink> {
        let mut all: Vec<Arc<dyn Sink>> = vec![self.history_sink.clone(), self.reporter.clone()];
        all.extend(self.observers.iter().cloned());
        all.extend(self.parent_only.iter().cloned());
        Arc::new(MaskingSink::new(Arc::new(Fanout(all)), masker.clone()))
    }

    /// Wait until the history is written; what went wrong, if anything.
    pub(crate) fn finish_history(&mut self) -> WriterReport {
        self.history.finish().unwrap_or_else(|| WriterReport {
            error: Some("the history writer was already finished".into()),
            illegal: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counted(AtomicUsize);

    impl Finish for Counted {
        type Report = usize;
        fn finish(&self) -> usize {
            self.0.fetch_add(1, Ordering::SeqCst) + 1
        }
    }

    #[test]
    fn a_guard_finishes_once_when_asked() {
        let c = Arc::new(Counted::default());
        let mut g = FinishGuard::new(c.clone());
        assert_eq!(g.finish(), Some(1));
        assert_eq!(g.finish(), None);
        drop(g);
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_guard_finishes_once_when_dropped() {
        let c = Arc::new(Counted::default());
        drop(FinishGuard::new(c.clone()));
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_early_return_finishes_the_history_writer() {
        let home = crate::history::Home {
            dir: std::path::PathBuf::from("/nonexistent"),
            in_memory: true,
        };
        let store = crate::history::Store::open(&home).unwrap();
        let history = HistorySink::start(
            store,
            crate::history::writer::WriterConfig {
                run_id: "r".into(),
                run_attempt: 1,
                steps: vec![],
                logs_dir: None,
                cache_max: 10,
                durations: false,
            },
        );
        let mut sinks = Sinks::new(
            history.clone(),
            Arc::new(report::json::JsonReporter::new(false)),
        );
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        // A log under a regular file cannot be opened.
        let err = sinks.open_log(&blocker.join("log")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        drop(sinks);
        // The writer is gone: finishing it again says so.
        let again = history.finish();
        assert_eq!(
            again.error.as_deref(),
            Some("the history writer could not start")
        );
    }
}
