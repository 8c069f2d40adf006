//! One unit of work: a step, or one item of a `for_each` step, with its
//! attempts, retry delays and `outputs:`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as Json};

use crate::event::{Event, EventKind, Sink, Status};
use crate::exec::cancel::{CancelLevel, CancelWatch};
use crate::expr::eval::{resolve, to_text};
use crate::expr::{EvalError, Scope, StatusFns};
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
    let mut rng = fastrand::Rng::new();
    let mut attempt = 1u32;
    let mut ev = ctx.event(EventKind::StepStarted);
    ev.attempt = Some(1);
    ev.max_attempts = Some(max);
    ev.status = Some(Status::Running);
    ctx.sink.event(&ev);
    loop {
        let a = run_attempt(&ctx, attempt).await;
        if a.ok {
            return finish(&ctx, a, attempt, started);
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
                };
            }
        }
    }
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
    }
}

fn expr_failure(e: EvalError, what: &str) -> Attempt {
    Attempt {
        ok: false,
        kind: ErrorKind::Expression,
        message: format!("{what}: {}", e.message),
        exit_code: None,
        stdout: None,
        outputs: Map::new(),
    }
}

async fn run_attempt(ctx: &UnitCtx, attempt: u32) -> Attempt {
    let step = ctx.step();
    match &step.body.kind {
        StepKind::Transform(fields) => {
            let mut outputs = Map::new();
            for (name, v) in fields {
                match ctx.scope_eval(None, |s| resolve(v, s)) {
                    Ok(j) => {
                        outputs.insert(name.clone(), j);
                    }
                    Err(e) => return expr_failure(e, &format!("transform `{name}`")),
                }
            }
            Attempt {
                ok: true,
                kind: ErrorKind::Exit,
                message: String::new(),
                exit_code: None,
                stdout: None,
                outputs,
            }
        }
        StepKind::Run { script, shell } => {
            let script = match ctx.scope_eval(None, |s| crate::expr::render(script, s)) {
                Ok(s) => s,
                Err(e) => return expr_failure(e, "run"),
            };
            let mut env: Vec<(String, String)> = (*ctx.base_env).clone();
            for (k, v) in &step.body.env {
                match ctx.scope_eval(None, |s| resolve(v, s)) {
                    Ok(j) => env.push((k.clone(), to_text(&j))),
                    Err(e) => return expr_failure(e, &format!("env `{k}`")),
                }
            }
            let cwd = match &step.working_dir {
                Some(w) => match ctx.scope_eval(None, |s| resolve(w, s)) {
                    Ok(j) => ctx.project_dir.join(to_text(&j)),
                    Err(e) => return expr_failure(e, "working_dir"),
                },
                None => ctx.project_dir.clone(),
            };
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
                shell: *shell,
                script,
                env,
                cwd,
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
        other => Attempt {
            ok: false,
            kind: ErrorKind::Expression,
            message: format!("`{}` steps are not supported yet", other.name()),
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
        },
    }
}
