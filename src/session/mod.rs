//! One run from start to finish, for `orch run` and `orch resume`: the sink
//! stack, the runtime, services and approver, signal handling, the engine,
//! and every sink finished on every path out. Commands record the run and
//! report how it ended; this module runs it and prints nothing of its own.

pub(crate) mod approver;
mod child;
mod record;
mod signals;
mod sinks;
pub(crate) mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::diag::Diag;
use crate::error::Error;
use crate::event::{Sink, Status};
use crate::exec::{self, Approver, Restored, RunOptions, RunOutcome, StepCache};
use crate::exit::Exit;
use crate::history::lock::RunLock;
use crate::history::runs::ApprovalRow;
use crate::history::writer::{HistorySink, WriterConfig, WriterReport};
use crate::history::{Home, Store};
use crate::mask::Masker;
use crate::model::{Config, Workflow};
use crate::report::{OutputMode, Reporter};
use crate::secrets::Secrets;
use crate::settings::{Project, RunSettings, Schedule};

pub(crate) use child::ChildRuns;
pub(crate) use record::definitions;
pub(crate) use record::{create as create_record, new_run_id, take_lock, NewRecord};

/// A recorded run, ready to (re)start.
pub(crate) struct Recorded {
    pub(crate) home: Home,
    /// The connection the run was recorded on; the history writer takes it.
    pub(crate) store: Store,
    pub(crate) project: Project,
    pub(crate) wf: Arc<Workflow>,
    pub(crate) inputs: Json,
    pub(crate) run_id: String,
    /// 1 for a new run, +1 for each `orch resume`.
    pub(crate) attempt: u32,
    /// Steps that keep their results from an earlier attempt.
    pub(crate) restore: HashMap<String, Restored>,
    /// Approval decisions already recorded for this run.
    pub(crate) approvals: HashMap<String, ApprovalRow>,
    /// On resume: the child runs that `workflow:` steps (or items) to run
    /// again left unfinished, by step id; they are continued, not restarted.
    pub(crate) children: HashMap<String, String>,
    /// On resume: the items of `for_each` steps that run again which keep
    /// their results, by step id and index.
    pub(crate) items: HashMap<String, HashMap<usize, Restored>>,
    /// Held until the run ends: it is what tells other processes it is alive.
    pub(crate) lock: RunLock,
}

/// A run with everything it needs started, not yet running.
pub(crate) struct RunSession {
    // Dropped first: finishing the history writer needs nothing else.
    sinks: sinks::Sinks,
    runtime: tokio::runtime::Runtime,
    top: Arc<dyn Sink>,
    home: Home,
    wf: Arc<Workflow>,
    /// Built before the history writer takes the connection: the order
    /// comes from the durations it recorded.
    plan: Arc<crate::plan::Plan>,
    config: Arc<Config>,
    project_dir: PathBuf,
    inputs: Json,
    run_id: String,
    attempt: u32,
    restore: HashMap<String, Restored>,
    cache: Option<Arc<dyn StepCache>>,
    approver: Arc<dyn Approver>,
    canceller: exec::Canceller,
    cancel: exec::CancelWatch,
    services: Option<Arc<crate::services::Runtime>>,
    secrets: Arc<Secrets>,
    masker: Arc<Masker>,
    concurrency: usize,
    grace: Duration,
    step_env: Vec<(String, String)>,
    scratch_base: PathBuf,
    show_hint: bool,
    /// `telemetry.metrics_endpoint`, when the run's metrics are pushed.
    metrics_push: Option<String>,
    /// For child runs: what they share with this one.
    child_settings: child::Settings,
    /// Child runs to continue (see [`Recorded::children`]).
    resume_children: HashMap<String, String>,
    /// Items kept from an earlier attempt (see [`Recorded::items`]).
    restore_items: HashMap<String, HashMap<usize, Restored>>,
    description: String,
    _lock: RunLock,
}

impl RunSession {
    /// Start the history writer, the other sinks, the runtime and the
    /// services. An error here finishes whatever was started.
    pub(crate) fn start(settings: &RunSettings, rec: Recorded) -> Result<RunSession, Error> {
        let Recorded {
            home,
            store,
            project,
            wf,
            inputs,
            run_id,
            attempt,
            restore,
            children: resume_children,
            items: restore_items,
            approvals,
            lock,
        } = rec;
        let reporter = sinks::reporter(settings, &wf, &restore);
        let plan = Arc::new(plan_for(
            settings.schedule,
            &store,
            &home,
            &wf,
            Some(settings.concurrency),
        ));
        let cache: Option<Arc<dyn StepCache>> = if settings.no_cache || home.in_memory {
            None
        } else {
            // The schema is current: the run's own connection just checked it.
            Some(Arc::new(crate::history::cache::CacheReader::new(
                home.db_path(),
            )))
        };
        let history = HistorySink::start(
            store,
            WriterConfig {
                run_id: run_id.clone(),
                run_attempt: attempt as i64,
                steps: wf.steps.iter().map(|s| s.id.clone()).collect(),
                logs_dir: (!home.in_memory).then(|| home.run_logs(&run_id)),
                cache_max: settings.cache_max,
                // Whether a later run of it, at any concurrency, is ranked.
                durations: ranking_matters(&plan, &wf, Some(1)),
            },
        );
        let mut sinks = sinks::Sinks::new(history, reporter.clone());
        sinks.add_github(&settings.github_files);
        if let Some(path) = &settings.telemetry_log {
            sinks.open_log(path)?;
        }
        if let Some(path) = &settings.junit {
            sinks.open_junit(path)?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::environment(Diag::new("io", format!("cannot start the runtime: {e}")))
            })?;
        if let Some(url) = &settings.webhook_url {
            sinks.start_webhook(url.clone(), &runtime);
        }
        let secrets = Arc::new(Secrets::new(settings.secret_env.iter().cloned()));
        let masker = Arc::new(Masker::new());
        for v in secrets.env_values() {
            masker.add(&v);
        }
        let top = sinks.top(&masker);
        let services = services_for(&wf, &project.config, &home, masker.clone())?;
        // Made here: the approver's prompt watches the run's cancellation.
        let (canceller, cancel) = exec::cancel::channel();
        let approver = Arc::new(approver::RunApprover {
            pre: settings.pre_approved.clone(),
            recorded: approvals,
            interactive: settings.interactive,
            reporter: reporter.clone(),
            user: settings.user.clone(),
            cancel: cancel.clone(),
        });
        let description = format!(
            "orch: run {run_id} (attempt {attempt}), workflow {} ({}), config {}, project dir {}, \
             history {}, concurrency {}",
            wf.name,
            wf.source.name,
            project
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
            project.dir.display(),
            home.db_path().display(),
            settings.concurrency,
        );
        Ok(RunSession {
            child_settings: child::Settings::of(settings, &project),
            restore_items,
            resume_children,
            sinks,
            runtime,
            top,
            home,
            wf,
            plan,
            config: project.config.clone(),
            project_dir: project.dir.clone(),
            inputs,
            run_id,
            attempt,
            restore,
            cache,
            approver,
            canceller,
            cancel,
            services,
            secrets,
            masker,
            concurrency: settings.concurrency,
            grace: settings.grace,
            step_env: settings.step_env.clone(),
            scratch_base: settings.scratch_base.clone(),
            show_hint: settings.output != OutputMode::Json && !settings.quiet,
            metrics_push: settings.metrics_push.clone(),
            description,
            _lock: lock,
        })
    }

    /// What cancels the run gracefully, as the first Ctrl-C does (`--watch`
    /// uses it when a watched file changes).
    pub(crate) fn canceller(&self) -> exec::Canceller {
        self.canceller.clone()
    }

    /// One line on what is about to run (`-v`).
    pub(crate) fn describe(&self) -> &str {
        &self.description
    }

    /// Run the engine to the end, then finish every sink.
    pub(crate) fn run(mut self) -> Result<Finished, Error> {
        let scratch = self.scratch_base.join(format!("orch-{}", self.run_id));
        std::fs::create_dir_all(&scratch).map_err(|e| {
            Error::environment(Diag::new(
                "io",
                format!("cannot create {}: {e}", scratch.display()),
            ))
        })?;
        let (canceller, cancel) = (self.canceller.clone(), self.cancel.clone());
        let run_id: Arc<str> = Arc::from(self.run_id.as_str());
        // The parent's concurrency caps the whole tree, children included.
        let slots = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let children = ChildRuns::new(
            child::Shared {
                slots: slots.clone(),
                home: self.home.clone(),
                settings: self.child_settings.clone(),
                reporter: self.sinks.reporter.clone(),
                observers: self.sinks.observers.clone(),
                masker: self.masker.clone(),
                secrets: self.secrets.clone(),
                services: self.services.clone(),
                cache: self.cache.clone(),
                cancel: cancel.clone(),
            },
            run_id.clone(),
        );
        let opts = RunOptions {
            run_id,
            inputs: std::mem::take(&mut self.inputs),
            concurrency: self.concurrency,
            grace: self.grace,
            project_dir: self.project_dir.clone(),
            scratch_dir: scratch.clone(),
            process_env: std::mem::take(&mut self.step_env),
            cancel,
            attempt: self.attempt,
            restore: std::mem::take(&mut self.restore),
            cache: self.cache.clone(),
            approver: self.approver.clone(),
            services: self.services.clone(),
            secrets: self.secrets.clone(),
            masker: self.masker.clone(),
            children: Some(Arc::new(children)),
            resume_children: std::mem::take(&mut self.resume_children),
            compensate_only: false,
            restore_items: std::mem::take(&mut self.restore_items),
            slots: Some(slots),
        };
        let (wf, config, top) = (self.wf.clone(), self.config.clone(), self.top.clone());
        let plan = self.plan.clone();
        let webhook = self.sinks.webhook.clone();
        let hint = self.show_hint.then(|| self.sinks.reporter.clone());
        let (outcome, delivery) = self.runtime.block_on(async move {
            tokio::spawn(signals::watch(canceller, hint));
            let outcome = exec::run(wf, plan, config, opts, top).await;
            // A slow webhook gets a moment to catch up, never more.
            let delivery = match &webhook {
                Some(w) => Some(w.finish(Duration::from_secs(2)).await),
                None => None,
            };
            (outcome, delivery)
        });
        if let Some(rt) = &self.services {
            rt.breakers.flush();
        }
        let undelivered = delivery.filter(|d| d.undelivered > 0).map(|d| Undelivered {
            undelivered: d.undelivered,
            total: d.undelivered + d.delivered,
            endpoint: self
                .sinks
                .webhook
                .as_ref()
                .map(|w| w.endpoint().to_string())
                .unwrap_or_else(|| "?".into()),
        });
        // Steps may still hold the scratch files open in leftover processes; best effort.
        remove_scratch(&scratch);
        let recorded = self.sinks.finish_history();
        // The history writer is done with the summary: no copy of it now
        // (a sink that keeps events, a webhook queue, keeps its own).
        let mut outcome = Arc::unwrap_or_clone(outcome);
        mask_outcome(&self.masker, &mut outcome);
        // On a thread of its own: the summary is printed while it goes.
        let metrics_push = self.push_metrics();
        Ok(Finished {
            run_id: self.run_id.clone(),
            outcome,
            undelivered,
            metrics_push,
            recorded,
            db_path: self.home.db_path(),
            reporter: self.sinks.reporter.clone(),
        })
    }
}

impl RunSession {
    /// `telemetry.metrics_endpoint`: the recorded run's metrics, PUT to the
    /// Pushgateway within [`DEADLINE`](crate::report::pushgateway::DEADLINE)
    /// on a thread of its own (the run is recorded: it reads the history);
    /// joined by [`Finished::metrics_pushed`].
    fn push_metrics(&self) -> Option<MetricsPush> {
        let endpoint = self.metrics_push.clone()?;
        if self.home.in_memory {
            return None;
        }
        let (home, run_id, workflow) =
            (self.home.clone(), self.run_id.clone(), self.wf.name.clone());
        let push = move || -> Result<(), String> {
            let filter = crate::history::metrics::MetricsFilter {
                run_id: Some(&run_id),
                ..Default::default()
            };
            let store = Store::open_existing(&home)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "no history".to_string())?;
            let body =
                crate::report::metrics::exposition(&store, &filter).map_err(|e| e.to_string())?;
            drop(store);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            rt.block_on(crate::report::pushgateway::push(&endpoint, &workflow, body))
        };
        let thread = std::thread::Builder::new()
            .name("metrics-push".into())
            .spawn(move || {
                push()
                    .err()
                    .map(|why| format!("the run's metrics could not be pushed: {why}"))
            });
        Some(match thread {
            Ok(t) => MetricsPush::Going(t),
            Err(e) => MetricsPush::NotStarted(format!(
                "the run's metrics could not be pushed: cannot start a thread: {e}"
            )),
        })
    }
}

/// A push of the run's metrics, under way.
enum MetricsPush {
    Going(std::thread::JoinHandle<Option<String>>),
    NotStarted(String),
}

/// Progress events the webhook could not deliver.
pub(crate) struct Undelivered {
    pub(crate) undelivered: u64,
    pub(crate) total: u64,
    /// `scheme://host:port`, safe to print.
    pub(crate) endpoint: String,
}

/// A run that ended, every sink finished.
pub(crate) struct Finished {
    pub(crate) run_id: String,
    /// Masked: the summary is printed from it, not from events.
    pub(crate) outcome: RunOutcome,
    pub(crate) undelivered: Option<Undelivered>,
    /// The push of the run's metrics (`telemetry.metrics_endpoint`).
    metrics_push: Option<MetricsPush>,
    recorded: WriterReport,
    db_path: PathBuf,
    reporter: Arc<dyn Reporter>,
}

impl Finished {
    /// The reporter's end-of-run summary.
    pub(crate) fn summary(&self) {
        self.reporter.summary(&self.outcome);
    }

    /// Wait for the push of the run's metrics (at most its deadline);
    /// why it did not go, for a warning. Never a failure of the run.
    pub(crate) fn metrics_pushed(&mut self) -> Option<String> {
        match self.metrics_push.take()? {
            MetricsPush::Going(t) => t.join().unwrap_or_else(|_| {
                Some("the run's metrics could not be pushed: the push failed".into())
            }),
            MetricsPush::NotStarted(why) => Some(why),
        }
    }

    /// The exit code of the outcome, or why it cannot be trusted.
    pub(crate) fn exit(self) -> Result<Exit, Error> {
        if let Some(e) = self.recorded.error {
            return Err(Error::Recording(
                Diag::new("history", format!("the run could not be recorded: {e}")).help(format!(
                    "the steps ran; their record in {} is incomplete",
                    self.db_path.display()
                )),
            ));
        }
        if !self.recorded.illegal.is_empty() {
            return Err(Error::Internal(format!(
                "illegal status transitions were refused: {}",
                self.recorded.illegal.join("; ")
            )));
        }
        Ok(match self.outcome.status {
            Status::Succeeded => Exit::Success,
            Status::Cancelled => Exit::Cancelled,
            Status::Waiting => Exit::Waiting,
            _ => Exit::RunFailed,
        })
    }
}

/// The plan of the run, its ready steps ranked by their expected remaining
/// path from the durations history recorded (by step count when it has
/// none), or by file order with `ORCH_SCHEDULE=fifo`. `own_slots`: the
/// run's concurrency when it shares its slots with no other run (not a
/// child run).
pub(super) fn plan_for(
    schedule: Schedule,
    store: &Store,
    home: &Home,
    wf: &Workflow,
    own_slots: Option<usize>,
) -> crate::plan::Plan {
    let mut plan = crate::plan::Plan::new(wf);
    match schedule {
        Schedule::Fifo => plan.fifo(),
        // A history that cannot be read costs the estimates, not the run.
        Schedule::CriticalPath if !home.in_memory && ranking_matters(&plan, wf, own_slots) => {
            if let Ok(e) = crate::history::query::expected(store, wf) {
                plan.rank_by(&e.durations);
            }
        }
        Schedule::CriticalPath => {}
    }
    plan
}

/// Whether the order of ready steps can matter with `own_slots` slots
/// (`None`: the slots are shared with other runs): not for one step or a
/// chain. Where it cannot, no past durations are read (20 runs of a
/// 300-step chain's rows cost 2-3 ms of every start) or kept.
pub(super) fn ranking_matters(
    plan: &crate::plan::Plan,
    wf: &Workflow,
    own_slots: Option<usize>,
) -> bool {
    wf.steps.len() > 1 && !own_slots.is_some_and(|slots| plan.never_short_of_slots(wf, slots))
}

/// The HTTP client, breakers and rate limits, when some step needs them.
fn services_for(
    wf: &Workflow,
    config: &Arc<Config>,
    home: &Home,
    masker: Arc<Masker>,
) -> Result<Option<Arc<crate::services::Runtime>>, Error> {
    let uses_http = wf.steps.iter().any(|s| {
        matches!(
            s.body.kind,
            crate::model::StepKind::Http(_) | crate::model::StepKind::Call { .. }
        )
    });
    if !uses_http {
        return Ok(None);
    }
    // A connection of its own, only when some service has a breaker.
    let with_breaker = config.services.iter().any(|s| s.circuit_breaker.is_some());
    let breakers: Option<Arc<dyn crate::services::BreakerStore>> =
        if home.in_memory || !with_breaker {
            None
        } else {
            let store = Store::open_path(&home.db_path(), false).map_err(Error::environment)?;
            Some(Arc::new(crate::history::breakers::BreakerTable::new(store)))
        };
    // And one for the HTTP answers kept across runs, when `caching` is on.
    let http_store: Option<Arc<dyn crate::services::http_cache::HttpCacheStore>> =
        if home.in_memory || !config.middleware.caching {
            None
        } else {
            let store = Store::open_path(&home.db_path(), false).map_err(Error::environment)?;
            Some(Arc::new(crate::history::http_cache::HttpCacheTable::new(
                store,
            )))
        };
    crate::services::Runtime::new(config.clone(), breakers, http_store, masker)
        .map(|rt| Some(Arc::new(rt)))
        .map_err(|e| Error::environment(Diag::new("http", e)))
}

/// A run's scratch directory, best effort. Most steps leave it empty: one
/// `rmdir` then, not the walk `remove_dir_all` makes of it (a stat, an
/// open, two directory reads).
fn remove_scratch(dir: &std::path::Path) {
    if std::fs::remove_dir(dir).is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The summary is printed from the outcome, not from events: mask it too.
fn mask_outcome(masker: &Masker, o: &mut RunOutcome) {
    if masker.is_empty() {
        return;
    }
    fn step(masker: &Masker, r: &mut exec::StepReport) {
        if let Some(e) = &r.error {
            r.error = Some(masker.mask_str(e).into_owned());
        }
        if let Some(j) = masker.mask_json(&r.outputs) {
            r.outputs = j;
        }
        r.items.iter_mut().for_each(|i| step(masker, i));
    }
    o.steps.iter_mut().for_each(|r| step(masker, r));
    if let Some(e) = &o.error {
        o.error = Some(masker.mask_str(e).into_owned());
    }
    masker.mask_outputs(&mut o.outputs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{EnvVars, RunFlags};
    use serde_json::json;

    fn exec_args(args: &[&str]) -> crate::cli::ExecArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            exec: crate::cli::ExecArgs,
        }
        Cmd::parse_from(std::iter::once("orch").chain(args.iter().copied())).exec
    }

    /// A run of `yaml` recorded in an in-memory history, and its settings.
    fn recorded(yaml: &str, scratch_base: &std::path::Path) -> (RunSettings, Recorded) {
        let home = Home {
            dir: PathBuf::from("/nonexistent"),
            in_memory: true,
        };
        let project = Project {
            config: Arc::new(Config::default()),
            dir: scratch_base.to_path_buf(),
            config_path: None,
        };
        let src = Arc::new(crate::source::Source::new("w.yaml", "w.yaml", yaml));
        let wf = Arc::new(crate::validate::workflow_source(&src, &project.config).unwrap());
        let env = EnvVars {
            temp_dir: scratch_base.to_path_buf(),
            ..EnvVars::default()
        };
        let args = exec_args(&["--output", "json"]);
        let flags = RunFlags {
            exec: &args,
            jobs: None,
            color: false,
            color_stdout: false,
            quiet: true,
            verbose: 0,
        };
        let settings = RunSettings::resolve(flags, &env, &project, &wf).unwrap();
        let mut store = Store::open(&home).unwrap();
        let run_id = new_run_id();
        let record = NewRecord {
            project: &project,
            wf: &wf,
            inputs: &json!({}),
            parent: None,
            cwd: scratch_base,
        };
        create_record(&mut store, &run_id, &record).unwrap();
        let lock = take_lock(&home, &run_id).unwrap();
        let rec = Recorded {
            children: HashMap::new(),
            items: HashMap::new(),
            home,
            store,
            project,
            wf,
            inputs: json!({}),
            run_id,
            attempt: 1,
            restore: HashMap::new(),
            approvals: HashMap::new(),
            lock,
        };
        (settings, rec)
    }

    const WF: &str = "name: w\noutputs:\n  n: ${{ steps.t.outputs.n }}\n\
        steps:\n  - id: t\n    transform: { n: 42 }\n";

    #[test]
    fn a_session_runs_and_reports_what_was_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, rec) = recorded(WF, dir.path());
        let session = RunSession::start(&settings, rec).unwrap();
        assert!(session.describe().contains("workflow w"));
        let end = session.run().unwrap();
        assert_eq!(end.outcome.status, Status::Succeeded);
        assert_eq!(end.outcome.outputs.to_json(), json!({"n": 42}));
        assert!(end.recorded.error.is_none(), "{:?}", end.recorded.error);
        assert!(end.undelivered.is_none());
        assert_eq!(end.exit().unwrap(), Exit::Success);
        // The scratch directory is gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn no_scratch_space_is_an_environment_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let (settings, rec) = recorded(WF, &file);
        let session = RunSession::start(&settings, rec).unwrap();
        match session.run() {
            Err(e @ Error::Environment(_)) => assert_eq!(e.exit_code(), 2),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("ran without scratch space"),
        }
    }

    fn finished(error: Option<&str>, illegal: &[&str]) -> Finished {
        Finished {
            run_id: "r".into(),
            outcome: RunOutcome {
                status: Status::Succeeded,
                steps: vec![],
                failures: vec![],
                outputs: Default::default(),
                error: None,
                duration: Duration::ZERO,
                waiting: vec![],
                compensation_failures: vec![],
            },
            undelivered: None,
            metrics_push: None,
            recorded: WriterReport {
                error: error.map(str::to_string),
                illegal: illegal.iter().map(|s| s.to_string()).collect(),
            },
            db_path: PathBuf::from("/h/history.db"),
            reporter: Arc::new(crate::report::json::JsonReporter::new(false)),
        }
    }

    #[test]
    fn an_incomplete_record_or_a_refused_transition_is_not_the_outcome() {
        assert_eq!(finished(None, &[]).exit().unwrap(), Exit::Success);
        match finished(Some("disk full"), &["t: succeeded -> running"]).exit() {
            Err(Error::Recording(d)) => {
                assert!(d.message.contains("disk full"), "{d:?}");
                assert!(d.help.unwrap_or_default().contains("/h/history.db"));
            }
            other => panic!("{other:?}"),
        }
        match finished(None, &["t: succeeded -> running"]).exit() {
            Err(e @ Error::Internal(_)) => assert_eq!(e.exit_code(), 1),
            other => panic!("{other:?}"),
        }
    }
}
