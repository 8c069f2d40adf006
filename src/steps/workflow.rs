//! `workflow:` steps: another workflow file run as a child run, with the
//! step's `with:` as its inputs. The child is a run of its own in the
//! history; its `outputs` become the step's outputs. The engine asks for it
//! through [`ChildRunner`], which the run session implements (it owns
//! history and sinks), so the child shares the parent's masker, services
//! and cancellation.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde_json::{json, Map, Value as Json};

use crate::event::Status;
use crate::expr::Scope;
use crate::model::{Step, StepKind};

use super::{
    Attempt, AttemptCx, AttemptFuture, Body, ErrorKind, ResolveCx, StepError, StepExecutor,
};

/// A child workflow to run, asked for by a step of the parent.
#[derive(Debug, Clone)]
pub(crate) struct ChildRequest {
    /// The workflow file, absolute (resolved against the parent's file).
    pub(crate) workflow: PathBuf,
    /// The child's inputs as a JSON object, checked against its declarations.
    pub(crate) inputs: Json,
    /// The parent's step that asked (`id` or `id[i]`): the child's steps
    /// are shown under it.
    pub(crate) parent_step: String,
    /// An unfinished child run of this step to continue (`orch resume` of
    /// the parent) instead of starting a new one.
    pub(crate) resume: Option<String>,
}

/// How a child run ended.
#[derive(Debug, Clone)]
pub(crate) struct ChildOutcome {
    /// Its own run id (`orch show` it); its record names the parent.
    pub(crate) run_id: String,
    pub(crate) status: Status,
    /// The child workflow's `outputs`.
    pub(crate) outputs: Json,
    /// Why it did not succeed: its own failure, else its first failed step.
    pub(crate) error: Option<String>,
}

/// Why a child could not run (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChildError {
    #[error("child workflow {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("child run: {0}")]
    Environment(String),
    #[error("child run {run_id} ran, but could not be recorded: {message}")]
    Recording { run_id: String, message: String },
    #[error("child runs {0} are not supported yet")]
    NotSupported(&'static str),
}

pub(crate) type ChildFuture =
    Pin<Box<dyn Future<Output = Result<ChildOutcome, ChildError>> + Send>>;

/// Runs child workflows for the engine.
pub(crate) trait ChildRunner: Send + Sync {
    fn run_child(&self, req: ChildRequest) -> ChildFuture;

    /// Undo the child run `run_id` (which succeeded) as part of its
    /// parent's saga: its compensations, in its reverse completion order.
    fn compensate_child(&self, run_id: String, parent_step: String) -> ChildFuture;
}

pub(crate) struct Workflow;

impl StepExecutor for Workflow {
    fn kind(&self) -> &'static str {
        "workflow"
    }

    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        _cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError> {
        let StepKind::Workflow { path, with, .. } = &step.body.kind else {
            return Err(StepError::wrong_kind(step, self.kind()));
        };
        let inputs = super::resolve_named(with, scope, "with")?;
        // What the cache fingerprint covers: the child file as it is now.
        let text = std::fs::read(path)
            .map_err(|e| StepError::expression(format!("cannot read {}: {e}", path.display())))?;
        Ok(Box::new(Child {
            path: path.clone(),
            inputs,
            digest: crate::digest::sha256_hex(&text),
        }))
    }
}

#[derive(Debug)]
struct Child {
    path: PathBuf,
    inputs: Map<String, Json>,
    /// SHA-256 of the child file's text.
    digest: String,
}

impl Body for Child {
    fn definition(&self, def: &mut Map<String, Json>, project_dir: &Path) {
        let shown = self.path.strip_prefix(project_dir).unwrap_or(&self.path);
        def.insert(
            "workflow".into(),
            json!({ "path": shown, "sha256": self.digest, "with": self.inputs }),
        );
    }

    fn attempt<'a>(&'a self, cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        Box::pin(async move {
            let Some(children) = cx.children else {
                return Attempt::failed(ErrorKind::Expression, "this run cannot start child runs");
            };
            let req = ChildRequest {
                workflow: self.path.clone(),
                inputs: Json::Object(self.inputs.clone()),
                parent_step: cx.display_id.to_string(),
                resume: cx.resume_child.map(str::to_string),
            };
            let outcome = match children.run_child(req).await {
                Ok(o) => o,
                Err(e) => return Attempt::failed(ErrorKind::Expression, e.to_string()),
            };
            let mut a = match outcome.status {
                Status::Succeeded => Attempt::ok(),
                Status::Cancelled => Attempt::failed(
                    ErrorKind::Cancelled,
                    format!("child run {} was cancelled", outcome.run_id),
                ),
                status => Attempt::failed(
                    ErrorKind::Exit,
                    match &outcome.error {
                        Some(e) => format!("child run {} {}: {e}", outcome.run_id, status.as_str()),
                        None => format!("child run {} {}", outcome.run_id, status.as_str()),
                    },
                ),
            };
            if let Json::Object(m) = outcome.outputs {
                a.outputs = m;
            }
            a.extra.insert("run_id".into(), json!(outcome.run_id));
            a
        })
    }
}
