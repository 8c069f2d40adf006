//! The JSON shape of an event (SPEC §2.3), written once: `--output json`, the
//! telemetry log and the webhook all send exactly these bytes.
//!
//! Fields appear in a fixed order and absent ones are left out:
//! `event, time, run_id, workflow, step_id, step_name, attempt, status, duration_ms,
//! error, max_attempts, exit_code, http_status, delay_ms, outputs, approval,
//! allowed`. `allowed: true` marks a `step.failed` that `continue_on_error`
//! allows (absent otherwise). `step_name` is how a `for_each`/`matrix`
//! item is shown, `test (linux, 20)` for `step_id` `test[0]`.

use std::time::SystemTime;

use super::{Event, EventKind, Outputs, Status};
use crate::duration::millis;
use serde::{Serialize, Serializer};

/// The `event` field: what kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    RunCreated,
    RunStarted,
    RunCompleted,
    RunFailed,
    RunCancelled,
    RunWaiting,
    StepStarted,
    StepRetrying,
    StepCompleted,
    StepFailed,
    StepSkipped,
    StepCached,
    StepCompensated,
    ApprovalRequested,
    ApprovalDecided,
    CompensationStarted,
    CompensationCompleted,
    CompensationFailed,
}

impl Name {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Name::RunCreated => "orchestration.run.created",
            Name::RunStarted => "orchestration.run.started",
            Name::RunCompleted => "orchestration.run.completed",
            Name::RunFailed => "orchestration.run.failed",
            Name::RunCancelled => "orchestration.run.cancelled",
            Name::RunWaiting => "orchestration.run.waiting",
            Name::StepStarted => "orchestration.step.started",
            Name::StepRetrying => "orchestration.step.retrying",
            Name::StepCompleted => "orchestration.step.completed",
            Name::StepFailed => "orchestration.step.failed",
            Name::StepSkipped => "orchestration.step.skipped",
            Name::StepCached => "orchestration.step.cached",
            Name::StepCompensated => "orchestration.step.compensated",
            Name::ApprovalRequested => "orchestration.approval.requested",
            Name::ApprovalDecided => "orchestration.approval.decided",
            Name::CompensationStarted => "orchestration.compensation.started",
            Name::CompensationCompleted => "orchestration.compensation.completed",
            Name::CompensationFailed => "orchestration.compensation.failed",
        }
    }

    pub(crate) fn of(kind: &EventKind) -> Name {
        match kind {
            EventKind::RunCreated => Name::RunCreated,
            EventKind::RunStarted => Name::RunStarted,
            EventKind::StepStarted { .. } => Name::StepStarted,
            EventKind::StepRetrying { .. } => Name::StepRetrying,
            EventKind::StepFinished { outcome, .. } => match outcome.status {
                Status::Succeeded => Name::StepCompleted,
                Status::Skipped => Name::StepSkipped,
                Status::Cancelled if !outcome.started => Name::StepSkipped,
                Status::Cached => Name::StepCached,
                Status::Compensated => Name::StepCompensated,
                _ => Name::StepFailed,
            },
            EventKind::ApprovalRequested { .. } => Name::ApprovalRequested,
            EventKind::ApprovalDecided { .. } => Name::ApprovalDecided,
            EventKind::CompensationStarted { .. } => Name::CompensationStarted,
            EventKind::CompensationFinished { outcome, .. } => {
                if outcome.status == Status::Succeeded {
                    Name::CompensationCompleted
                } else {
                    Name::CompensationFailed
                }
            }
            EventKind::RunFinished { summary } => match summary.status {
                Status::Succeeded => Name::RunCompleted,
                Status::Cancelled => Name::RunCancelled,
                Status::Waiting => Name::RunWaiting,
                _ => Name::RunFailed,
            },
        }
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    event: &'static str,
    #[serde(serialize_with = "rfc3339")]
    time: SystemTime,
    run_id: &'a str,
    workflow: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<&'a Outputs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<Approval<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<bool>,
}

#[derive(Serialize, Default)]
struct Approval<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
}

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut w = Wire {
            event: self.name(),
            time: self.time,
            run_id: &self.run_id,
            workflow: &self.workflow,
            step_id: self.step_id(),
            step_name: self.label.as_deref(),
            attempt: None,
            status: None,
            duration_ms: None,
            error: None,
            max_attempts: None,
            exit_code: None,
            http_status: None,
            delay_ms: None,
            outputs: None,
            approval: None,
            allowed: None,
        };
        match &self.kind {
            EventKind::RunCreated => {}
            EventKind::RunStarted => w.status = Some(Status::Running),
            EventKind::StepStarted {
                attempt,
                max_attempts,
                ..
            } => {
                w.attempt = *attempt;
                w.max_attempts = *max_attempts;
                w.status = Some(Status::Running);
            }
            EventKind::StepRetrying {
                attempt,
                max_attempts,
                error,
                exit_code,
                http_status,
                delay,
                ..
            } => {
                w.attempt = Some(*attempt);
                w.max_attempts = Some(*max_attempts);
                w.status = Some(Status::Retrying);
                w.error = Some(error.as_str().into());
                w.exit_code = *exit_code;
                w.http_status = *http_status;
                w.delay_ms = Some(millis(*delay));
            }
            EventKind::CompensationStarted {
                attempt,
                max_attempts,
                ..
            } => {
                w.attempt = Some(*attempt);
                w.max_attempts = Some(*max_attempts);
                w.status = Some(Status::Running);
            }
            EventKind::StepFinished { outcome: o, .. }
            | EventKind::CompensationFinished { outcome: o, .. } => {
                w.attempt = o.attempts;
                w.status = Some(o.status);
                w.duration_ms = o.duration.map(millis);
                w.error = o.error.as_deref().map(Into::into);
                w.exit_code = o.exit_code;
                w.http_status = o.http_status;
                w.allowed = o.allowed.then_some(true);
            }
            EventKind::ApprovalRequested {
                message, timeout, ..
            } => {
                w.approval = Some(Approval {
                    message: Some(message),
                    timeout_ms: timeout.map(millis),
                    ..Approval::default()
                });
            }
            EventKind::ApprovalDecided { verdict, .. } => {
                w.approval = Some(Approval {
                    decision: Some(verdict.name()),
                    by: verdict.by(),
                    comment: verdict.comment(),
                    ..Approval::default()
                });
            }
            EventKind::RunFinished { summary } => {
                w.status = Some(summary.status);
                w.duration_ms = Some(millis(summary.duration));
                w.error = summary.event_error();
                w.outputs = summary.event_outputs();
            }
        }
        w.serialize(s)
    }
}

/// `orchestration.validation.failed`: `orch run --output json` of a
/// workflow (or config, or inputs) that does not validate. Nothing ran and
/// no run was created, so there is no `run_id`; `workflow` is the file or
/// name as given on the command line.
#[derive(Serialize)]
pub(crate) struct ValidationFailed<'a, D: Serialize> {
    event: &'static str,
    #[serde(serialize_with = "rfc3339")]
    time: SystemTime,
    workflow: &'a str,
    status: Status,
    diagnostics: &'a [D],
}

impl<'a, D: Serialize> ValidationFailed<'a, D> {
    pub(crate) const NAME: &'static str = "orchestration.validation.failed";

    pub(crate) fn new(workflow: &'a str, diagnostics: &'a [D]) -> Self {
        ValidationFailed {
            event: Self::NAME,
            time: SystemTime::now(),
            workflow,
            status: Status::Failed,
            diagnostics,
        }
    }
}
