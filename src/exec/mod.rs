//! The engine: schedules the DAG on tokio, runs each step through its
//! executor with retries and timeouts, and reports through [`Sink`] events
//! only — it never prints and never touches storage.

pub(crate) mod fanout;
pub(crate) mod fingerprint;
pub(crate) mod prepare;
pub(crate) mod retry;
mod scheduler;
mod state;
mod unit;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::event::{RunSummary, Sink};

/// The engine's result, under the name its callers knew.
pub(crate) use crate::event::{RunSummary as RunOutcome, StepReport};
use crate::model::{Config, Workflow};
use crate::plan::Plan;

/// Cancellation is a leaf (steps use it too); re-exported where it was.
pub(crate) use crate::cancel::{self, CancelLevel, CancelWatch, Canceller};
/// The child-run port is the `workflow:` executor's; re-exported for the session.
pub(crate) use crate::steps::workflow::{ChildError, ChildOutcome, ChildRequest, ChildRunner};

/// Everything a run needs besides the workflow itself; resolved by the command.
pub(crate) struct RunOptions {
    pub(crate) run_id: Arc<str>,
    /// Validated inputs, defaults applied.
    pub(crate) inputs: Json,
    pub(crate) concurrency: usize,
    /// Time between SIGTERM and SIGKILL.
    pub(crate) grace: Duration,
    /// Where steps run: the project directory.
    pub(crate) project_dir: PathBuf,
    /// Scratch space for `ORCH_OUTPUT` files; removed by the caller.
    pub(crate) scratch_dir: PathBuf,
    /// Environment of orch itself, the base of every step's environment.
    pub(crate) process_env: Vec<(String, String)>,
    /// External cancellation (Ctrl-C / SIGTERM).
    pub(crate) cancel: CancelWatch,
    /// 1 for a new run, +1 for each `orch resume` (`run.attempt`).
    pub(crate) attempt: u32,
    /// Steps that finished in an earlier attempt of this run (`orch resume`):
    /// they keep their results and do not run again.
    pub(crate) restore: HashMap<String, Restored>,
    /// Where `cache:` steps look for earlier results; `None` with `--no-cache`.
    pub(crate) cache: Option<Arc<dyn StepCache>>,
    /// Who decides `approval` steps.
    pub(crate) approver: Arc<dyn Approver>,
    /// The HTTP client, breakers and rate limits of `http`/`call` steps;
    /// `None` when the workflow has none.
    pub(crate) services: Option<Arc<crate::services::Runtime>>,
    /// Where `secrets.*` and service credentials come from.
    pub(crate) secrets: Arc<crate::secrets::Secrets>,
    /// Every secret fetched is added here, so sinks can mask it.
    pub(crate) masker: Arc<crate::mask::Masker>,
    /// The slots of the whole run tree (a parent and its child runs), so a
    /// child's steps count against the parent's concurrency; `None`: only
    /// `concurrency` caps this run.
    pub(crate) slots: Option<Arc<tokio::sync::Semaphore>>,
    /// On resume: the unfinished child run of each `workflow:` step (or
    /// item) to run again, by display id; its first attempt continues it.
    pub(crate) resume_children: HashMap<String, String>,
    /// On resume: the items of `for_each` steps that run again which
    /// succeeded before, by step id and index; they keep their results.
    pub(crate) restore_items: HashMap<String, HashMap<usize, Restored>>,
    /// Only undo what the restored steps did (a child run undone by its
    /// parent's saga): no step runs, no run events.
    pub(crate) compensate_only: bool,
    /// Runs child workflows; `None` where runs have no children.
    pub(crate) children: Option<Arc<dyn ChildRunner>>,
}

/// What `orch resume` carries over is the plan's; the engine takes it as is.
pub(crate) use crate::plan::resume::Restored;

/// Earlier results of `cache:` steps, by fingerprint. Entries are written
/// through the sink (the `cache` note of a `step.completed` event).
pub(crate) trait StepCache: Send + Sync {
    /// The `steps.<id>` view stored under a fresh (unexpired) fingerprint.
    fn lookup(&self, fingerprint: &str) -> Option<Json>;
}

#[cfg(test)]
pub(crate) use crate::steps::approval::NoApprover;
/// Who decides approval steps: the port is the approval executor's.
pub(crate) use crate::steps::approval::{ApprovalRequest, Approver, Decision, DecisionFuture};

/// Run a validated workflow, whose plan was built once beforehand, to the end.
pub(crate) async fn run(
    wf: Arc<Workflow>,
    plan: Arc<Plan>,
    cfg: Arc<Config>,
    opts: RunOptions,
    sink: Arc<dyn Sink>,
) -> Arc<RunSummary> {
    scheduler::Engine::new(wf, plan, cfg, opts, sink)
        .run()
        .await
}
