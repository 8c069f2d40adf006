//! Child runs: a workflow run on behalf of a parent's step, through the
//! engine's [`ChildRunner`] port. The child is a run of its own in the
//! history (its row names the parent in `parent_run_id`), written by a
//! history writer of its own (a writer records one run); it shares the
//! parent's masker, secrets, services, step cache, telemetry log, webhook
//! and cancellation. The reporter shows the parent's steps only: the
//! child's are in its own record (`orch show CHILD`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::diag::Diag;
use crate::error::Error;
use crate::event::{Event, Fanout, Output, Sink};
use crate::exec::{
    self, CancelWatch, ChildError, ChildOutcome, ChildRequest, ChildRunner, RunOptions, StepCache,
};
use crate::history::writer::{HistorySink, WriterConfig};
use crate::history::{Home, Store};
use crate::mask::{Masker, MaskingSink};
use crate::model::Config;
use crate::report::Reporter;
use crate::secrets::Secrets;
use crate::settings::{Parallelism, PreApproved, Project, RunSettings};

use super::approver::RunApprover;
use super::record::{self, NewRecord};
use super::sinks::FinishGuard;

/// The parent's settings that child runs inherit.
#[derive(Clone)]
pub(crate) struct Settings {
    config: Arc<Config>,
    project_dir: PathBuf,
    config_path: Option<PathBuf>,
    parallelism: Parallelism,
    cache_max: usize,
    grace: Duration,
    step_env: Vec<(String, String)>,
    scratch_base: PathBuf,
    pre_approved: PreApproved,
    interactive: bool,
    user: crate::settings::UserName,
    schedule: crate::settings::Schedule,
}

impl Settings {
    pub(crate) fn of(s: &RunSettings, project: &Project) -> Settings {
        Settings {
            config: project.config.clone(),
            project_dir: project.dir.clone(),
            config_path: project.config_path.clone(),
            parallelism: s.parallelism,
            cache_max: s.cache_max,
            grace: s.grace,
            step_env: s.step_env.clone(),
            scratch_base: s.scratch_base.clone(),
            pre_approved: s.pre_approved.clone(),
            interactive: s.interactive,
            user: s.user.clone(),
            schedule: s.schedule,
        }
    }
}

/// What every run of a tree shares.
pub(crate) struct Shared {
    pub(crate) home: Home,
    pub(crate) settings: Settings,
    /// For approvals asked on the terminal (it pauses the live view).
    pub(crate) reporter: Arc<dyn Reporter>,
    /// The parent's telemetry log and webhook.
    pub(crate) observers: Vec<Arc<dyn Sink>>,
    pub(crate) masker: Arc<Masker>,
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) services: Option<Arc<crate::services::Runtime>>,
    pub(crate) cache: Option<Arc<dyn StepCache>>,
    pub(crate) cancel: CancelWatch,
    /// The tree's slots: the parent's concurrency.
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
}

/// Runs the children of one run.
pub(crate) struct ChildRuns {
    shared: Arc<Shared>,
    parent: Arc<str>,
}

impl ChildRuns {
    pub(crate) fn new(shared: Shared, parent: Arc<str>) -> ChildRuns {
        ChildRuns {
            shared: Arc::new(shared),
            parent,
        }
    }
}

impl ChildRunner for ChildRuns {
    fn run_child(&self, req: ChildRequest) -> crate::steps::workflow::ChildFuture {
        let shared = self.shared.clone();
        let parent = self.parent.clone();
        Box::pin(async move { run(shared, parent, req).await })
    }

    fn compensate_child(
        &self,
        run_id: String,
        parent_step: String,
    ) -> crate::steps::workflow::ChildFuture {
        let shared = self.shared.clone();
        let parent = self.parent.clone();
        Box::pin(async move { undo(shared, parent, run_id, parent_step).await })
    }
}

/// Shows a child's steps in the parent's view as `parent-step/child-step`;
/// the child's own run events are not shown (its step's end says it all).
struct Nested {
    under: String,
    inner: Arc<dyn Reporter>,
}

impl Sink for Nested {
    fn event(&self, ev: &Event) {
        // The child's own run events are not shown: its step's end says it all.
        let mut ev = ev.clone();
        let Some(step) = ev.kind.step_mut() else {
            return;
        };
        *step = format!("{}/{step}", self.under);
        ev.label = ev.label.map(|l| Arc::from(format!("{}/{l}", self.under)));
        self.inner.event(&ev);
    }

    fn output(&self, out: &Output<'_>) {
        let step = format!("{}/{}", self.under, out.step_id);
        self.inner.output(&Output {
            step_id: &step,
            lines: out.lines,
        });
    }
}

/// Undo the child run `id` of `parent` for the parent's saga: its units
/// that finished are compensated, last finished first; nothing else runs.
async fn undo(
    shared: Arc<Shared>,
    parent: Arc<str>,
    id: String,
    parent_step: String,
) -> Result<ChildOutcome, ChildError> {
    let s = &shared.settings;
    let store = Store::open(&shared.home).map_err(|d| environment(Error::environment(d)))?;
    let row = store
        .resolve_run(&id)
        .map_err(|e| ChildError::Environment(e.to_string()))?;
    if row.parent_run_id.as_deref() != Some(&*parent) {
        return Err(ChildError::Environment(format!(
            "run {id} is not a child of run {parent}"
        )));
    }
    let path = std::path::PathBuf::from(&row.file_path);
    let invalid = |message: String| ChildError::Invalid {
        path: row.file_path.clone(),
        message,
    };
    let src = crate::load::read_source(&path).map_err(|d| invalid(d.to_string()))?;
    let wf =
        crate::validate::workflow_source(&src, &s.config).map_err(|d| invalid(messages(&d)))?;
    let lock = record::take_lock(&shared.home, &row.id).map_err(environment)?;
    let steps = store
        .steps(&row.id)
        .map_err(|e| ChildError::Environment(e.to_string()))?;
    let compensations = store
        .compensations(&row.id)
        .map_err(|e| ChildError::Environment(e.to_string()))?;
    let done: std::collections::HashSet<&str> = compensations
        .iter()
        .filter(|c| c.finished())
        .map(|c| c.step_id.as_str())
        .collect();
    let definitions = row.definitions();
    let recorded: Vec<_> = steps
        .iter()
        .filter(|s| s.parent.is_none())
        .map(crate::history::runs::StepRow::recorded)
        .collect();
    let plan = crate::plan::resume::resume_compensations(
        &wf,
        &crate::plan::resume::Recorded {
            definitions: &definitions,
            steps: &recorded,
        },
        &done,
        None,
    );
    let Ok(plan) = plan else {
        // Nothing (left) to undo.
        return Ok(ChildOutcome {
            run_id: row.id,
            status: crate::event::Status::Succeeded,
            outputs: serde_json::Value::Null,
            error: None,
        });
    };
    let inputs = serde_json::from_str(&row.inputs).unwrap_or(serde_json::Value::Null);
    run_engine(
        &shared,
        Arc::new(wf),
        store,
        Start {
            attempt: u32::try_from(row.attempt).unwrap_or(1),
            run_id: row.id,
            lock,
            restore: plan.restore,
            resume_children: HashMap::new(),
            restore_items: HashMap::new(),
            inputs,
            parent_step,
            compensate_only: true,
        },
    )
    .await
}

/// Reset the unfinished child run `id` of `parent` to continue it (as
/// `orch resume` would), keeping
/// what finished; `None` when it is not this parent's, already succeeded,
/// alive in another process, or changed so that resuming is unsafe.
fn continue_child(
    store: &mut Store,
    home: &Home,
    id: &str,
    parent: &str,
    wf: &crate::model::Workflow,
    parent_step: &str,
) -> Option<Start> {
    let row = store.resolve_run(id).ok()?;
    let ours = row.parent_run_id.as_deref() == Some(parent) && row.workflow == wf.name;
    if !ours || row.status == crate::event::Status::Succeeded {
        return None;
    }
    let lock = record::take_lock(home, &row.id).ok()?;
    let stored: serde_json::Value = serde_json::from_str(&row.inputs).ok()?;
    let inputs = crate::inputs::recheck(wf, &stored).ok()?;
    let steps = store.steps(&row.id).ok()?;
    let definitions = row.definitions();
    let recorded: Vec<_> = steps
        .iter()
        .filter(|s| s.parent.is_none())
        .map(crate::history::runs::StepRow::recorded)
        .collect();
    let rec = crate::plan::resume::Recorded {
        definitions: &definitions,
        steps: &recorded,
    };
    let plan = crate::plan::resume::resume(wf, &rec, None).ok()?;
    let children = crate::history::runs::unfinished_children(&steps, &plan.kept());
    let item_rows: Vec<_> = steps
        .iter()
        .filter(|s| s.parent.is_some())
        .map(crate::history::runs::StepRow::recorded)
        .collect();
    let items = crate::plan::resume::kept_items(wf, &rec, &item_rows, &plan);
    let keep_items_of: std::collections::HashSet<&str> = items.keys().map(String::as_str).collect();
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    store
        .reset_for_resume(&crate::history::runs::ResumeReset {
            run_id: &row.id,
            steps: &ids,
            kept: &plan.kept(),
            keep_items_of: &keep_items_of,
            rerun_from: &plan.rerun_from,
            definitions: &record::definitions(wf),
            file_hash: &crate::digest::sha256_hex(wf.source.text.as_bytes()),
        })
        .ok()?;
    Some(Start {
        attempt: u32::try_from(row.attempt).unwrap_or(1) + 1,
        run_id: row.id,
        lock,
        restore: plan.restore,
        resume_children: children,
        restore_items: items,
        inputs,
        parent_step: parent_step.to_string(),
        compensate_only: false,
    })
}

fn messages(diags: &[Diag]) -> String {
    diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn environment(e: Error) -> ChildError {
    ChildError::Environment(messages(e.diags()))
}

async fn run(
    shared: Arc<Shared>,
    parent: Arc<str>,
    req: ChildRequest,
) -> Result<ChildOutcome, ChildError> {
    if shared.home.in_memory {
        // Each in-memory connection is a database of its own: the child's
        // row could not name its parent.
        return Err(ChildError::NotSupported("with ORCH_HISTORY=memory"));
    }
    let s = &shared.settings;
    let path = record::absolute(&req.workflow, &s.project_dir);
    let invalid = |message: String| ChildError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let src = crate::load::read_source(&path).map_err(|d| invalid(d.to_string()))?;
    let wf =
        crate::validate::workflow_source(&src, &s.config).map_err(|d| invalid(messages(&d)))?;
    let wf = Arc::new(wf);
    let inputs = crate::inputs::recheck(&wf, &req.inputs).map_err(|d| invalid(messages(&d)))?;

    let mut store = Store::open(&shared.home).map_err(|d| environment(Error::environment(d)))?;
    // On resume of the parent: continue its unfinished child run, if that can
    // be done safely; otherwise (changed, alive, gone) a new child starts.
    let continued = req.resume.as_deref().and_then(|id| {
        continue_child(&mut store, &shared.home, id, &parent, &wf, &req.parent_step)
    });
    let start = match continued {
        Some(start) => start,
        None => {
            let run_id = record::new_run_id();
            let lock = record::take_lock(&shared.home, &run_id).map_err(environment)?;
            let project = Project {
                config: s.config.clone(),
                dir: s.project_dir.clone(),
                config_path: s.config_path.clone(),
            };
            record::create(
                &mut store,
                &run_id,
                &NewRecord {
                    project: &project,
                    wf: &wf,
                    inputs: &inputs,
                    parent: Some(&parent),
                    cwd: &s.project_dir,
                },
            )
            .map_err(environment)?;
            Start {
                run_id,
                lock,
                attempt: 1,
                restore: HashMap::new(),
                resume_children: HashMap::new(),
                restore_items: HashMap::new(),
                inputs,
                parent_step: req.parent_step,
                compensate_only: false,
            }
        }
    };
    run_engine(&shared, wf, store, start).await
}

/// How a child's engine starts: a new or continued run, or an undo.
struct Start {
    run_id: String,
    lock: crate::history::lock::RunLock,
    attempt: u32,
    restore: HashMap<String, crate::plan::Restored>,
    resume_children: HashMap<String, String>,
    restore_items: HashMap<String, HashMap<usize, crate::plan::Restored>>,
    inputs: serde_json::Value,
    parent_step: String,
    compensate_only: bool,
}

/// Run a child's engine on the shared sinks, finish its record, say how it
/// ended.
async fn run_engine(
    shared: &Arc<Shared>,
    wf: Arc<crate::model::Workflow>,
    store: Store,
    start: Start,
) -> Result<ChildOutcome, ChildError> {
    let s = &shared.settings;
    let Start {
        run_id,
        lock,
        attempt,
        restore,
        resume_children,
        restore_items,
        inputs,
        parent_step,
        compensate_only,
    } = start;
    // Ranked from the child's own history, before the writer takes the store.
    // Its slots are the tree's: ranked whatever its shape.
    let plan = Arc::new(super::plan_for(s.schedule, &store, &shared.home, &wf, None));
    let history = HistorySink::start(
        store,
        WriterConfig {
            run_id: run_id.clone(),
            run_attempt: i64::from(attempt),
            steps: wf.steps.iter().map(|s| s.id.clone()).collect(),
            logs_dir: Some(shared.home.run_logs(&run_id)),
            cache_max: s.cache_max,
            durations: super::ranking_matters(&plan, &wf, None),
        },
    );
    let mut history_guard = FinishGuard::new(history.clone());
    let mut all: Vec<Arc<dyn Sink>> = vec![history];
    all.extend(shared.observers.iter().cloned());
    // The parent's view shows the child's steps under the step that asked.
    all.push(Arc::new(Nested {
        under: parent_step,
        inner: shared.reporter.clone(),
    }));
    let top: Arc<dyn Sink> = Arc::new(MaskingSink::new(
        Arc::new(Fanout(all)),
        shared.masker.clone(),
    ));
    // The parent's services when it has them; else the child's own.
    let own_services = match &shared.services {
        Some(_) => None,
        None => super::services_for(&wf, &s.config, &shared.home, shared.masker.clone())
            .map_err(environment)?,
    };
    let scratch = s.scratch_base.join(format!("orch-{run_id}"));
    std::fs::create_dir_all(&scratch).map_err(|e| {
        ChildError::Environment(format!("cannot create {}: {e}", scratch.display()))
    })?;
    let child_id: Arc<str> = Arc::from(run_id.as_str());
    let opts = RunOptions {
        run_id: child_id.clone(),
        inputs,
        concurrency: s.parallelism.of(None, &wf, &s.config),
        grace: s.grace,
        project_dir: s.project_dir.clone(),
        scratch_dir: scratch.clone(),
        process_env: s.step_env.clone(),
        cancel: shared.cancel.clone(),
        attempt,
        restore,
        resume_children,
        compensate_only,
        restore_items,
        cache: shared.cache.clone(),
        approver: Arc::new(RunApprover {
            pre: s.pre_approved.clone(),
            recorded: HashMap::new(),
            interactive: s.interactive,
            reporter: shared.reporter.clone(),
            user: s.user.clone(),
            cancel: shared.cancel.clone(),
        }),
        services: shared.services.clone().or_else(|| own_services.clone()),
        secrets: shared.secrets.clone(),
        masker: shared.masker.clone(),
        slots: Some(shared.slots.clone()),
        children: Some(Arc::new(ChildRuns {
            shared: shared.clone(),
            parent: child_id,
        })),
    };
    let outcome = exec::run(wf, plan, s.config.clone(), opts, top).await;
    if let Some(rt) = &own_services {
        rt.breakers.flush();
    }
    super::remove_scratch(&scratch);
    let recorded = history_guard.finish().unwrap_or_default();
    drop(lock);
    let problem = recorded.error.or_else(|| {
        (!recorded.illegal.is_empty()).then(|| {
            format!(
                "illegal status transitions were refused: {}",
                recorded.illegal.join("; ")
            )
        })
    });
    if let Some(message) = problem {
        return Err(ChildError::Recording { run_id, message });
    }
    let mut outcome = Arc::unwrap_or_clone(outcome);
    super::mask_outcome(&shared.masker, &mut outcome);
    Ok(ChildOutcome {
        run_id,
        status: outcome.status,
        error: outcome.event_error().map(|e| e.into_owned()),
        outputs: outcome.outputs.to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Status;
    use serde_json::json;

    const CHILD: &str = "name: child\n\
        inputs:\n  who: { type: string }\n\
        outputs:\n  greeting: ${{ steps.greet.outputs.text }}\n\
        steps:\n  - id: greet\n    transform: { text: \"hello ${{ inputs.who }}\" }\n";

    struct Tree {
        home: tempfile::TempDir,
        project: tempfile::TempDir,
        _canceller: exec::Canceller,
        runs: ChildRuns,
    }

    /// A parent run recorded in a fresh history, with `child.yaml` beside it.
    fn tree(in_memory: bool) -> Tree {
        let home_dir = tempfile::tempdir().unwrap();
        let project_dir = tempfile::tempdir().unwrap();
        std::fs::write(project_dir.path().join("child.yaml"), CHILD).unwrap();
        std::fs::write(project_dir.path().join("broken.yaml"), "name: [\n").unwrap();
        let home = Home {
            dir: home_dir.path().to_path_buf(),
            in_memory,
        };
        let project = Project {
            config: Arc::new(Config::default()),
            dir: project_dir.path().to_path_buf(),
            config_path: None,
        };
        if !in_memory {
            let src = Arc::new(crate::source::Source::new(
                "parent.yaml",
                "parent.yaml",
                "name: parent\nsteps: [{id: a, run: x}]\n",
            ));
            let wf = crate::validate::workflow_source(&src, &project.config).unwrap();
            let mut store = Store::open(&home).unwrap();
            record::create(
                &mut store,
                "parent",
                &NewRecord {
                    project: &project,
                    wf: &wf,
                    inputs: &json!({}),
                    parent: None,
                    cwd: project_dir.path(),
                },
            )
            .unwrap();
        }
        let (canceller, cancel) = exec::cancel::channel();
        let settings = Settings {
            config: project.config.clone(),
            project_dir: project.dir.clone(),
            config_path: None,
            parallelism: Parallelism::from_env(&crate::settings::EnvVars::default()).unwrap(),
            cache_max: 10,
            grace: Duration::from_secs(1),
            step_env: vec![],
            scratch_base: home_dir.path().join("tmp"),
            pre_approved: PreApproved::None,
            interactive: false,
            user: crate::settings::UserName::known("tester"),
            schedule: crate::settings::Schedule::CriticalPath,
        };
        let runs = ChildRuns::new(
            Shared {
                slots: Arc::new(tokio::sync::Semaphore::new(4)),
                home,
                settings,
                reporter: Arc::new(crate::report::json::JsonReporter::new(false)),
                observers: vec![],
                masker: Arc::new(Masker::new()),
                secrets: Arc::new(Secrets::env_only(Vec::new())),
                services: None,
                cache: None,
                cancel,
            },
            Arc::from("parent"),
        );
        Tree {
            home: home_dir,
            project: project_dir,
            _canceller: canceller,
            runs,
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn request(file: &str, inputs: serde_json::Value) -> ChildRequest {
        ChildRequest {
            workflow: PathBuf::from(file),
            inputs,
            parent_step: "call-child".into(),
            resume: None,
        }
    }

    #[test]
    fn a_child_run_is_recorded_under_its_parent() {
        let t = tree(false);
        let out = block_on(
            t.runs
                .run_child(request("child.yaml", json!({"who": "ana"}))),
        )
        .expect("the child runs");
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.outputs, json!({"greeting": "hello ana"}));
        let conn = rusqlite::Connection::open(t.home.path().join("history.db")).unwrap();
        let (parent, status, file): (Option<String>, String, String) = conn
            .query_row(
                "SELECT parent_run_id, status, file_path FROM runs WHERE id = ?1",
                [&out.run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(parent.as_deref(), Some("parent"));
        assert_eq!(status, "succeeded");
        assert_eq!(
            PathBuf::from(file),
            t.project.path().join("child.yaml"),
            "recorded where it was found"
        );
        let step: String = conn
            .query_row(
                "SELECT status FROM steps WHERE run_id = ?1 AND step_id = 'greet'",
                [&out.run_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(step, "succeeded");
    }

    #[test]
    fn a_child_that_cannot_start_says_why() {
        let t = tree(false);
        let bad_input = block_on(t.runs.run_child(request("child.yaml", json!({"whom": 1}))));
        assert!(
            matches!(&bad_input, Err(ChildError::Invalid { message, .. }) if message.contains("whom")),
            "{bad_input:?}"
        );
        let broken = block_on(t.runs.run_child(request("broken.yaml", json!({}))));
        assert!(
            matches!(broken, Err(ChildError::Invalid { .. })),
            "{broken:?}"
        );
        let missing = block_on(t.runs.run_child(request("nope.yaml", json!({}))));
        assert!(
            matches!(missing, Err(ChildError::Invalid { .. })),
            "{missing:?}"
        );
    }

    #[test]
    fn in_memory_history_has_no_child_runs_yet() {
        let t = tree(true);
        let r = block_on(
            t.runs
                .run_child(request("child.yaml", json!({"who": "ana"}))),
        );
        let err = r.expect_err("not supported");
        assert!(matches!(err, ChildError::NotSupported(_)));
        assert!(err.to_string().contains("not supported yet"), "{err}");
    }
}
