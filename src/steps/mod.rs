//! Step executors, one file per kind. An executor turns a step's definition
//! into a [`Body`] (its expressions evaluated) and runs one attempt of it;
//! retries, routing over services, policies, the cache and the step's
//! events belong to the engine (`exec/unit.rs`).
//!
//! # The table
//!
//! [`EXECUTORS`] holds every kind that runs, found by its name in the
//! workflow file:
//!
//! | kind | file | one attempt |
//! |---|---|---|
//! | `run` | [`shell`] | a script in its own process group, with the `ORCH_*` environment and the `ORCH_OUTPUT` and `ORCH_ENV` files ([`output_file`]) |
//! | `http` | [`http`] | one request over [`crate::http_client`] |
//! | `call` | [`call`] | one request to an endpoint of the service the engine routed to: auth, breaker, rate limit |
//! | `transform` | [`transform`] | nothing to run: the values are the outputs |
//! | `approval` | [`approval`] | not an attempt: a [`Question`](approval::Question) for the [`Approver`](approval::Approver) |
//! | `workflow` | [`workflow`] | a child run of another workflow file, through the [`ChildRunner`](workflow::ChildRunner) |
//!
//! Adding a kind is one file with a [`StepExecutor`] and its [`Body`], plus
//! its line in [`EXECUTORS`] (and its keys in `validate/keys`). A kind
//! without a line (validation refuses those: "not supported yet" in the key
//! table) fails loudly if it is ever run.

pub(crate) mod approval;
pub(crate) mod arg_limits;
pub(crate) mod call;
mod direct;
pub(crate) mod http;
pub(crate) mod output_file;
mod pipes;
pub(crate) mod process;
pub(crate) mod shell;
mod spawn;
pub(crate) mod transform;
pub(crate) mod workflow;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::cancel::CancelWatch;
use crate::event::Sink;
use crate::expr::Scope;
use crate::model::{CallTarget, Config, Step, StepKind};
use crate::services::Runtime;

/// Every kind that runs. Adding a kind: a file, and its line here.
pub(crate) const EXECUTORS: &[&dyn StepExecutor] = &[
    &shell::Run,
    &http::Http,
    &call::Call,
    &transform::Transform,
    &approval::Approval,
    &workflow::Workflow,
];

/// The executor of a step kind, or why the kind cannot run.
pub(crate) fn executor(kind: &StepKind) -> Result<&'static dyn StepExecutor, StepError> {
    EXECUTORS
        .iter()
        .copied()
        .find(|e| e.kind() == kind.name())
        .ok_or_else(|| {
            StepError::expression(format!("`{}` steps are not supported yet", kind.name()))
        })
}

/// Evaluate a step's body in `scope`. Errors name the field that failed.
pub(crate) fn resolve(
    step: &Step,
    scope: &Scope<'_>,
    cx: &ResolveCx<'_>,
) -> Result<Box<dyn Body>, StepError> {
    executor(&step.body.kind)?.resolve(step, scope, cx)
}

/// One kind of step: how its definition becomes a [`Body`].
pub(crate) trait StepExecutor: Sync {
    /// The kind's name in workflow files (`StepKind::name`).
    fn kind(&self) -> &'static str;

    /// Whether failures are retried when neither the step, its workflow's
    /// `defaults` nor orchestration.yaml say how (`http` and `call` are).
    fn retries_by_default(&self) -> bool {
        false
    }

    /// Names of the secrets the kind needs besides those its expressions
    /// read (the credentials of the services a `call` may go to).
    fn credentials<'a>(&self, _step: &'a Step, _cfg: &'a Config) -> Vec<&'a str> {
        Vec::new()
    }

    /// The step's body with its expressions evaluated in `scope`.
    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError>;
}

/// What resolving a body needs besides the scope.
pub(crate) struct ResolveCx<'a> {
    /// Workflow-level environment, resolved once per run.
    pub(crate) base_env: &'a [(String, String)],
    /// Where steps run; `working_dir` is relative to it.
    pub(crate) project_dir: &'a Path,
}

pub(crate) type AttemptFuture<'a> = Pin<Box<dyn Future<Output = Attempt> + Send + 'a>>;

/// A step body with its expressions evaluated: what its attempts run.
pub(crate) trait Body: Send + Sync + fmt::Debug {
    /// This kind's part of the cache fingerprint's definition.
    fn definition(&self, def: &mut Map<String, Json>, project_dir: &Path);

    /// The resolved environment (the fingerprint's `env` part).
    fn env(&self) -> &[(String, String)] {
        &[]
    }

    /// The call this body makes, for routing and policies.
    fn call(&self) -> Option<CallSite<'_>> {
        None
    }

    /// An approval is asked once, not attempted.
    fn question(&self) -> Option<&approval::Question> {
        None
    }

    /// Run one attempt.
    fn attempt<'a>(&'a self, cx: &'a AttemptCx<'a>) -> AttemptFuture<'a>;
}

/// Who a `call` asks: the engine turns the target into routes (candidate
/// services); policies see the capability and endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallSite<'a> {
    pub(crate) target: &'a CallTarget,
    pub(crate) endpoint: &'a str,
}

/// What one attempt may use.
pub(crate) struct AttemptCx<'a> {
    pub(crate) run_id: &'a Arc<str>,
    pub(crate) workflow: &'a Arc<str>,
    pub(crate) step: &'a Step,
    /// `id`, or `id[i]` for an item of a `for_each` step.
    pub(crate) display_id: &'a str,
    /// The item of a `for_each` step and its index.
    pub(crate) item: Option<(usize, &'a Json)>,
    /// 1-based, counted over every route.
    pub(crate) attempt: u32,
    /// The service this attempt goes to (`call` steps).
    pub(crate) route: Option<&'a str>,
    /// Scratch space for `ORCH_OUTPUT` files.
    pub(crate) scratch_dir: &'a Path,
    /// Time between SIGTERM and SIGKILL.
    pub(crate) grace: Duration,
    pub(crate) cancel: &'a CancelWatch,
    pub(crate) sink: &'a Arc<dyn Sink>,
    pub(crate) cfg: &'a Config,
    /// Client, breakers and rate limits shared by the run's HTTP steps.
    pub(crate) services: Option<&'a Runtime>,
    /// Values of the secrets this step reads (service credentials too).
    pub(crate) secret_values: &'a HashMap<String, String>,
    /// Starts child runs (`workflow:` steps); `None` where a run has none.
    pub(crate) children: Option<&'a dyn workflow::ChildRunner>,
    /// A child run to continue instead of starting one (on resume).
    pub(crate) resume_child: Option<&'a str>,
}

/// Failure classes, as `retry.condition` sees them in `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Exit,
    Timeout,
    Expression,
    Cancelled,
    Connect,
    HttpStatus,
    /// Too many redirects: the server answered, so it is not `connect`.
    Redirect,
}

impl ErrorKind {
    /// The name in `error.kind`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Exit => "exit",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Expression => "expression",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Connect => "connect",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Redirect => "redirect",
        }
    }
}

/// Why a step could not be resolved, or an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct StepError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

/// Evaluate named values (`transform:` fields, `with:`) into an object; an
/// error names the value: `{what} \`{name}\`: …`.
pub(crate) fn resolve_named(
    pairs: &[(String, crate::model::Val)],
    scope: &Scope<'_>,
    what: &str,
) -> Result<Map<String, Json>, StepError> {
    let mut out = Map::new();
    for (name, v) in pairs {
        let j = crate::expr::eval::resolve(v, scope)
            .map_err(|e| StepError::expression(format!("{what} `{name}`: {}", e.message)))?;
        out.insert(name.clone(), j);
    }
    Ok(out)
}

impl StepError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> StepError {
        StepError {
            kind,
            message: message.into(),
        }
    }

    /// A definition that cannot run as written (never retried by default).
    pub(crate) fn expression(message: impl Into<String>) -> StepError {
        StepError::new(ErrorKind::Expression, message)
    }

    /// An executor was handed a step of another kind (a bug in the table).
    fn wrong_kind(step: &Step, kind: &str) -> StepError {
        StepError::expression(format!(
            "step `{}` is a `{}` step, not `{kind}`",
            step.id,
            step.body.kind.name()
        ))
    }
}

/// What one attempt did.
#[derive(Debug)]
pub(crate) struct Attempt {
    /// `Ok` when the attempt succeeded.
    pub(crate) result: Result<(), StepError>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: Option<String>,
    pub(crate) outputs: Map<String, Json>,
    /// Results beside `outputs` (an HTTP answer, the service that gave it).
    pub(crate) extra: Map<String, Json>,
    pub(crate) http_status: Option<u16>,
    /// What an HTTP failure means when the step has no `retry.condition`.
    pub(crate) retryable: bool,
    /// The server asked to wait this long (`Retry-After`).
    pub(crate) retry_after: Option<Duration>,
    /// No request was sent (an open breaker): do not retry this service.
    pub(crate) refused: bool,
}

impl Attempt {
    /// A success with nothing to show yet.
    pub(crate) fn ok() -> Attempt {
        Attempt {
            result: Ok(()),
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
            extra: Map::new(),
            http_status: None,
            retryable: false,
            retry_after: None,
            refused: false,
        }
    }

    pub(crate) fn failed(kind: ErrorKind, message: impl Into<String>) -> Attempt {
        Attempt {
            result: Err(StepError::new(kind, message)),
            ..Attempt::ok()
        }
    }

    /// The failure's message; empty for a success.
    pub(crate) fn message(&self) -> &str {
        self.result
            .as_ref()
            .err()
            .map_or("", |e| e.message.as_str())
    }

    /// The failure's class; `None` for a success.
    pub(crate) fn error_kind(&self) -> Option<ErrorKind> {
        self.result.as_ref().err().map(|e| e.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_every_kind_that_validates() {
        let names: Vec<&str> = EXECUTORS.iter().map(|e| e.kind()).collect();
        assert_eq!(
            names,
            ["run", "http", "call", "transform", "approval", "workflow"]
        );
    }

    #[test]
    fn every_kind_of_the_key_table_has_an_executor() {
        let kinds = crate::validate::keys::supported_kinds();
        assert!(kinds.contains(&"workflow"), "{kinds:?}");
        for k in kinds {
            assert!(
                EXECUTORS.iter().any(|e| e.kind() == k),
                "no executor for `{k}` steps"
            );
        }
    }

    #[test]
    fn error_kinds_keep_their_names() {
        let names = [
            ErrorKind::Exit,
            ErrorKind::Timeout,
            ErrorKind::Expression,
            ErrorKind::Cancelled,
            ErrorKind::Connect,
            ErrorKind::HttpStatus,
            ErrorKind::Redirect,
        ]
        .map(ErrorKind::as_str);
        assert_eq!(
            names,
            [
                "exit",
                "timeout",
                "expression",
                "cancelled",
                "connect",
                "http_status",
                "redirect"
            ]
        );
    }
}
