//! How a run ended, as the engine hands it to sinks and to the command that
//! started it: every step's status, the failures in order, the outputs.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value as Json;

use super::{Outputs, Status};

/// What a step (or one `for_each` item) ended as.
#[derive(Debug, Clone)]
pub(crate) struct StepReport {
    /// `id`, or `id[i]` for a `for_each` item.
    pub(crate) id: String,
    /// How an item is shown when that is not its id: `test (linux, 20)`.
    pub(crate) label: Option<String>,
    pub(crate) status: Status,
    pub(crate) error: Option<String>,
    pub(crate) outputs: Json,
    pub(crate) items: Vec<StepReport>,
    /// Failed, but `continue_on_error` allows it: not a failure of the run.
    pub(crate) allowed: bool,
}

/// The end of a run.
#[derive(Debug, Clone)]
pub(crate) struct RunSummary {
    pub(crate) status: Status,
    pub(crate) steps: Vec<StepReport>,
    /// Step ids that failed, in the order they failed (root cause first).
    pub(crate) failures: Vec<String>,
    /// The workflow's `outputs:`, in declaration order.
    pub(crate) outputs: Outputs,
    /// A failure of the run itself (timeout, workflow outputs).
    pub(crate) error: Option<String>,
    pub(crate) duration: Duration,
    /// Approval steps nobody has decided yet (status `waiting`).
    pub(crate) waiting: Vec<String>,
    /// Compensations that failed, in the order they ran:
    /// `compensation of `id` failed: …`.
    pub(crate) compensation_failures: Vec<String>,
}

impl StepReport {
    /// The step as shown: its label, else its id.
    pub(crate) fn shown(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }
}

impl RunSummary {
    /// The `error` of the run's last event: the run's own failure, else the
    /// first failed step.
    /// Failed compensations follow it.
    pub(crate) fn event_error(&self) -> Option<Cow<'_, str>> {
        let first = match &self.error {
            Some(e) => Some(Cow::Borrowed(e.as_str())),
            None => self
                .failures
                .first()
                .map(|f| Cow::Owned(format!("step `{f}` failed"))),
        };
        if self.compensation_failures.is_empty() {
            return first;
        }
        let mut parts: Vec<&str> = first.as_deref().into_iter().collect();
        parts.extend(self.compensation_failures.iter().map(String::as_str));
        Some(Cow::Owned(parts.join("; ")))
    }

    /// The `outputs` of the run's last event: none while it waits.
    pub(crate) fn event_outputs(&self) -> Option<&Outputs> {
        (self.status != Status::Waiting).then_some(&self.outputs)
    }
}

/// `3 succeeded, 1 failed, 1 failed (allowed), 2 skipped` over top-level
/// steps, zeros left out. Failures `continue_on_error` allows are counted
/// apart: they are not what failed the run.
pub(crate) fn count_line(steps: &[StepReport]) -> String {
    const ORDER: [Status; 10] = [
        Status::Succeeded,
        Status::Cached,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
        Status::Compensated,
        Status::Pending,
        Status::Running,
        Status::Retrying,
        Status::Waiting,
    ];
    let mut parts = Vec::new();
    for st in ORDER {
        let of = |allowed: bool| {
            steps
                .iter()
                .filter(|s| s.status == st && s.allowed == allowed)
                .count()
        };
        let n = of(false);
        if n > 0 {
            parts.push(format!("{n} {}", st.as_str()));
        }
        let n = of(true);
        if n > 0 {
            parts.push(format!("{n} {} (allowed)", st.as_str()));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(status: Status, allowed: bool) -> StepReport {
        StepReport {
            id: "s".into(),
            label: None,
            status,
            error: None,
            outputs: Json::Null,
            items: Vec::new(),
            allowed,
        }
    }

    #[test]
    fn allowed_failures_are_counted_apart() {
        let steps = [
            step(Status::Succeeded, false),
            step(Status::Failed, true),
            step(Status::Succeeded, false),
            step(Status::Failed, false),
            step(Status::Skipped, false),
        ];
        assert_eq!(
            count_line(&steps),
            "2 succeeded, 1 failed, 1 failed (allowed), 1 skipped"
        );
        assert_eq!(count_line(&steps[..2]), "1 succeeded, 1 failed (allowed)");
    }
}
