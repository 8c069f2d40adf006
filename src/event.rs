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
    /// The HTTP status an `http`/`call` step got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Before a retry: how long orch waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The workflow's `outputs`, on the event that ends a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<serde_json::Value>,
    /// On `approval.*` events: the request or the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalNote>,
    /// On a step's last event: `steps.<id>` as expressions see it, for
    /// stores that must restore it later. Not part of the JSON stream.
    #[serde(skip)]
    pub result: Option<Arc<serde_json::Value>>,
    /// On `step.completed` and `step.cached` of a cached step.
    #[serde(skip)]
    pub cache: Option<Arc<CacheNote>>,
}

/// What an approval event says.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ApprovalNote {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the request stays open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// `approved`, `rejected` or `timed_out`, once decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The cache entry a step produced or used.
#[derive(Debug, Clone)]
pub struct CacheNote {
    pub fingerprint: String,
    /// What went into the fingerprint (JSON), to explain later misses.
    pub parts: String,
    pub ttl: Option<std::time::Duration>,
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
            http_status: None,
            delay_ms: None,
            outputs: None,
            approval: None,
            result: None,
            cache: None,
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
    /// True when this piece was cut at the maximum line length and its line
    /// continues in the next piece; false for a complete line.
    pub partial: bool,
}

/// Resolves once what a sink was given is safely stored.
pub type Durable = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Where events go. Called from engine tasks; implementations must be cheap
/// or hand work to a thread of their own.
pub trait Sink: Send + Sync {
    fn event(&self, ev: &Event);
    fn output(&self, _line: &OutputLine<'_>) {}
    /// For sinks that store state: a future that resolves when every event
    /// given so far is durable. The engine awaits it before acting on a
    /// state change (starting the dependents of a finished step).
    fn durable(&self) -> Option<Durable> {
        None
    }
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

    fn durable(&self) -> Option<Durable> {
        let waits: Vec<Durable> = self.0.iter().filter_map(|s| s.durable()).collect();
        if waits.is_empty() {
            return None;
        }
        Some(Box::pin(async move {
            for w in waits {
                w.await;
            }
        }))
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
