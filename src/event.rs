//! What the engine says to the world. The engine only emits these; sinks
//! (terminal, JSON, log files, history) decide what to do with them.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    #[serde(rename = "orchestration.run.created")]
    RunCreated,
    #[serde(rename = "orchestration.run.started")]
    RunStarted,
    #[serde(rename = "orchestration.run.completed")]
    RunCompleted,
    #[serde(rename = "orchestration.run.failed")]
    RunFailed,
    #[serde(rename = "orchestration.run.cancelled")]
    RunCancelled,
    #[serde(rename = "orchestration.run.waiting")]
    RunWaiting,
    #[serde(rename = "orchestration.step.started")]
    StepStarted,
    #[serde(rename = "orchestration.step.retrying")]
    StepRetrying,
    #[serde(rename = "orchestration.step.completed")]
    StepCompleted,
    #[serde(rename = "orchestration.step.failed")]
    StepFailed,
    #[serde(rename = "orchestration.step.skipped")]
    StepSkipped,
    #[serde(rename = "orchestration.step.cached")]
    StepCached,
    #[serde(rename = "orchestration.step.compensated")]
    StepCompensated,
    #[serde(rename = "orchestration.approval.requested")]
    ApprovalRequested,
    #[serde(rename = "orchestration.approval.decided")]
    ApprovalDecided,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::RunCreated => "orchestration.run.created",
            EventKind::RunStarted => "orchestration.run.started",
            EventKind::RunCompleted => "orchestration.run.completed",
            EventKind::RunFailed => "orchestration.run.failed",
            EventKind::RunCancelled => "orchestration.run.cancelled",
            EventKind::RunWaiting => "orchestration.run.waiting",
            EventKind::StepStarted => "orchestration.step.started",
            EventKind::StepRetrying => "orchestration.step.retrying",
            EventKind::StepCompleted => "orchestration.step.completed",
            EventKind::StepFailed => "orchestration.step.failed",
            EventKind::StepSkipped => "orchestration.step.skipped",
            EventKind::StepCached => "orchestration.step.cached",
            EventKind::StepCompensated => "orchestration.step.compensated",
            EventKind::ApprovalRequested => "orchestration.approval.requested",
            EventKind::ApprovalDecided => "orchestration.approval.decided",
        }
    }
}

/// Statuses of runs and steps (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
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
    pub fn as_str(self) -> &'static str {
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

    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            Status::Pending | Status::Running | Status::Retrying | Status::Waiting
        )
    }
}

/// One lifecycle event, with the fields of SPEC §2.3 (absent ones omitted).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event: EventKind,
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    pub run_id: Arc<str>,
    pub workflow: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Attempts allowed in total (for "attempt n/m" displays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Before a retry: how long orch waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The workflow's `outputs`, on the event that ends a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<serde_json::Value>,
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

impl Event {
    pub fn new(event: EventKind, run_id: &Arc<str>, workflow: &Arc<str>) -> Self {
        Event {
            event,
            time: SystemTime::now(),
            run_id: run_id.clone(),
            workflow: workflow.clone(),
            step_id: None,
            attempt: None,
            status: None,
            duration_ms: None,
            error: None,
            max_attempts: None,
            exit_code: None,
            delay_ms: None,
            outputs: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A line a step printed (not part of the JSON event stream).
#[derive(Debug, Clone)]
pub struct OutputLine<'a> {
    pub step_id: &'a str,
    pub stream: Stream,
    pub line: &'a str,
}

/// Where events go. Called from engine tasks; implementations must be cheap
/// or hand work to a thread of their own.
pub trait Sink: Send + Sync {
    fn event(&self, ev: &Event);
    fn output(&self, _line: &OutputLine<'_>) {}
}

/// Sends every event to several sinks, in order.
pub struct Fanout(pub Vec<std::sync::Arc<dyn Sink>>);

impl Sink for Fanout {
    fn event(&self, ev: &Event) {
        for s in &self.0 {
            s.event(ev);
        }
    }

    fn output(&self, line: &OutputLine<'_>) {
        for s in &self.0 {
            s.output(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let mut e = Event::new(EventKind::StepFailed, &Arc::from("r1"), &Arc::from("w"));
        e.step_id = Some("build".into());
        e.attempt = Some(2);
        e.status = Some(Status::Failed);
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["event"], "orchestration.step.failed");
        assert_eq!(j["status"], "failed");
        assert_eq!(j["step_id"], "build");
        assert!(j["time"].as_str().unwrap().ends_with('Z'));
        assert!(j.get("error").is_none());
    }
}
