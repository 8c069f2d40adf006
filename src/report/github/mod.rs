//! GitHub Actions' files: a Markdown summary of the run appended to
//! `$GITHUB_STEP_SUMMARY`, the workflow's outputs to `$GITHUB_OUTPUT`.
//! A sink under the masker, so both files get masked text only. It sees
//! the parent run's events: a child run is the row of the step that ran it.

mod markdown;
mod outputs;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::event::{Event, EventKind, Output, RunSummary, Sink, Status};

use super::tail::{Tail, Tails};

/// A failed step's last lines kept for the summary.
const TAIL_LINES: usize = 50;
/// And at most this much of them.
const TAIL_BYTES: usize = 16 * 1024;
/// Failed steps whose last lines are kept: the summary details the first.
const KEPT_FAILURES: usize = 5;

/// Where the files are; `None` outside GitHub Actions or when unset.
#[derive(Debug, Clone, Default)]
pub(crate) struct Files {
    pub(crate) summary: Option<PathBuf>,
    pub(crate) output: Option<PathBuf>,
}

impl Files {
    pub(crate) fn any(&self) -> bool {
        self.summary.is_some() || self.output.is_some()
    }
}

/// What a step's (or item's) end said, for its row.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) status: Status,
    pub(super) allowed: bool,
    pub(super) duration: Option<Duration>,
    pub(super) attempts: Option<u32>,
    /// It produced a cache entry (a `cached` status is a hit).
    pub(super) stored: bool,
    pub(super) error: Option<String>,
}

#[derive(Default)]
struct State {
    /// The run whose summary this is: the first run seen.
    run_id: Option<String>,
    rows: HashMap<String, Row>,
    /// The last lines of the first failed steps, in the order they failed.
    failed_tails: Vec<(String, Tail)>,
    written: bool,
}

pub(crate) struct GithubSink {
    files: Files,
    tails: Tails,
    state: Mutex<State>,
}

impl GithubSink {
    pub(crate) fn new(files: Files) -> GithubSink {
        GithubSink {
            files,
            tails: Tails::new(TAIL_LINES, TAIL_BYTES, true),
            state: Mutex::new(State::default()),
        }
    }

    fn finished(&self, ev: &Event, summary: &RunSummary, state: &mut State) {
        if state.written {
            return;
        }
        state.written = true;
        if let Some(path) = &self.files.summary {
            let existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let budget = markdown::budget(existing);
            let text = markdown::render(
                &markdown::Run {
                    run_id: &ev.run_id,
                    workflow: &ev.workflow,
                    summary,
                    rows: &state.rows,
                    tails: &state.failed_tails,
                },
                budget,
            );
            if !text.is_empty() {
                append(path, &text, "the run summary");
            }
        }
        if let Some(path) = &self.files.output {
            if let Some(outputs) = summary.event_outputs() {
                let text = outputs::render(outputs, &mut outputs::random_delimiter);
                if !text.is_empty() {
                    append(path, &text, "the workflow's outputs");
                }
            }
        }
    }
}

/// One write at the end of the file; a file that cannot be written is
/// said on stderr and never fails the run.
fn append(path: &Path, text: &str, what: &str) {
    let res = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = res {
        eprintln!("orch: cannot append {what} to {}: {e}", path.display());
    }
}

impl Sink for GithubSink {
    fn event(&self, ev: &Event) {
        let ended = self.tails.on_event(ev);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        match &state.run_id {
            None => state.run_id = Some(ev.run_id.to_string()),
            Some(id) if **id != *ev.run_id => return,
            Some(_) => {}
        }
        match &ev.kind {
            EventKind::StepFinished { step, outcome } => {
                state.rows.insert(
                    step.clone(),
                    Row {
                        status: outcome.status,
                        allowed: outcome.allowed,
                        duration: outcome.duration,
                        attempts: outcome.attempts,
                        stored: outcome.cache.is_some(),
                        error: outcome.error.clone(),
                    },
                );
                if let Some(ended) = ended {
                    if ended.failed && state.failed_tails.len() < KEPT_FAILURES {
                        state.failed_tails.push((ended.id, ended.tail));
                    }
                }
            }
            EventKind::RunFinished { summary } => self.finished(ev, summary, state),
            _ => {}
        }
    }

    fn output(&self, out: &Output<'_>) {
        self.tails.push(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{sample, OutputLine, Stream};
    use std::sync::Arc;

    fn line(sink: &GithubSink, id: &str, text: &str) {
        let l = OutputLine {
            stream: Stream::Stdout,
            line: text,
            partial: false,
        };
        sink.output(&Output::one(id, &l));
    }

    use crate::event::sample::report;

    #[test]
    fn a_run_appends_its_summary_and_outputs_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            summary: Some(dir.path().join("summary.md")),
            output: Some(dir.path().join("output")),
        };
        std::fs::write(dir.path().join("summary.md"), "before\n").unwrap();
        let sink = GithubSink::new(files);
        sink.event(&sample::event(EventKind::RunCreated));
        line(&sink, "build", "compiling");
        line(&sink, "build", "error: boom");
        let mut failed = sample::of(crate::event::wire::Name::StepFailed, "build");
        failed.outcome_mut().error = Some("exited with code 2".into());
        failed.outcome_mut().attempts = Some(2);
        sink.event(&failed);
        let mut summary = sample::summary(Status::Failed);
        summary.steps = vec![report("build", Status::Failed)];
        summary.failures = vec!["build".into()];
        summary
            .outputs
            .insert("v".into(), serde_json::json!("a\nb"));
        let end = sample::event(EventKind::RunFinished {
            summary: Arc::new(summary),
        });
        sink.event(&end);
        sink.event(&end);
        let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(md.starts_with("before\n"), "{md}");
        assert_eq!(md.matches("| `build` |").count(), 1, "{md}");
        assert!(md.contains("error: boom"), "{md}");
        assert!(md.contains("<details"), "{md}");
        let out = std::fs::read_to_string(dir.path().join("output")).unwrap();
        assert!(out.starts_with("v<<ghadelimiter_"), "{out}");
        assert!(out.contains("\na\nb\n"), "{out}");
    }
}
