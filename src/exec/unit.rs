//! One unit of work: a step, or one item of a `for_each` step. Its secrets
//! are fetched, its body resolved, policies decide, the cache may answer;
//! then attempts over its routes (the services a `call` may go to) with
//! retry delays, `Retry-After` and fallback, until one succeeds; then its
//! `outputs:`. What one attempt does is the step kind's executor's
//! (`steps/`); this file is only the loop around it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value as Json};

use crate::cancel::{CancelLevel, CancelWatch};
use crate::event::{CacheNote, Event, EventKind, Gate, Sink, Status};
use crate::exec::prepare;
use crate::exec::{retry, StepCache};
use crate::expr::eval::resolve;
use crate::expr::{Scope, StatusFns};
use crate::mask::Masker;
use crate::model::{CallTarget, Config, RetrySpec, Site, Step, Workflow};
use crate::secrets::Secrets;
use crate::services::breaker;
use crate::services::policy::{self, Subject};
use crate::services::Runtime;
use crate::steps::approval::{self, Approver, AskCx, Decision, Question};
use crate::steps::workflow::ChildRunner;
use crate::steps::{self, Attempt, AttemptCx, Body, ErrorKind, ResolveCx, StepError};

mod result;
pub(crate) use result::UnitResult;

/// Everything a unit needs, owned, so it can run in its own task.
pub(crate) struct UnitCtx {
    pub(crate) wf: Arc<Workflow>,
    pub(crate) step: usize,
    pub(crate) item: Option<(usize, Json)>,
    /// `steps.<id>` views of the steps this step's expressions read.
    pub(crate) views: HashMap<String, Arc<Json>>,
    pub(crate) inputs: Arc<Json>,
    pub(crate) env_ctx: Arc<Json>,
    pub(crate) run_ctx: Arc<Json>,
    /// Workflow-level environment, resolved once per run.
    pub(crate) base_env: Arc<Vec<(String, String)>>,
    pub(crate) project_dir: PathBuf,
    pub(crate) scratch_dir: PathBuf,
    pub(crate) grace: Duration,
    pub(crate) cancel: CancelWatch,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) run_id: Arc<str>,
    pub(crate) workflow: Arc<str>,
    pub(crate) cache: Option<Arc<dyn StepCache>>,
    pub(crate) approver: Arc<dyn Approver>,
    pub(crate) cfg: Arc<Config>,
    /// Client, breakers and rate limits shared by the run's HTTP steps.
    pub(crate) services: Option<Arc<Runtime>>,
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) masker: Arc<Masker>,
    /// Values of the secrets this step reads, fetched before it starts.
    pub(crate) secret_values: HashMap<String, String>,
    /// Credentials of candidate services that could not be had, with why:
    /// those services are skipped.
    pub(crate) missing_credentials: HashMap<String, String>,
    /// Starts child runs for `workflow:` steps.
    pub(crate) children: Option<Arc<dyn ChildRunner>>,
    /// The unfinished child run that this unit's first attempt continues.
    pub(crate) resume_child: Option<String>,
    /// This unit is a step's `compensate:` body (its `wf` holds the step
    /// with that body): its attempts are announced as compensation events
    /// and its output goes to `<id>.compensate`.
    pub(crate) compensation: bool,
    /// What must be on disk before the unit acts: the run's start and the
    /// ends of the steps it needs. Awaited once its body is resolved, so
    /// that resolving overlaps the commit.
    pub(crate) gate: Option<Gate>,
}

impl UnitCtx {
    fn step(&self) -> &Step {
        &self.wf.steps[self.step]
    }

    pub(crate) fn display_id(&self) -> String {
        match &self.item {
            Some((i, _)) => format!("{}[{i}]", self.step().id),
            None => self.step().id.clone(),
        }
    }

    /// Where the unit's output lines (and its step log) go.
    fn output_id(&self) -> String {
        if self.compensation {
            format!("{}.compensate", self.display_id())
        } else {
            self.display_id()
        }
    }

    fn emit(&self, kind: EventKind) {
        // A compensation's attempts must not move the step's own status.
        let kind = match kind {
            EventKind::StepStarted {
                step,
                attempt,
                max_attempts,
            } if self.compensation => EventKind::CompensationStarted {
                step,
                attempt: attempt.unwrap_or(1),
                max_attempts: max_attempts.unwrap_or(1),
            },
            EventKind::StepRetrying {
                step,
                attempt,
                max_attempts,
                ..
            } if self.compensation => EventKind::CompensationStarted {
                step,
                attempt,
                max_attempts,
            },
            other => other,
        };
        self.sink
            .event(&Event::new(kind, &self.run_id, &self.workflow));
    }

    /// An attempt begins.
    fn started(&self, attempt: u32, max_attempts: u32) {
        self.emit(EventKind::StepStarted {
            step: self.display_id(),
            attempt: Some(attempt),
            max_attempts: Some(max_attempts),
        });
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
        let secrets = |name: &str| self.secret_values.get(name).cloned();
        let scope = Scope {
            inputs: &self.inputs,
            env: &self.env_ctx,
            run: &self.run_ctx,
            steps: &lookup,
            secrets: &secrets,
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

    /// What attempt number `attempt`, to `route`, may use.
    fn attempt_cx<'a>(
        &'a self,
        display_id: &'a str,
        attempt: u32,
        route: Option<&'a str>,
    ) -> AttemptCx<'a> {
        AttemptCx {
            run_id: &self.run_id,
            workflow: &self.workflow,
            step: self.step(),
            display_id,
            item: self.item.as_ref().map(|(i, v)| (*i, v)),
            attempt,
            route,
            scratch_dir: &self.scratch_dir,
            grace: self.grace,
            cancel: &self.cancel,
            sink: &self.sink,
            cfg: &self.cfg,
            services: self.services.as_deref(),
            secret_values: &self.secret_values,
            children: self.children.as_deref(),
            resume_child: self.resume_child.as_deref().filter(|_| attempt == 1),
        }
    }

    /// Ask the approver, with the `approval.*` events around it.
    async fn ask(&self, q: Question) -> Decision {
        let step_id = self.display_id();
        let cx = AskCx {
            approver: &*self.approver,
            sink: &*self.sink,
            run_id: &self.run_id,
            workflow: &self.workflow,
            step_id: &step_id,
        };
        approval::ask(&cx, q).await
    }
}

pub(crate) async fn execute(mut ctx: UnitCtx) -> UnitResult {
    let started = Instant::now();
    let retry = retry_spec(&ctx);
    // Secrets first: every later event may need them masked.
    match fetch_secrets(&ctx).await {
        Ok(values) => ctx.secret_values = values,
        Err(e) => return failed_early(&ctx, &retry, e, started),
    }
    // A service whose credential cannot be had is skipped (like one whose
    // breaker is open), not a failure of the step: another may answer.
    for name in credential_names(ctx.step(), &ctx.cfg) {
        match fetch_secret(&ctx, &name).await {
            Ok(v) => {
                ctx.secret_values.insert(name, v);
            }
            Err(e) => {
                ctx.missing_credentials.insert(name, e);
            }
        }
    }
    let ctx = ctx;
    let body = ctx.scope_eval(None, |scope| {
        let cx = ResolveCx {
            base_env: &ctx.base_env,
            project_dir: &ctx.project_dir,
        };
        steps::resolve(ctx.step(), scope, &cx)
    });
    match body {
        Ok(body) => drive(&ctx, &body, &retry, started).await,
        Err(e) => failed_early(&ctx, &retry, e.message, started),
    }
}

/// The step's `retry:` (its workflow's `defaults` applied); for kinds that
/// retry by default, orchestration.yaml's or the seed's; otherwise none.
fn retry_spec(ctx: &UnitCtx) -> RetrySpec {
    let kind = &ctx.step().body.kind;
    let by_default = steps::executor(kind).is_ok_and(|e| e.retries_by_default());
    match (&ctx.step().body.retry, by_default) {
        (Some(r), _) => r.clone(),
        (None, true) => ctx.cfg.retry.clone().unwrap_or_else(retry::http_default),
        // `run` steps are retried only when they say so.
        (None, false) => RetrySpec::default(),
    }
}

/// A failure before the first attempt (still announced as attempt 1).
fn failed_early(ctx: &UnitCtx, retry: &RetrySpec, error: String, started: Instant) -> UnitResult {
    ctx.started(1, retry.max_attempts.max(1));
    UnitResult::failed(error, started)
}

/// A resolved unit: policies decide, the cache may answer, an approval is
/// asked; otherwise its attempts run.
async fn drive(
    ctx: &UnitCtx,
    body: &prepare::Resolved,
    retry: &RetrySpec,
    started: Instant,
) -> UnitResult {
    let step = ctx.step();
    // Nothing below may act before what this unit needs is durable: an
    // approval asked, a cached answer taken, an attempt started.
    if let Some(gate) = &ctx.gate {
        gate.clone().await;
    }
    // Policies decide before anything runs (or is taken from the cache).
    let mut routes = routes(&ctx.cfg, &**body);
    match check_policies(ctx, &**body, &mut routes) {
        Err(denied) => return failed_early(ctx, retry, denied.to_string(), started),
        Ok(Some(message)) => {
            let q = Question {
                message,
                timeout: None,
            };
            match ctx.ask(q).await {
                Decision::Approved { .. } => {}
                Decision::Wait => return UnitResult::waiting(started),
                d => return failed_early(ctx, retry, approval::rejection(&d, None), started),
            }
        }
        Ok(None) => {}
    }

    let mut cache_note = None;
    if let Some(cache) = &ctx.cache {
        let fp = ctx.scope_eval(None, |scope| {
            prepare::fingerprint(
                &ctx.wf,
                step,
                body,
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
                    return UnitResult::from_cache(view, note, started);
                }
                cache_note = Some(note);
            }
            Ok(None) => {}
            Err(e) => return failed_early(ctx, retry, e, started),
        }
    }

    if let Some(q) = body.question() {
        return approval_step(ctx, q.clone(), started).await;
    }

    // Services whose breaker is open are skipped without a request.
    let mut skipped = Vec::new();
    if let Some(rt) = &ctx.services {
        let now = SystemTime::now();
        routes.retain(|r| match r {
            Some(id) if rt.breakers.is_open(id, now) => {
                skipped.push(id.clone());
                false
            }
            _ => true,
        });
    }
    let mut unusable = Vec::new();
    routes.retain(|r| {
        let credential = r
            .as_deref()
            .and_then(|id| ctx.cfg.service(id))
            .and_then(|svc| svc.auth.credential());
        match credential.and_then(|c| ctx.missing_credentials.get(c)) {
            Some(e) => {
                unusable.push(e.clone());
                false
            }
            None => true,
        }
    });
    if routes.is_empty() {
        let mut why = Vec::new();
        if !skipped.is_empty() {
            why.push(breaker::open_message(&skipped));
        }
        why.extend(unusable);
        let mut r = failed_early(ctx, retry, why.join("; "), started);
        r.attempts = 0;
        return r;
    }

    let mut r = attempts(ctx, &**body, retry, &routes, started).await;
    if r.status == Status::Succeeded {
        r.cache = cache_note;
    }
    r
}

/// Attempts over `routes`: each retried up to `max_attempts` while
/// `retry` allows, then on to the next route when the failure falls over.
async fn attempts(
    ctx: &UnitCtx,
    body: &dyn Body,
    retry: &RetrySpec,
    routes: &[Option<String>],
    started: Instant,
) -> UnitResult {
    let display_id = ctx.output_id();
    let per_route = retry.max_attempts.max(1);
    let max = per_route * routes.len() as u32;
    let fallback = ctx.cfg.policies.fallback_on_error;
    let mut rng = fastrand::Rng::new();
    let mut attempt = 0u32;
    ctx.started(1, max);
    if ctx.compensation {
        // An undo is written ahead: once it may have acted, the history
        // says it began, so a crash shows it interrupted, not never run.
        // Compensations run one at a time, after the run: the wait costs
        // nothing a step waits for.
        if let Some(durable) = ctx.sink.durable() {
            durable.await;
        }
    }
    for (ri, route) in routes.iter().enumerate() {
        let mut tries = 0u32;
        let a = loop {
            attempt += 1;
            tries += 1;
            let cx = ctx.attempt_cx(&display_id, attempt, route.as_deref());
            let a = body.attempt(&cx).await;
            let Some(kind) = a.error_kind() else {
                return finish(ctx, a, attempt, started);
            };
            let cancelled =
                ctx.cancel.level() >= CancelLevel::Graceful || kind == ErrorKind::Cancelled;
            if cancelled {
                return UnitResult::of(a, Status::Cancelled, attempt, started);
            }
            let again = retry::should_retry(retry, &a, tries, |cond, error| {
                ctx.scope_eval(None, |scope| {
                    let scope = Scope {
                        error: Some(error),
                        ..*scope
                    };
                    matches!(crate::expr::eval(cond, &scope), Ok(Json::Bool(true)))
                })
            });
            if tries >= per_route || a.refused || !again {
                break a;
            }
            let delay = retry::delay(retry, tries, &mut rng);
            let delay = retry::with_retry_after(retry, delay, a.retry_after);
            if let Some(r) = pause(ctx, &a, attempt + 1, max, delay, started).await {
                return r;
            }
        };
        let next = routes.get(ri + 1).and_then(|r| r.as_deref());
        // An open breaker is skipped whatever the policy; a real failure
        // falls over only with `fallback_on_error`.
        let falls_over = a.refused || (fallback && a.error_kind() != Some(ErrorKind::Expression));
        match next {
            Some(next) if falls_over => {
                let mut note = a;
                if let Err(e) = &mut note.result {
                    e.message = format!("{}; trying service `{next}`", e.message);
                }
                if let Some(r) = pause(ctx, &note, attempt + 1, max, Duration::ZERO, started).await
                {
                    return r;
                }
            }
            _ => return UnitResult::of(a, Status::Failed, attempt, started),
        }
    }
    UnitResult::failed("no service answered".into(), started)
}

/// The routes of a body: the candidate services of a `call` in the order
/// they are tried; one route to no service for every other kind.
fn routes(cfg: &Config, body: &dyn Body) -> Vec<Option<String>> {
    match body.call() {
        Some(call) => cfg
            .candidates(call.target)
            .iter()
            .map(|s| Some(s.id.clone()))
            .collect(),
        None => vec![None],
    }
}

/// `policies.rules`: `deny` fails the step (for a capability call, it takes
/// that service out of `routes`); `require_approval` returns the message to
/// ask with.
fn check_policies(
    ctx: &UnitCtx,
    body: &dyn Body,
    routes: &mut Vec<Option<String>>,
) -> Result<Option<String>, policy::PolicyError> {
    let step = ctx.step();
    let call = body.call();
    let subject = Subject {
        id: &step.id,
        kind: step.body.kind.name(),
        capability: call.and_then(|c| match c.target {
            CallTarget::Capability(c) => Some(c.as_str()),
            CallTarget::Service(_) => None,
        }),
        endpoint: call.map(|c| c.endpoint),
    };
    ctx.scope_eval(None, |scope| {
        policy::check(&ctx.cfg.policies.rules, &subject, scope, routes)
    })
}

/// Announce the next attempt and wait `delay`; `Some` when cancelled meanwhile.
async fn pause(
    ctx: &UnitCtx,
    a: &Attempt,
    next: u32,
    max: u32,
    delay: Duration,
    started: Instant,
) -> Option<UnitResult> {
    ctx.emit(EventKind::StepRetrying {
        step: ctx.display_id(),
        attempt: next,
        max_attempts: max,
        error: a.message().to_string(),
        exit_code: a.exit_code,
        http_status: a.http_status,
        delay,
    });
    if delay.is_zero() {
        return None;
    }
    let mut cancel = ctx.cancel.clone();
    tokio::select! {
        _ = tokio::time::sleep(delay) => None,
        _ = cancel.changed() => Some(UnitResult::cancelled_waiting(a, next - 1, started)),
    }
}

/// Names of the secrets a step reads: in its expressions, and those its
/// kind needs (the credentials of the services a `call` may go to).
fn secret_names(step: &Step) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    // What is evaluated while the step runs (not `if`/`for_each`, decided
    // before; not `compensate`, which runs on its own).
    let now = |site| {
        matches!(
            site,
            Site::Body | Site::WorkingDir | Site::Output | Site::CacheKey
        )
    };
    for e in step
        .exprs()
        .into_iter()
        .filter(|(s, _)| now(*s))
        .map(|(_, e)| e)
    {
        for r in e.refs.iter().filter(|r| r.root == "secrets") {
            if let Some(n) = &r.name {
                names.insert(n.clone());
            }
        }
    }
    names.into_iter().collect()
}

/// The credentials of the services a step may go to (a `call`'s
/// candidates), each once.
fn credential_names(step: &Step, cfg: &Config) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    if let Ok(executor) = steps::executor(&step.body.kind) {
        names.extend(
            executor
                .credentials(step, cfg)
                .into_iter()
                .map(str::to_string),
        );
    }
    names.into_iter().collect()
}

/// Fetch the step's secrets (the keyring blocks: off the runtime threads)
/// and mask their values before anything can print them.
async fn fetch_secrets(ctx: &UnitCtx) -> Result<HashMap<String, String>, String> {
    // Every secret the step lacks is named at once, not one per run.
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for name in secret_names(ctx.step()) {
        match fetch_secret(ctx, &name).await {
            Ok(value) => {
                out.insert(name, value);
            }
            Err(e) => missing.push(e),
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing.join("; "))
    }
}

/// One secret, registered with the masker before anything can print it.
async fn fetch_secret(ctx: &UnitCtx, name: &str) -> Result<String, String> {
    let secrets = ctx.secrets.clone();
    let n = name.to_string();
    let got = tokio::task::spawn_blocking(move || secrets.get(&n))
        .await
        .map_err(|e| format!("looking up secret `{name}` failed: {e}"))?;
    let (value, _) = got.map_err(|e| e.to_string())?;
    // A value too short to mask would leak wherever it is printed.
    if !ctx.masker.add(&value) {
        return Err(format!(
            "secret `{name}` is shorter than {} characters: orch cannot mask it, so it is not used",
            crate::mask::MIN_SECRET_LEN
        ));
    }
    Ok(value)
}

/// An approval step: ask; `Wait` leaves the step waiting.
async fn approval_step(ctx: &UnitCtx, q: Question, started: Instant) -> UnitResult {
    let timeout = q.timeout;
    let decision = ctx.ask(q).await;
    if decision == Decision::Wait {
        return UnitResult::waiting(started);
    }
    ctx.started(1, 1);
    let mut r = UnitResult::failed(String::new(), started);
    r.extra = approval::results(&decision);
    if matches!(decision, Decision::Approved { .. }) {
        r.status = Status::Succeeded;
        r.error = None;
    } else {
        r.error = Some(approval::rejection(&decision, timeout));
    }
    r
}

fn finish(ctx: &UnitCtx, mut a: Attempt, attempts: u32, started: Instant) -> UnitResult {
    let step = ctx.step();
    // `outputs:` see the step's own results.
    if !step.outputs.is_empty() {
        let mut own = a.extra.clone();
        own.insert("status".into(), json!("succeeded"));
        own.insert("exit_code".into(), json!(a.exit_code));
        own.insert("stdout".into(), json!(a.stdout));
        own.insert("outputs".into(), Json::Object(a.outputs.clone()));
        let own = Json::Object(own);
        for (name, v) in &step.outputs {
            match ctx.scope_eval(Some(&own), |s| resolve(v, s)) {
                Ok(j) => {
                    a.outputs.insert(name.clone(), j);
                }
                Err(e) => {
                    a.result = Err(StepError::expression(format!(
                        "output `{name}`: {}",
                        e.message
                    )));
                    return UnitResult::of(a, Status::Failed, attempts, started);
                }
            }
        }
    }
    UnitResult::of(a, Status::Succeeded, attempts, started)
}

#[cfg(test)]
mod tests;
