//! The port through which a run starts a child run of another workflow.
//! The engine asks; the layer that owns history and sinks (the run
//! session) implements it, so a child shares the parent's masker,
//! services, sinks and cancellation.

// Nothing in the engine asks for a child run until the `workflow:` step kind
// lands; the session's tests run this port end to end meanwhile.
#![allow(dead_code, reason = "its first caller is the `workflow:` step kind")]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde_json::Value as Json;

use crate::event::Status;

/// A child workflow to run, asked for by a step of the parent.
#[derive(Debug, Clone)]
pub(crate) struct ChildRequest {
    /// The workflow file; relative paths are under the project directory.
    pub(crate) workflow: PathBuf,
    /// The child's inputs as a JSON object, checked against its declarations.
    pub(crate) inputs: Json,
    /// The parent's step that asked.
    pub(crate) parent_step: String,
}

/// How a child run ended.
#[derive(Debug, Clone)]
pub(crate) struct ChildOutcome {
    /// Its own run id (`orch show` it); its record names the parent.
    pub(crate) run_id: String,
    pub(crate) status: Status,
    /// The child workflow's `outputs`.
    pub(crate) outputs: Json,
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
}
