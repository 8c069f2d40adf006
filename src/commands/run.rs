//! `orch run FILE`: validate, resolve inputs and settings, record the run,
//! run the engine with the chosen reporters, map the outcome to an exit code.
//! [`execute`] is shared with `orch resume`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::approver::{PreApproved, RunApprover};
use crate::cli::{ExecArgs, OutputArg, RunArgs};
use crate::diag::Diag;
use crate::event::{Fanout, Sink, Status};
use crate::exec::{self, CancelLevel, Restored, RunOptions, StepCache};
use crate::exit::{Exit, Invalid};
use crate::history::lock::{self, RunLock};
use crate::history::store::ApprovalRow;
use crate::history::writer::{HistorySink, NewRun, WriterConfig};
use crate::history::{Home, Store};
use crate::model::Workflow;
use crate::report::{self, OutputMode, Reporter};
use crate::settings::Project;

use super::Context;

pub fn run(cx: &Context, args: &RunArgs) -> Result<Exit, Invalid> {
    let super::Prepared {
        project,
        wf,
        inputs,
        concurrency,
    } = cx.prepare(&args.target)?;
    if args.dry_run {
        print!("{}", super::plan::render(&wf, &inputs, concurrency, None));
        return Ok(Exit::Success);
    }
    let home = cx.home()?;
    let mut store = Store::open(&home)?;
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let lock = take_lock(&home, &run_id)?;
    let steps: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    let file_path = absolute(&wf.source.path, &cx.cwd);
    let config_path = project
        .config_path
        .as_ref()
        .map(|p| absolute(p, &cx.cwd).display().to_string());
    store.create_run(&NewRun {
        id: &run_id,
        workflow: &wf.name,
        version: wf.version,
        file_path: &file_path.display().to_string(),
        file_hash: &crate::digest::sha256_hex(wf.source.text.as_bytes()),
        definitions: &definitions(&wf),
        inputs: &inputs,
        parent_run_id: None,
        project_dir: &project.dir.display().to_string(),
        config_path: config_path.as_deref(),
        steps: &steps,
    })?;
    execute(
        cx,
        Execution {
            home,
            store,
            project,
            wf,
            inputs,
            concurrency,
            run_id,
            attempt: 1,
            restore: HashMap::new(),
            approvals: HashMap::new(),
            exec: &args.exec,
            lock,
        },
    )
}

/// `{step id: definition hash}`, what `orch resume` compares.
pub fn definitions(wf: &Workflow) -> Json {
    Json::Object(
        wf.steps
            .iter()
            .map(|s| (s.id.clone(), Json::String(s.definition.clone())))
            .collect::<Map<_, _>>(),
    )
}

pub fn absolute(p: &Path, cwd: &Path) -> std::path::PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

pub(super) fn take_lock(home: &Home, run_id: &str) -> Result<RunLock, Invalid> {
    lock::acquire(home, run_id).map_err(|e| match e {
        lock::LockError::Held => Diag::new(
            "history",
            format!("run {run_id} is still running in another orch process"),
        )
        .help("wait for it to finish, or stop it (Ctrl-C) first")
        .into(),
        other => Diag::new("history", other.to_string()).into(),
    })
}

/// A recorded run, ready to (re)start.
pub(super) struct Execution<'a> {
    pub home: Home,
    pub store: Store,
    pub project: Project,
    pub wf: Arc<Workflow>,
    pub inputs: Json,
    pub concurrency: usize,
    pub run_id: String,
    pub attempt: u32,
    pub restore: HashMap<String, Restored>,
    pub approvals: HashMap<String, ApprovalRow>,
    pub exec: &'a ExecArgs,
    /// Held until the run ends: it is what tells other processes it is alive.
    pub lock: RunLock,
}

pub(super) fn execute(cx: &Context, ex: Execution<'_>) -> Result<Exit, Invalid> {
    let Execution {
        home,
        store,
        project,
        wf,
        inputs,
        concurrency,
        run_id,
        attempt,
        restore,
        approvals,
        exec: args,
        lock: _lock,
    } = ex;
    let mode = match args.output {
        OutputArg::Auto => OutputMode::resolve_auto(console::Term::stderr().is_term(), cx.env.ci),
        OutputArg::Tty => OutputMode::Tty,
        OutputArg::Plain => OutputMode::Plain,
        OutputArg::Json => OutputMode::Json,
    };
    let restored_top = wf
        .steps
        .iter()
        .filter(|s| restore.contains_key(&s.id))
        .count();
    let reporter: Arc<dyn Reporter> = match mode {
        OutputMode::Tty => Arc::new(report::tty::TtyReporter::new(
            wf.steps.len() - restored_top,
            cx.color,
        )),
        OutputMode::Plain => Arc::new(report::plain::PlainReporter::new(
            cx.env.github_actions,
            cx.quiet,
        )),
        OutputMode::Json => Arc::new(report::json::JsonReporter),
    };

    let cache: Option<Arc<dyn StepCache>> = if args.no_cache || home.in_memory {
        None
    } else {
        // The schema is current: the run's own connection just checked it.
        Some(Arc::new(crate::history::cache::CacheReader::new(
            Store::open_path(&home.db_path(), false)?,
        )))
    };
    let history = HistorySink::start(
        store,
        WriterConfig {
            run_id: run_id.clone(),
            run_attempt: attempt as i64,
            steps: wf.steps.iter().map(|s| s.id.clone()).collect(),
            logs_dir: (!home.in_memory).then(|| home.run_logs(&run_id)),
            cache_max: crate::settings::cache_max(&cx.env)?,
        },
    );
    let mut sinks: Vec<Arc<dyn Sink>> = vec![history.clone(), reporter.clone()];
    let telemetry = &project.config.telemetry;
    if telemetry.log_to_file {
        let rel = telemetry
            .log_file_path
            .as_deref()
            .unwrap_or("logs/orchestration.log");
        let path = project.dir.join(rel);
        match report::logfile::LogFile::open(&path) {
            Ok(f) => sinks.push(Arc::new(f)),
            Err(e) => {
                history.finish();
                return Err(Diag::new(
                    "io",
                    format!("cannot open the telemetry log {}: {e}", path.display()),
                )
                .into());
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            history.finish();
            return Err(Diag::new("io", format!("cannot start the runtime: {e}")).into());
        }
    };
    let webhook_url = cx
        .env
        .webhook_url
        .clone()
        .or_else(|| telemetry.webhook_url.clone());
    let webhook = webhook_url.map(|url| {
        // The delivery task lives on the run's runtime.
        let _in_runtime = runtime.enter();
        report::webhook::Webhook::start(url)
    });
    if let Some(w) = &webhook {
        sinks.push(w.clone());
    }
    let webhook_host = webhook.as_ref().map(|w| w.endpoint().to_string());
    // Every sink sits behind the masker: no secret reaches a byte we write.
    let secrets = Arc::new(crate::secrets::Secrets::new(cx.env.all.iter().cloned()));
    let masker = Arc::new(crate::mask::Masker::new());
    for v in secrets.env_values() {
        masker.add(&v);
    }
    let sink: Arc<dyn Sink> = Arc::new(crate::mask::MaskingSink::new(
        Arc::new(Fanout(sinks)),
        masker.clone(),
    ));
    let services = if uses_http(&wf) {
        // A connection of its own, only when some service has a breaker.
        let with_breaker = project
            .config
            .services
            .iter()
            .any(|s| s.circuit_breaker.is_some());
        let breakers: Option<Arc<dyn crate::services::BreakerStore>> =
            if home.in_memory || !with_breaker {
                None
            } else {
                match Store::open_path(&home.db_path(), false) {
                    Ok(store) => Some(Arc::new(crate::history::breakers::BreakerTable::new(store))),
                    Err(e) => {
                        history.finish();
                        return Err(e.into());
                    }
                }
            };
        match crate::services::Runtime::new(project.config.clone(), breakers) {
            Ok(rt) => Some(Arc::new(rt)),
            Err(e) => {
                history.finish();
                return Err(Diag::new("http", e).into());
            }
        }
    } else {
        None
    };

    if cx.verbose > 0 {
        eprintln!(
            "orch: run {run_id} (attempt {attempt}), workflow {} ({}), config {}, project dir {}, \
             history {}, concurrency {concurrency}",
            wf.name,
            wf.source.name,
            project
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
            project.dir.display(),
            home.db_path().display(),
        );
    }
    let scratch = std::env::temp_dir().join(format!("orch-{run_id}"));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        history.finish();
        return Err(Diag::new("io", format!("cannot create {}: {e}", scratch.display())).into());
    }
    let approver = Arc::new(RunApprover {
        pre: PreApproved::from_args(&args.approve),
        recorded: approvals,
        interactive: crate::approver::terminal_is_interactive(cx.env.ci),
        reporter: reporter.clone(),
        user: crate::approver::current_user(),
    });
    let (canceller, cancel_watch) = exec::cancel::channel();
    let run_id: Arc<str> = Arc::from(run_id.as_str());
    let opts = RunOptions {
        run_id: run_id.clone(),
        inputs,
        concurrency,
        grace: args.grace,
        project_dir: project.dir.clone(),
        scratch_dir: scratch.clone(),
        // Secrets reach steps only through `env:` (and are masked there).
        process_env: cx
            .env
            .all
            .iter()
            .filter(|(k, _)| !k.starts_with("ORCH_SECRET_"))
            .cloned()
            .collect(),
        cancel: cancel_watch,
        attempt,
        restore,
        cache,
        approver,
        services: services.clone(),
        secrets,
        masker: masker.clone(),
    };
    let config = project.config.clone();
    let show_hint = mode != OutputMode::Json && !cx.quiet;
    let (mut outcome, delivery) = runtime.block_on(async move {
        tokio::spawn(watch_signals(canceller, show_hint));
        let outcome = exec::run(wf, config, opts, sink).await;
        // A slow webhook gets a moment to catch up, never more.
        // A slow webhook gets a moment to catch up, never more.
        let delivery = match &webhook {
            Some(w) => Some(w.finish(Duration::from_secs(2)).await),
            None => None,
        };
        (outcome, delivery)
    });
    if let Some(rt) = &services {
        rt.breakers.flush();
    }
    mask_outcome(&masker, &mut outcome);
    if let Some(d) = delivery.filter(|d| d.undelivered > 0) {
        eprintln!(
            "orch: {} of {} progress events could not be delivered to the webhook at {}",
            d.undelivered,
            d.undelivered + d.delivered,
            webhook_host.as_deref().unwrap_or("?")
        );
    }
    // Steps may still hold the scratch files open in leftover processes; best effort.
    let _ = std::fs::remove_dir_all(&scratch);
    let recorded = history.finish();
    reporter.summary(&outcome);
    if outcome.status == Status::Waiting {
        let step = outcome.waiting.first().map(String::as_str).unwrap_or("?");
        eprintln!(
            "run {run_id} is waiting for an approval of `{step}`\n  \
             approve: orch approve {run_id} {step} [--comment TEXT]\n  \
             reject:  orch reject {run_id} {step}\n  \
             then:    orch resume {run_id}"
        );
    }
    if let Some(e) = recorded.error {
        return Err(
            Diag::new("history", format!("the run could not be recorded: {e}"))
                .help(format!(
                    "the steps ran; their record in {} is incomplete",
                    home.db_path().display()
                ))
                .into(),
        );
    }
    if !recorded.illegal.is_empty() {
        // A bug in orch, never a user error: say so loudly.
        eprintln!(
            "orch: internal error: illegal status transitions were refused: {}",
            recorded.illegal.join("; ")
        );
        return Ok(Exit::RunFailed);
    }
    Ok(match outcome.status {
        Status::Succeeded => Exit::Success,
        Status::Cancelled => Exit::Cancelled,
        Status::Waiting => Exit::Waiting,
        _ => Exit::RunFailed,
    })
}

/// Whether any step needs the HTTP client.
fn uses_http(wf: &crate::model::Workflow) -> bool {
    wf.steps.iter().any(|s| {
        matches!(
            s.body.kind,
            crate::model::StepKind::Http(_) | crate::model::StepKind::Call { .. }
        )
    })
}

/// The summary is printed from the outcome, not from events: mask it too.
fn mask_outcome(masker: &crate::mask::Masker, o: &mut exec::RunOutcome) {
    if masker.is_empty() {
        return;
    }
    fn step(masker: &crate::mask::Masker, r: &mut exec::StepReport) {
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
    if let Some(j) = masker.mask_json(&o.outputs) {
        o.outputs = j;
    }
}

/// First Ctrl-C or SIGTERM: stop gracefully; a second one: stop at once.
async fn watch_signals(canceller: exec::Canceller, hint: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if canceller.level() == CancelLevel::None {
            canceller.raise(CancelLevel::Graceful);
            if hint {
                eprintln!(
                    "cancelling: stopping running steps (press Ctrl-C again to stop at once)"
                );
            }
        } else {
            canceller.raise(CancelLevel::Immediate);
        }
    }
}
