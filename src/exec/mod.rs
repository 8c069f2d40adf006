//! The engine: schedules the DAG on tokio, runs each step through its
//! executor with retries and timeouts, and reports through [`Sink`] events
//! only — it never prints and never touches storage.

pub mod cancel;
pub mod retry;
mod scheduler;
mod unit;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::event::{Sink, Status};
use crate::model::{Config, Workflow};

pub use cancel::{CancelLevel, CancelWatch, Canceller};

/// Everything a run needs besides the workflow itself; resolved by the command.
pub struct RunOptions {
    pub run_id: Arc<str>,
    /// Validated inputs, defaults applied.
    pub inputs: Json,
    pub concurrency: usize,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Where steps run: the project directory.
    pub project_dir: PathBuf,
    /// Scratch space for `ORCH_OUTPUT` files; removed by the caller.
    pub scratch_dir: PathBuf,
    /// Environment of orch itself, the base of every step's environment.
    pub process_env: Vec<(String, String)>,
    /// External cancellation (Ctrl-C / SIGTERM).
    pub cancel: CancelWatch,
}

/// What a step (or one `for_each` item) ended as.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// `id`, or `id[i]` for a `for_each` item.
    pub id: String,
    pub status: Status,
    pub attempts: u32,
    pub duration: Option<Duration>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub outputs: Json,
    pub items: Vec<StepReport>,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub status: Status,
    pub steps: Vec<StepReport>,
    /// Step ids that failed, in the order they failed (root cause first).
    pub failures: Vec<String>,
    pub outputs: Json,
    /// A failure of the run itself (timeout, workflow outputs).
    pub error: Option<String>,
    pub duration: Duration,
}

/// Run a validated workflow to the end.
pub async fn run(
    wf: Arc<Workflow>,
    cfg: Arc<Config>,
    opts: RunOptions,
    sink: Arc<dyn Sink>,
) -> RunOutcome {
    scheduler::Engine::new(wf, cfg, opts, sink).run().await
}
