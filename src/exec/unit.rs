//! One unit of work: a step, or one item of a `for_each` step, with its
//! attempts, retry delays and `outputs:`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as Json};

use crate::event::{ApprovalNote, CacheNote, Event, EventKind, Sink, Status};
use crate::exec::cancel::{CancelLevel, CancelWatch};
use crate::exec::prepare::{self, Resolved};
use crate::exec::{ApprovalRequest, Approver, Decision, StepCache};
use crate::expr::eval::{resolve, to_text};
use crate::expr::{Scope, StatusFns};
use crate::model::{RetrySpec, Step, StepKind, Workflow};
use crate::steps::output_file;
use crate::steps::shell::{self, Ending, ShellJob};

/// Everything a unit needs, owned, so it can run in its own task.
pub(crate) struct UnitCtx {
    pub wf: Arc<Workflow>,
    pub step: usize,
    pub item: Option<(usize, Json)>,
    /// `steps.<id>` views of the steps this step's expressions read.
    pub views: HashMap<String, Arc<Json>>,
    pub inputs: Arc<Json>,
    pub env_ctx: Arc<Json>,
    pub run_ctx: Arc<Json>,
    /// Workflow-level environment, resolved once per run.
    pub base_env: Arc<Vec<(String, String)>>,
    pub project_dir: PathBuf,
    pub scratch_dir: PathBuf,
    pub grace: Duration,
    pub cancel: CancelWatch,
    pub sink: Arc<dyn Sink>,
    pub run_id: Arc<str>,
    pub workflow: Arc<str>,
    pub cache: Option<Arc<dyn StepCache>>,
    pub approver: Arc<dyn Approver>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Exit,
    Timeout,
    Expression,
    Cancelled,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Exit => "exit",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Expression => "expression",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug)]
pub(crate) struct UnitResult {
    pub status: Status,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub stdout: Option<String>,
    pub outputs: Map<String, Json>,
    pub error: Option<String>,
    pub duration: Duration,
    /// Results beside `outputs` in `steps.<id>` (`approved_by`, `comment`).
    pub extra: Map<String, Json>,
    /// The cache entry this result came from or should be stored under.
    pub cache: Option<Arc<CacheNote>>,
}

impl UnitResult {
    fn failed(error: String, started: Instant) -> Self {
        UnitResult {
            status: Status::Failed,
            attempts: 1,
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
            error: Some(error),
            duration: started.elapsed(),
            extra: Map::new(),
            cache: None,
        }
    }
}

struct Attempt {
    ok: bool,
    kind: ErrorKind,
    message: String,
    exit_code: Option<i32>,
    stdout: Option<String>,
    outputs: Map<String, Json>,
}

impl UnitCtx {
    fn step(&self) -> &Step {
        &self.wf.steps[self.step]
    }

    pub fn display_id(&self) -> String {
        match &self.item {
            Some((i, _)) => format!("{}[{i}]", self.step().id),
            None => self.step().id.clone(),
        }
    }

    fn event(&self, kind: EventKind) -> Event {
        let mut e = Event::new(kind, &self.run_id, &self.workflow);
        e.step_id = Some(self.display_id());
        e
    }

    fn scope_eval<T>(&self, own: Option<&Json>, f: impl FnOnce(&Scope<'_>) -> T) -> T {
        let me = &self.step().id;
        let lookup = |id: &str| -> Option<Json> {
            if id == me {
                if let Some(o) = own {
                    return Some(o.clone());
                }
            }
            self.views.get(id).map(|v| (**v).clone())
        };
        let no_secrets = |_: &str| None;
        let scope = Scope {
            inputs: &self.inputs,
            env: &self.env_ctx,
            run: &self.run_ctx,
            steps: &lookup,
            secrets: &no_secrets,
            item: self.item.as_ref().map(|(_, v)| v),
            index: self.item.as_ref().map(|(i, _)| *i),
            error: None,
            step: None,
            status: StatusFns {
                success: true,
                failure: false,
                cancelled: false,
            },
        };
        f(&scope)
    }
}

pub(crate) async fn execute(ctx: UnitCtx) -> UnitResult {
    let started = Instant::now();
    let step = ctx.step();
    // Only an explicit `retry:` (or `defaults.retry`) retries a step.
    let retry = step.body.retry.clone().unwrap_or_default();
    let max = retry.max_attempts.max(1);
    let start_event = |attempt: u32| {
        let mut ev = ctx.event(EventKind::StepStarted);
        ev.attempt = Some(attempt);
        ev.max_attempts = Some(max);
        ev.status = Some(Status::Running);
        ctx.sink.event(&ev);
    };

    let resolved = ctx.scope_eval(None, |scope| {
        prepare::resolve_body(step, scope, &ctx.base_env, &ctx.project_dir)
    });
    let resolved = match resolved {
        Ok(r) => r,
        Err(e) => {
            start_event(1);
            return UnitResult::failed(e, started);
        }
    };

    let mut cache_note = None;
    if let Some(cache) = &ctx.cache {
        let fp = ctx.scope_eval(None, |scope| {
            prepare::fingerprint(
                &ctx.wf,
                step,
                &resolved,
                ctx.item.as_ref().map(|(_, v)| v),
                scope,
                &ctx.project_dir,
            )
        });
        match fp {
            Ok(Some(fp)) => {
                let note = Arc::new(CacheNote {
                    parts: serde_json::to_string(&fp.parts).unwrap_or_default(),
                    fingerprint: fp.digest,
                    ttl: step.cache.as_ref().and_then(|c| c.ttl),
                });
                if let Some(view) = cache.lookup(&note.fingerprint) {
                    return from_cache(view, note, started);
                }
                cache_note = Some(note);
            }
            Ok(None) => {}
            Err(e) => {
                start_event(1);
                return UnitResult::failed(e, started);
            }
        }
    }

    if let Resolved::Approval { message } = &resolved {
        return approval(&ctx, message.clone(), started).await;
    }

    let mut rng = fastrand::Rng::new();
    let mut attempt = 1u32;
    start_event(1);
    loop {
        let a = run_attempt(&ctx, &resolved, attempt).await;
        if a.ok {
            let mut r = finish(&ctx, a, attempt, started);
            if r.status == Status::Succeeded {
                r.cache = cache_note;
            }
            return r;
        }
        let cancelled =
            ctx.cancel.level() >= CancelLevel::Graceful || a.kind == ErrorKind::Cancelled;
        if attempt >= max || cancelled || !should_retry(&ctx, &retry, &a, attempt) {
            return UnitResult {
                status: if a.kind == ErrorKind::Cancelled {
                    Status::Cancelled
                } else {
                    Status::Failed
                },
                attempts: attempt,
                exit_code: a.exit_code,
                stdout: a.stdout,
                outputs: a.outputs,
                error: Some(a.message),
                duration: started.elapsed(),
                extra: Map::new(),
                cache: None,
            };
        }
        let delay = crate::exec::retry::delay(&retry, attempt, &mut rng);
        attempt += 1;
        let mut ev = ctx.event(EventKind::StepRetrying);
        ev.attempt = Some(attempt);
        ev.max_attempts = Some(max);
        ev.status = Some(Status::Retrying);
        ev.error = Some(a.message.clone());
        ev.exit_code = a.exit_code;
        ev.delay_ms = Some(delay.as_millis() as u64);
        ctx.sink.event(&ev);
        let mut cancel = ctx.cancel.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.changed() => {
                return UnitResult {
                    status: Status::Cancelled,
                    attempts: attempt - 1,
                    exit_code: a.exit_code,
                    stdout: a.stdout,
                    outputs: a.outputs,
                    error: Some("cancelled while waiting to retry".into()),
                    duration: started.elapsed(),
                    extra: Map::new(),
                    cache: None,
                };
            }
        }
    }
}

/// A cache hit: the stored `steps.<id>` view, nothing run.
fn from_cache(view: Json, note: Arc<CacheNote>, started: Instant) -> UnitResult {
    let mut view = match view {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    let outputs = match view.remove("outputs") {
        Some(Json::Object(m)) => m,
        _ => Map::new(),
    };
    let exit_code = view
        .remove("exit_code")
        .and_then(|c| c.as_i64())
        .map(|c| c as i32);
    let stdout = match view.remove("stdout") {
        Some(Json::String(s)) => Some(s),
        _ => None,
    };
    for k in ["status", "error", "items"] {
        view.remove(k);
    }
    UnitResult {
        status: Status::Cached,
        attempts: 0,
        exit_code,
        stdout,
        outputs,
        error: None,
        duration: started.elapsed(),
        extra: view,
        cache: Some(note),
    }
}

/// An approval gate: ask the approver; `Wait` leaves the step waiting.
async fn approval(ctx: &UnitCtx, message: String, started: Instant) -> UnitResult {
    let timeout = match &ctx.step().body.kind {
        StepKind::Approval { timeout, .. } => *timeout,
        _ => None,
    };
    let mut ev = ctx.event(EventKind::ApprovalRequested);
    ev.approval = Some(ApprovalNote {
        message: Some(message.clone()),
        timeout_ms: timeout.map(|t| t.as_millis() as u64),
        ..ApprovalNote::default()
    });
    ctx.sink.event(&ev);
    let decision = ctx
        .approver
        .decide(ApprovalRequest {
            run_id: ctx.run_id.clone(),
            step_id: ctx.display_id(),
            message,
            timeout,
        })
        .await;
    let (name, by, comment) = match &decision {
        Decision::Wait => {
            let mut r = UnitResult::failed(String::new(), started);
            r.status = Status::Waiting;
            r.attempts = 0;
            r.error = None;
            return r;
        }
        Decision::Approved { by, comment } => ("approved", Some(by.clone()), comment.clone()),
        Decision::Rejected { by, comment } => ("rejected", Some(by.clone()), comment.clone()),
        Decision::TimedOut => ("timed_out", None, None),
    };
    let mut ev = ctx.event(EventKind::ApprovalDecided);
    ev.approval = Some(ApprovalNote {
        decision: Some(name),
        by: by.clone(),
        comment: comment.clone(),
        ..ApprovalNote::default()
    });
    ctx.sink.event(&ev);
    let mut ev = ctx.event(EventKind::StepStarted);
    ev.attempt = Some(1);
    ev.max_attempts = Some(1);
    ev.status = Some(Status::Running);
    ctx.sink.event(&ev);
    let mut r = UnitResult::failed(String::new(), started);
    r.extra.insert("approved_by".into(), json!(by));
    r.extra.insert("comment".into(), json!(comment));
    match decision {
        Decision::Approved { .. } => {
            r.status = Status::Succeeded;
            r.error = None;
        }
        Decision::Rejected { by, comment } => {
            r.error = Some(match comment {
                Some(c) => format!("rejected by {by}: {c}"),
                None => format!("rejected by {by}"),
            });
        }
        _ => {
            r.error = Some(format!(
                "the approval timed out after {}",
                humantime::format_duration(timeout.unwrap_or_default())
            ));
        }
    }
    r
}

fn should_retry(ctx: &UnitCtx, retry: &RetrySpec, a: &Attempt, attempt: u32) -> bool {
    let Some(cond) = &retry.condition else {
        return a.kind != ErrorKind::Expression;
    };
    let error = json!({
        "kind": a.kind.as_str(),
        "exit_code": a.exit_code,
        "status": Json::Null,
        "message": a.message,
        "attempt": attempt,
    });
    ctx.scope_eval(None, |scope| {
        let scope = Scope {
            error: Some(&error),
            ..*scope
        };
        matches!(crate::expr::eval(cond, &scope), Ok(Json::Bool(true)))
    })
}

fn finish(ctx: &UnitCtx, mut a: Attempt, attempts: u32, started: Instant) -> UnitResult {
    let step = ctx.step();
    // `outputs:` see the step's own results.
    if !step.outputs.is_empty() {
        let own = json!({
            "status": "succeeded",
            "exit_code": a.exit_code,
            "stdout": a.stdout,
            "outputs": Json::Object(a.outputs.clone()),
        });
        for (name, v) in &step.outputs {
            match ctx.scope_eval(Some(&own), |s| resolve(v, s)) {
                Ok(j) => {
                    a.outputs.insert(name.clone(), j);
                }
                Err(e) => {
                    return UnitResult {
                        status: Status::Failed,
                        attempts,
                        exit_code: a.exit_code,
                        stdout: a.stdout,
                        outputs: a.outputs,
                        error: Some(format!("output `{name}`: {}", e.message)),
                        duration: started.elapsed(),
                        extra: Map::new(),
                        cache: None,
                    };
                }
            }
        }
    }
    UnitResult {
        status: Status::Succeeded,
        attempts,
        exit_code: a.exit_code,
        stdout: a.stdout,
        outputs: a.outputs,
        error: None,
        duration: started.elapsed(),
        extra: Map::new(),
        cache: None,
    }
}

async fn run_attempt(ctx: &UnitCtx, resolved: &Resolved, attempt: u32) -> Attempt {
    let step = ctx.step();
    match resolved {
        Resolved::Transform(outputs) => Attempt {
            ok: true,
            kind: ErrorKind::Exit,
            message: String::new(),
            exit_code: None,
            stdout: None,
            outputs: outputs.clone(),
        },
        Resolved::Run { script, env, cwd } => {
            let shell = match &step.body.kind {
                StepKind::Run { shell, .. } => *shell,
                _ => crate::model::Shell::Sh,
            };
            let mut env = env.clone();
            let out_file = ctx
                .scratch_dir
                .join(format!("{}.{attempt}.out", ctx.display_id()));
            env.push(("ORCH_RUN_ID".into(), ctx.run_id.to_string()));
            env.push(("ORCH_STEP_ID".into(), step.id.clone()));
            env.push(("ORCH_ATTEMPT".into(), attempt.to_string()));
            env.push(("ORCH_WORKFLOW".into(), ctx.workflow.to_string()));
            env.push(("ORCH_OUTPUT".into(), out_file.display().to_string()));
            if let Some((i, item)) = &ctx.item {
                env.push(("ORCH_ITEM".into(), to_text(item)));
                env.push(("ORCH_INDEX".into(), i.to_string()));
            }
            let res = shell::run(ShellJob {
                display_id: ctx.display_id(),
                shell,
                script: script.clone(),
                env,
                cwd: cwd.clone(),
                timeout: step.body.timeout,
                grace: ctx.grace,
                cancel: ctx.cancel.clone(),
                sink: ctx.sink.clone(),
            })
            .await;
            let outputs = match std::fs::read_to_string(&out_file) {
                Ok(text) => {
                    let _ = std::fs::remove_file(&out_file);
                    match output_file::parse(&text) {
                        Ok(kv) => kv.into_iter().map(|(k, v)| (k, Json::String(v))).collect(),
                        Err(e) => {
                            return Attempt {
                                ok: false,
                                kind: ErrorKind::Exit,
                                message: e.to_string(),
                                exit_code: res.exit_code(),
                                stdout: Some(res.stdout_tail),
                                outputs: Map::new(),
                            }
                        }
                    }
                }
                Err(_) => Map::new(),
            };
            let exit_code = res.exit_code();
            let (ok, kind, message) = match res.ending {
                Ending::Exited(0) => (true, ErrorKind::Exit, String::new()),
                Ending::Exited(c) => (false, ErrorKind::Exit, format!("exited with code {c}")),
                Ending::Signalled(s) => (
                    false,
                    ErrorKind::Exit,
                    format!(
                        "killed by signal {}",
                        nix::sys::signal::Signal::try_from(s)
                            .map(|s| s.as_str())
                            .unwrap_or("?")
                    ),
                ),
                Ending::TimedOut => (
                    false,
                    ErrorKind::Timeout,
                    format!(
                        "timed out after {}",
                        humantime::format_duration(step.body.timeout.unwrap_or_default())
                    ),
                ),
                Ending::Cancelled => (false, ErrorKind::Cancelled, "cancelled".into()),
                Ending::SpawnFailed => (
                    false,
                    ErrorKind::Exit,
                    res.spawn_error.clone().unwrap_or_default(),
                ),
            };
            Attempt {
                ok,
                kind,
                message,
                exit_code,
                stdout: Some(res.stdout_tail),
                outputs,
            }
        }
        Resolved::Approval { .. } => Attempt {
            ok: false,
            kind: ErrorKind::Expression,
            message: "an approval is not an attempt".into(),
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
        },
        Resolved::Unsupported(kind) => Attempt {
            ok: false,
            kind: ErrorKind::Expression,
            message: format!("`{kind}` steps are not supported yet"),
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
        },
    }
}
