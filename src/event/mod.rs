//! What the engine says to the world: typed run events, the run summary and
//! the [`Sink`] port. The engine only emits these; sinks (terminal, JSON,
//! log files, history, webhook) decide what to do with them.
//!
//! Each [`EventKind`] variant carries exactly its data; the SPEC §2.3 JSON
//! shape of an event is written in one place, [`wire`].

mod outputs;
mod sink;
mod summary;
pub(crate) mod wire;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

pub(crate) use outputs::Outputs;
pub(crate) use sink::{
    Durable, Fanout, Gate, Labeled, Labels, Output, OutputLine, ProcessStarted, Sink, Stream,
};
pub(crate) use summary::{count_line, RunSummary, StepReport};

/// Statuses of runs and steps (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Pending,
    Running,
    Retrying,
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    Cached,
    Cancelled,
    Compensated,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Retrying => "retrying",
            Status::Waiting => "waiting",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cached => "cached",
            Status::Cancelled => "cancelled",
            Status::Compensated => "compensated",
        }
    }

    pub(crate) fn is_terminal(self) -> bool {
        !matches!(
            self,
            Status::Pending | Status::Running | Status::Retrying | Status::Waiting
        )
    }
}

/// One lifecycle event of a run: when, which run, and what happened.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) time: SystemTime,
    pub(crate) run_id: Arc<str>,
    pub(crate) workflow: Arc<str>,
    pub(crate) kind: EventKind,
    /// How the step is shown when that is not its id: a `for_each` or
    /// `matrix` item with its values, `test (linux, 20)` for `test[0]`.
    pub(crate) label: Option<Arc<str>>,
}

/// What happened. Step ids are `id`, or `id[i]` for a `for_each` item.
#[derive(Debug, Clone)]
pub(crate) enum EventKind {
    /// The run exists (first of every run's events).
    RunCreated,
    /// The run is running; its steps may start.
    RunStarted,
    /// A step (or item) began an attempt. `attempt` is absent when the step
    /// failed before any attempt (an `if:` or `for_each` error) and for the
    /// parent of a `for_each` step.
    StepStarted {
        step: String,
        attempt: Option<u32>,
        max_attempts: Option<u32>,
    },
    /// An attempt failed (or its service was skipped) and another follows.
    StepRetrying {
        step: String,
        /// The attempt that comes next.
        attempt: u32,
        max_attempts: u32,
        error: String,
        exit_code: Option<i32>,
        http_status: Option<u16>,
        /// How long orch waits before it.
        delay: Duration,
    },
    /// A step (or item) reached a terminal status.
    StepFinished { step: String, outcome: StepOutcome },
    /// An approval step (or a `require_approval` policy) asks.
    ApprovalRequested {
        step: String,
        message: String,
        timeout: Option<Duration>,
    },
    /// Somebody (or the clock) decided an approval.
    ApprovalDecided { step: String, verdict: Verdict },
    /// An attempt of a step's `compensate:` body began (the saga undoing
    /// a step that completed, after the run failed or was cancelled).
    CompensationStarted {
        step: String,
        attempt: u32,
        max_attempts: u32,
    },
    /// A compensation ended; on success a `StepFinished` with status
    /// `compensated` follows for the step.
    CompensationFinished { step: String, outcome: StepOutcome },
    /// The run ended (or stopped, waiting for an approval).
    RunFinished { summary: Arc<RunSummary> },
}

/// How a step or item ended.
#[derive(Debug, Clone)]
pub(crate) struct StepOutcome {
    /// A terminal status (or `waiting`, for an item stopped at an approval).
    pub(crate) status: Status,
    /// Whether any of it ran: a cancelled step that never started reads as
    /// skipped.
    pub(crate) started: bool,
    pub(crate) attempts: Option<u32>,
    pub(crate) duration: Option<Duration>,
    pub(crate) error: Option<String>,
    pub(crate) exit_code: Option<i32>,
    /// The last HTTP status of an `http`/`call` step.
    pub(crate) http_status: Option<u16>,
    /// `steps.<id>` as expressions see it, for stores that must restore it
    /// later. Not part of the JSON stream.
    pub(crate) result: Option<Arc<serde_json::Value>>,
    /// The cache entry this step produced or used.
    pub(crate) cache: Option<Arc<CacheNote>>,
    /// A failure `continue_on_error` allows: the run goes on as if the
    /// step had finished, and does not fail because of it.
    pub(crate) allowed: bool,
}

/// A decided approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Approved { by: String, comment: Option<String> },
    Rejected { by: String, comment: Option<String> },
    TimedOut,
}

impl Verdict {
    /// `approved`, `rejected` or `timed_out`, as stored and sent.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Verdict::Approved { .. } => "approved",
            Verdict::Rejected { .. } => "rejected",
            Verdict::TimedOut => "timed_out",
        }
    }

    pub(crate) fn by(&self) -> Option<&str> {
        match self {
            Verdict::Approved { by, .. } | Verdict::Rejected { by, .. } => Some(by),
            Verdict::TimedOut => None,
        }
    }

    pub(crate) fn comment(&self) -> Option<&str> {
        match self {
            Verdict::Approved { comment, .. } | Verdict::Rejected { comment, .. } => {
                comment.as_deref()
            }
            Verdict::TimedOut => None,
        }
    }
}

/// The cache entry a step produced or used.
#[derive(Debug, Clone)]
pub(crate) struct CacheNote {
    pub(crate) fingerprint: String,
    /// What went into the fingerprint (JSON), to explain later misses.
    pub(crate) parts: String,
    pub(crate) ttl: Option<Duration>,
}

impl EventKind {
    /// The step (or item) id an event is about, to rename it (a child
    /// run's steps shown under the parent's step); `None` for run events.
    pub(crate) fn step_mut(&mut self) -> Option<&mut String> {
        match self {
            EventKind::StepStarted { step, .. }
            | EventKind::StepRetrying { step, .. }
            | EventKind::StepFinished { step, .. }
            | EventKind::ApprovalRequested { step, .. }
            | EventKind::ApprovalDecided { step, .. }
            | EventKind::CompensationStarted { step, .. }
            | EventKind::CompensationFinished { step, .. } => Some(step),
            EventKind::RunCreated | EventKind::RunStarted | EventKind::RunFinished { .. } => None,
        }
    }
}

impl Event {
    pub(crate) fn new(kind: EventKind, run_id: &Arc<str>, workflow: &Arc<str>) -> Self {
        Event {
            time: SystemTime::now(),
            run_id: run_id.clone(),
            workflow: workflow.clone(),
            kind,
            label: None,
        }
    }

    /// The step as shown: its label, else its id.
    pub(crate) fn shown_step(&self) -> Option<&str> {
        self.label.as_deref().or_else(|| self.step_id())
    }

    /// The step (or item) this event is about.
    pub(crate) fn step_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::StepStarted { step, .. }
            | EventKind::StepRetrying { step, .. }
            | EventKind::StepFinished { step, .. }
            | EventKind::ApprovalRequested { step, .. }
            | EventKind::ApprovalDecided { step, .. }
            | EventKind::CompensationStarted { step, .. }
            | EventKind::CompensationFinished { step, .. } => Some(step),
            EventKind::RunCreated | EventKind::RunStarted | EventKind::RunFinished { .. } => None,
        }
    }

    /// The SPEC §2.3 name, `orchestration.step.failed` and the like.
    pub(crate) fn name(&self) -> &'static str {
        wire::Name::of(&self.kind).as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let e = Event::new(
            EventKind::StepFinished {
                step: "build".into(),
                outcome: StepOutcome {
                    status: Status::Failed,
                    started: true,
                    attempts: Some(2),
                    duration: None,
                    error: None,
                    exit_code: None,
                    http_status: None,
                    result: None,
                    cache: None,
                    allowed: false,
                },
            },
            &Arc::from("r1"),
            &Arc::from("w"),
        );
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["event"], "orchestration.step.failed");
        assert_eq!(j["status"], "failed");
        assert_eq!(j["step_id"], "build");
        assert!(j["time"].as_str().unwrap().ends_with('Z'));
        assert!(j.get("error").is_none());
        assert!(j.get("allowed").is_none());
    }

    #[test]
    fn an_allowed_failure_says_so_on_the_wire() {
        let mut e = sample::of(wire::Name::StepFailed, "lint");
        e.outcome_mut().allowed = true;
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["event"], "orchestration.step.failed");
        assert_eq!(j["allowed"], true);
    }

    #[test]
    fn compensation_events_have_names_of_their_own() {
        let started = Event::new(
            EventKind::CompensationStarted {
                step: "charge".into(),
                attempt: 1,
                max_attempts: 2,
            },
            &Arc::from("r1"),
            &Arc::from("w"),
        );
        let j = serde_json::to_value(&started).unwrap();
        assert_eq!(j["event"], "orchestration.compensation.started");
        assert_eq!(j["step_id"], "charge");
        assert_eq!(j["attempt"], 1);
        assert_eq!(j["max_attempts"], 2);
        assert_eq!(j["status"], "running");
        let mut failed = sample::of(wire::Name::CompensationFailed, "charge");
        failed.outcome_mut_any().error = Some("exited with code 3".into());
        let j = serde_json::to_value(&failed).unwrap();
        assert_eq!(j["event"], "orchestration.compensation.failed");
        assert_eq!(j["error"], "exited with code 3");
        let done = sample::of(wire::Name::CompensationCompleted, "charge");
        assert_eq!(done.name(), "orchestration.compensation.completed");
        assert_eq!(
            sample::of(wire::Name::StepCompensated, "charge").name(),
            "orchestration.step.compensated"
        );
    }
}

/// Small events for the tests of sinks.
#[cfg(test)]
pub(crate) mod sample {
    use super::*;
    use wire::Name;

    pub(crate) fn event(kind: EventKind) -> Event {
        Event::new(kind, &Arc::from("r1"), &Arc::from("wf"))
    }

    pub(crate) fn outcome(status: Status) -> StepOutcome {
        StepOutcome {
            status,
            started: true,
            attempts: None,
            duration: None,
            error: None,
            exit_code: None,
            http_status: None,
            result: None,
            cache: None,
            allowed: false,
        }
    }

    /// A step's line in a summary: no error, outputs or items.
    pub(crate) fn report(id: &str, status: Status) -> StepReport {
        StepReport {
            id: id.into(),
            label: None,
            status,
            error: None,
            outputs: serde_json::Value::Null,
            items: Vec::new(),
            allowed: false,
        }
    }

    pub(crate) fn summary(status: Status) -> RunSummary {
        RunSummary {
            status,
            steps: Vec::new(),
            failures: Vec::new(),
            outputs: Outputs::default(),
            error: None,
            duration: Duration::ZERO,
            waiting: Vec::new(),
            compensation_failures: Vec::new(),
        }
    }

    /// An event with the given wire name, about `step` (ignored by run
    /// events), with no more data than the name needs.
    pub(crate) fn of(name: Name, step: &str) -> Event {
        let step = step.to_string();
        let finished = |status| EventKind::StepFinished {
            step: step.clone(),
            outcome: outcome(status),
        };
        let run = |status| EventKind::RunFinished {
            summary: Arc::new(summary(status)),
        };
        event(match name {
            Name::RunCreated => EventKind::RunCreated,
            Name::RunStarted => EventKind::RunStarted,
            Name::RunCompleted => run(Status::Succeeded),
            Name::RunFailed => run(Status::Failed),
            Name::RunCancelled => run(Status::Cancelled),
            Name::RunWaiting => run(Status::Waiting),
            Name::StepStarted => EventKind::StepStarted {
                step,
                attempt: None,
                max_attempts: None,
            },
            Name::StepRetrying => EventKind::StepRetrying {
                step,
                attempt: 2,
                max_attempts: 2,
                error: "failed".into(),
                exit_code: None,
                http_status: None,
                delay: Duration::ZERO,
            },
            Name::StepCompleted => finished(Status::Succeeded),
            Name::StepFailed => finished(Status::Failed),
            Name::StepSkipped => finished(Status::Skipped),
            Name::StepCached => finished(Status::Cached),
            Name::StepCompensated => finished(Status::Compensated),
            Name::ApprovalRequested => EventKind::ApprovalRequested {
                step,
                message: "ok?".into(),
                timeout: None,
            },
            Name::ApprovalDecided => EventKind::ApprovalDecided {
                step,
                verdict: Verdict::TimedOut,
            },
            Name::CompensationStarted => EventKind::CompensationStarted {
                step,
                attempt: 1,
                max_attempts: 1,
            },
            Name::CompensationCompleted => EventKind::CompensationFinished {
                step,
                outcome: outcome(Status::Succeeded),
            },
            Name::CompensationFailed => EventKind::CompensationFinished {
                step,
                outcome: outcome(Status::Failed),
            },
        })
    }

    impl Event {
        /// The outcome of a `StepFinished` event, to adjust in a test.
        pub(crate) fn outcome_mut(&mut self) -> &mut StepOutcome {
            match &mut self.kind {
                EventKind::StepFinished { outcome, .. } => outcome,
                other => panic!("not a finished step: {other:?}"),
            }
        }

        /// The outcome of a `StepFinished` or `CompensationFinished` event.
        pub(crate) fn outcome_mut_any(&mut self) -> &mut StepOutcome {
            match &mut self.kind {
                EventKind::StepFinished { outcome, .. }
                | EventKind::CompensationFinished { outcome, .. } => outcome,
                other => panic!("no outcome: {other:?}"),
            }
        }
    }
}
