//! `approval` steps: a question for a person, asked through the
//! [`Approver`] port (a prompt, a recorded decision, a pre-approval). The
//! engine asks it once, without attempts; `require_approval` policies ask
//! through [`ask`] too.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value as Json};

use crate::event::{Event, EventKind, Sink, Verdict};
use crate::expr::eval::{resolve, to_text};
use crate::expr::Scope;
use crate::model::{Step, StepKind};

use super::{
    Attempt, AttemptCx, AttemptFuture, Body, ErrorKind, ResolveCx, StepError, StepExecutor,
};

pub(crate) struct ApprovalRequest {
    pub(crate) step_id: String,
    pub(crate) message: String,
    pub(crate) timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Approved {
        by: String,
        comment: Option<String>,
    },
    Rejected {
        by: String,
        comment: Option<String>,
    },
    TimedOut,
    /// Nobody can answer now: the run stops as `waiting`.
    Wait,
}

pub(crate) type DecisionFuture = Pin<Box<dyn Future<Output = Decision> + Send>>;

/// Decides approval steps: a prompt, a recorded decision, a pre-approval.
pub(crate) trait Approver: Send + Sync {
    fn decide(&self, req: ApprovalRequest) -> DecisionFuture;
}

/// Nobody answers: every approval waits.
#[cfg(test)]
pub(crate) struct NoApprover;

#[cfg(test)]
impl Approver for NoApprover {
    fn decide(&self, _req: ApprovalRequest) -> DecisionFuture {
        Box::pin(async { Decision::Wait })
    }
}

pub(crate) struct Approval;

impl StepExecutor for Approval {
    fn kind(&self) -> &'static str {
        "approval"
    }

    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        _cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError> {
        let StepKind::Approval { message, timeout } = &step.body.kind else {
            return Err(StepError::wrong_kind(step, self.kind()));
        };
        let message =
            match message {
                Some(m) => to_text(&resolve(m, scope).map_err(|e| {
                    StepError::expression(format!("approval message: {}", e.message))
                })?),
                None => format!("Approve step `{}`?", step.id),
            };
        Ok(Box::new(Question {
            message,
            timeout: *timeout,
        }))
    }
}

/// What an approval asks, and how long it may wait for an answer.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub(crate) message: String,
    pub(crate) timeout: Option<Duration>,
}

impl Body for Question {
    fn definition(&self, def: &mut Map<String, Json>, _project_dir: &Path) {
        def.insert("message".into(), json!(self.message));
    }

    fn question(&self) -> Option<&Question> {
        Some(self)
    }

    fn attempt<'a>(&'a self, _cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        Box::pin(async { Attempt::failed(ErrorKind::Expression, "an approval is not an attempt") })
    }
}

/// Who asks, and where the `approval.*` events go.
pub(crate) struct AskCx<'a> {
    pub(crate) approver: &'a dyn Approver,
    pub(crate) sink: &'a dyn Sink,
    pub(crate) run_id: &'a Arc<str>,
    pub(crate) workflow: &'a Arc<str>,
    /// `id`, or `id[i]` for an item of a `for_each` step.
    pub(crate) step_id: &'a str,
}

/// Ask the approver, with the `approval.*` events around it.
pub(crate) async fn ask(cx: &AskCx<'_>, q: Question) -> Decision {
    let emit = |kind| cx.sink.event(&Event::new(kind, cx.run_id, cx.workflow));
    emit(EventKind::ApprovalRequested {
        step: cx.step_id.to_string(),
        message: q.message.clone(),
        timeout: q.timeout,
    });
    let decision = cx
        .approver
        .decide(ApprovalRequest {
            step_id: cx.step_id.to_string(),
            message: q.message,
            timeout: q.timeout,
        })
        .await;
    let verdict = match &decision {
        Decision::Wait => return decision,
        Decision::Approved { by, comment } => Verdict::Approved {
            by: by.clone(),
            comment: comment.clone(),
        },
        Decision::Rejected { by, comment } => Verdict::Rejected {
            by: by.clone(),
            comment: comment.clone(),
        },
        Decision::TimedOut => Verdict::TimedOut,
    };
    emit(EventKind::ApprovalDecided {
        step: cx.step_id.to_string(),
        verdict,
    });
    decision
}

/// Why a step did not get its approval.
pub(crate) fn rejection(d: &Decision, timeout: Option<Duration>) -> String {
    match d {
        Decision::Rejected {
            by,
            comment: Some(c),
        } => format!("rejected by {by}: {c}"),
        Decision::Rejected { by, .. } => format!("rejected by {by}"),
        _ => format!(
            "the approval timed out after {}",
            humantime::format_duration(timeout.unwrap_or_default())
        ),
    }
}

/// The results of a decided approval step beside its outputs
/// (`steps.<id>.approved_by`, `comment`).
pub(crate) fn results(d: &Decision) -> Map<String, Json> {
    let (by, comment) = match d {
        Decision::Approved { by, comment } | Decision::Rejected { by, comment } => {
            (Some(by.clone()), comment.clone())
        }
        _ => (None, None),
    };
    let mut m = Map::new();
    m.insert("approved_by".into(), json!(by));
    m.insert("comment".into(), json!(comment));
    m
}
