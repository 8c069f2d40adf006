//! One unit of work: a step, or one item of a `for_each` step, with its
//! attempts, retry delays and `outputs:`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value as Json};

use crate::cancel::{CancelLevel, CancelWatch};
use crate::event::{CacheNote, Event, EventKind, Sink, Status, Verdict};
use crate::exec::prepare::{self, Resolved};
use crate::exec::{ApprovalRequest, Approver, Decision, StepCache};
use crate::expr::eval::{resolve, to_text};
use crate::expr::{Scope, StatusFns};
use crate::mask::Masker;
use crate::model::{
    CallTarget, Config, DelayStrategy, PolicyAction, RetrySpec, Step, StepKind, Workflow,
};
use crate::secrets::Secrets;
use crate::services::breaker::Admit;
use crate::services::Runtime;
use crate::steps::http;
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
    pub cfg: Arc<Config>,
    /// Client, breakers and rate limits shared by the run's HTTP steps.
    pub services: Option<Arc<Runtime>>,
    pub secrets: Arc<Secrets>,
    pub masker: Arc<Masker>,
    /// Values of the secrets this step reads, fetched before it starts.
    pub secret_values: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Exit,
    Timeout,
    Expression,
    Cancelled,
    Connect,
    HttpStatus,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Exit => "exit",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Expression => "expression",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Connect => "connect",
            ErrorKind::HttpStatus => "http_status",
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
    /// The last HTTP status of an `http`/`call` step.
    pub http_status: Option<u16>,
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
            http_status: None,
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
    /// Results beside `outputs` (an HTTP answer, the service that gave it).
    extra: Map<String, Json>,
    http_status: Option<u16>,
    /// What an HTTP failure means when the step has no `retry.condition`.
    retryable: bool,
    /// The server asked to wait this long (`Retry-After`).
    retry_after: Option<Duration>,
    /// No request was sent (an open breaker): do not retry this service.
    refused: bool,
}

impl Attempt {
    fn error(kind: ErrorKind, message: impl Into<String>) -> Attempt {
        Attempt {
            ok: false,
            kind,
            message: message.into(),
            exit_code: None,
            stdout: None,
            outputs: Map::new(),
            extra: Map::new(),
            http_status: None,
            retryable: false,
            retry_after: None,
            refused: false,
        }
    }
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

    fn emit(&self, kind: EventKind) {
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
}

/// The seed's retry for `http`/`call` steps when neither the step, its
/// workflow's `defaults` nor orchestration.yaml set one.
fn http_retry_default() -> RetrySpec {
    RetrySpec {
        max_attempts: 3,
        strategy: DelayStrategy::Exponential,
        base_delay: Duration::from_millis(200),
        max_delay: Some(Duration::from_secs(30)),
        factor: 2.0,
        jitter: true,
        condition: None,
    }
}

/// How long `Retry-After` may make us wait when `max_delay` is not set.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

pub(crate) async fn execute(mut ctx: UnitCtx) -> UnitResult {
    let started = Instant::now();
    let is_http = matches!(
        ctx.step().body.kind,
        StepKind::Http(_) | StepKind::Call { .. }
    );
    let retry = match (&ctx.step().body.retry, is_http) {
        (Some(r), _) => r.clone(),
        (None, true) => ctx.cfg.retry.clone().unwrap_or_else(http_retry_default),
        // `run` steps are retried only when they say so.
        (None, false) => RetrySpec::default(),
    };
    let per_route = retry.max_attempts.max(1);
    let start_event = |ctx: &UnitCtx, attempt: u32, max: u32| ctx.started(attempt, max);

    // Secrets first: every later event may need them masked.
    match fetch_secrets(&ctx).await {
        Ok(values) => ctx.secret_values = values,
        Err(e) => {
            start_event(&ctx, 1, per_route);
            return UnitResult::failed(e, started);
        }
    }
    let ctx = ctx;
    let step = ctx.step();

    let resolved = ctx.scope_eval(None, |scope| {
        prepare::resolve_body(step, scope, &ctx.base_env, &ctx.project_dir)
    });
    let resolved = match resolved {
        Ok(r) => r,
        Err(e) => {
            start_event(&ctx, 1, per_route);
            return UnitResult::failed(e, started);
        }
    };

    // Policies decide before anything runs (or is taken from the cache).
    let mut routes: Vec<Option<String>> = match &resolved {
        Resolved::Call { target, .. } => ctx
            .cfg
            .candidates(target)
            .iter()
            .map(|s| Some(s.id.clone()))
            .collect(),
        _ => vec![None],
    };
    match policy(&ctx, &resolved, &mut routes) {
        Err(denied) => {
            start_event(&ctx, 1, per_route);
            return UnitResult::failed(denied, started);
        }
        Ok(Some(message)) => match decide(&ctx, message, None).await {
            Decision::Approved { .. } => {}
            Decision::Wait => return waiting(started),
            d => {
                start_event(&ctx, 1, per_route);
                return UnitResult::failed(rejection(&d, None), started);
            }
        },
        Ok(None) => {}
    }

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
                start_event(&ctx, 1, per_route);
                return UnitResult::failed(e, started);
            }
        }
    }

    if let Resolved::Approval { message } = &resolved {
        return approval(&ctx, message.clone(), started).await;
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
    if routes.is_empty() {
        start_event(&ctx, 1, per_route);
        let mut r = UnitResult::failed(open_breakers_message(&skipped), started);
        r.attempts = 0;
        return r;
    }

    let max = per_route * routes.len() as u32;
    let fallback = ctx.cfg.policies.fallback_on_error;
    let mut rng = fastrand::Rng::new();
    let mut attempt = 0u32;
    start_event(&ctx, 1, max);
    for (ri, route) in routes.iter().enumerate() {
        let mut tries = 0u32;
        let a = loop {
            attempt += 1;
            tries += 1;
            let a = run_attempt(&ctx, &resolved, route.as_deref(), attempt).await;
            if a.ok {
                let mut r = finish(&ctx, a, attempt, started);
                if r.status == Status::Succeeded {
                    r.cache = cache_note;
                }
                return r;
            }
            let cancelled =
                ctx.cancel.level() >= CancelLevel::Graceful || a.kind == ErrorKind::Cancelled;
            if cancelled {
                return failed(a, Status::Cancelled, attempt, started);
            }
            if tries >= per_route || a.refused || !should_retry(&ctx, &retry, &a, tries) {
                break a;
            }
            let delay = retry_delay(&retry, tries, a.retry_after, &mut rng);
            if let Some(r) = pause(&ctx, &a, attempt + 1, max, delay, started).await {
                return r;
            }
        };
        let next = routes.get(ri + 1).and_then(|r| r.as_deref());
        // An open breaker is skipped whatever the policy; a real failure
        // falls over only with `fallback_on_error`.
        match next {
            Some(next) if a.refused || (fallback && a.kind != ErrorKind::Expression) => {
                let mut note = a;
                note.message = format!("{}; trying service `{next}`", note.message);
                if let Some(r) = pause(&ctx, &note, attempt + 1, max, Duration::ZERO, started).await
                {
                    return r;
                }
            }
            _ => return failed(a, Status::Failed, attempt, started),
        }
    }
    UnitResult::failed("no service answered".into(), started)
}

fn failed(a: Attempt, status: Status, attempts: u32, started: Instant) -> UnitResult {
    UnitResult {
        status,
        attempts,
        exit_code: a.exit_code,
        stdout: a.stdout,
        outputs: a.outputs,
        error: Some(a.message),
        duration: started.elapsed(),
        extra: a.extra,
        cache: None,
        http_status: a.http_status,
    }
}

fn waiting(started: Instant) -> UnitResult {
    let mut r = UnitResult::failed(String::new(), started);
    r.status = Status::Waiting;
    r.attempts = 0;
    r.error = None;
    r
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
        error: a.message.clone(),
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
        _ = cancel.changed() => Some(UnitResult {
            status: Status::Cancelled,
            attempts: next - 1,
            exit_code: a.exit_code,
            stdout: a.stdout.clone(),
            outputs: a.outputs.clone(),
            error: Some("cancelled while waiting to retry".into()),
            duration: started.elapsed(),
            extra: a.extra.clone(),
            cache: None,
            http_status: a.http_status,
        }),
    }
}

/// The computed delay, or longer when the server said `Retry-After`, but
/// never beyond `max_delay`.
fn retry_delay(
    spec: &RetrySpec,
    failed_attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    let d = crate::exec::retry::delay(spec, failed_attempt, rng);
    match retry_after {
        Some(ra) => ra.max(d).min(spec.max_delay.unwrap_or(RETRY_AFTER_CAP)),
        None => d,
    }
}

fn open_breakers_message(ids: &[String]) -> String {
    let list = ids
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() == 1 {
        format!("the circuit breaker of service {list} is open: not calling it")
    } else {
        format!("the circuit breakers of services {list} are open: not calling them")
    }
}

/// Names of the secrets a step reads: in its expressions, and the
/// credentials of the services a `call` may go to.
fn secret_names(step: &Step, cfg: &Config) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut exprs = crate::validate::refs::body_exprs(&step.body);
    if let Some(w) = &step.working_dir {
        exprs.extend(w.exprs());
    }
    for (_, v) in &step.outputs {
        exprs.extend(v.exprs());
    }
    if let Some(k) = step.cache.as_ref().and_then(|c| c.key.as_ref()) {
        exprs.extend(k.exprs());
    }
    for e in exprs {
        for r in e.refs.iter().filter(|r| r.root == "secrets") {
            if let Some(n) = &r.name {
                names.insert(n.clone());
            }
        }
    }
    if let StepKind::Call { target, .. } = &step.body.kind {
        for svc in cfg.candidates(target) {
            if let Some(c) = svc.auth.credential() {
                names.insert(c.to_string());
            }
        }
    }
    names.into_iter().collect()
}

/// Fetch the step's secrets (the keyring blocks: off the runtime threads)
/// and mask their values before anything can print them.
async fn fetch_secrets(ctx: &UnitCtx) -> Result<HashMap<String, String>, String> {
    let names = secret_names(ctx.step(), &ctx.cfg);
    let mut out = HashMap::new();
    for name in names {
        let secrets = ctx.secrets.clone();
        let n = name.clone();
        let got = tokio::task::spawn_blocking(move || secrets.get(&n))
            .await
            .map_err(|e| format!("looking up secret `{name}` failed: {e}"))?;
        match got {
            Ok((value, _)) => {
                // A value too short to mask would leak wherever it is printed.
                if !ctx.masker.add(&value) {
                    return Err(format!(
                        "secret `{name}` is shorter than {} characters: orch cannot mask it, so it is not used",
                        crate::mask::MIN_SECRET_LEN
                    ));
                }
                out.insert(name, value);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

/// `policies.rules`: `deny` fails the step (for a capability call, it takes
/// that service out of the candidates); `require_approval` returns the
/// message to ask with.
fn policy(
    ctx: &UnitCtx,
    resolved: &Resolved,
    routes: &mut Vec<Option<String>>,
) -> Result<Option<String>, String> {
    let rules = &ctx.cfg.policies.rules;
    if rules.is_empty() {
        return Ok(None);
    }
    let step = ctx.step();
    let (capability, endpoint) = match resolved {
        Resolved::Call {
            target, endpoint, ..
        } => (
            match target {
                CallTarget::Capability(c) => Some(c.clone()),
                CallTarget::Service(_) => None,
            },
            Some(endpoint.clone()),
        ),
        _ => (None, None),
    };
    let mut approval: Option<String> = None;
    let mut denied: Option<String> = None;
    let mut keep = Vec::new();
    for route in routes.iter() {
        let view = json!({
            "id": step.id,
            "kind": step.body.kind.name(),
            "service": route,
            "capability": capability,
            "endpoint": endpoint,
        });
        let mut allowed = true;
        for rule in rules {
            let hit = ctx.scope_eval(None, |scope| {
                let scope = Scope {
                    step: Some(&view),
                    ..*scope
                };
                crate::expr::eval(&rule.when, &scope)
            });
            let hit = match hit {
                Ok(Json::Bool(b)) => b,
                Ok(other) => {
                    return Err(format!(
                        "policy rule `{}`: `when` gave {other}, not true or false",
                        rule.id
                    ))
                }
                Err(e) => return Err(format!("policy rule `{}`: {}", rule.id, e.message)),
            };
            if !hit {
                continue;
            }
            let message = rule
                .message
                .clone()
                .unwrap_or_else(|| format!("policy rule `{}`", rule.id));
            match rule.action {
                PolicyAction::Deny => {
                    allowed = false;
                    denied.get_or_insert(format!("denied by policy rule `{}`: {message}", rule.id));
                }
                PolicyAction::RequireApproval => {
                    approval.get_or_insert(message);
                }
            }
        }
        if allowed {
            keep.push(route.clone());
        }
    }
    if keep.is_empty() {
        return Err(denied.unwrap_or_else(|| "denied by policy".into()));
    }
    *routes = keep;
    Ok(approval)
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
        http_status: None,
    }
}

/// Ask the approver, with the `approval.*` events around it.
async fn decide(ctx: &UnitCtx, message: String, timeout: Option<Duration>) -> Decision {
    ctx.emit(EventKind::ApprovalRequested {
        step: ctx.display_id(),
        message: message.clone(),
        timeout,
    });
    let decision = ctx
        .approver
        .decide(ApprovalRequest {
            run_id: ctx.run_id.clone(),
            step_id: ctx.display_id(),
            message,
            timeout,
        })
        .await;
    let verdict = match &decision {
        Decision::Wait => return decision,
        Decision::Approved { by, comment } => Verdict::Approved {
            by: by.clone(),
            comment: comment.clone(),
        },
        Decision::Rejected { by, comment } => Verdict::Rejected {
            by: by.clone(),
            comment: comment.clone(),
        },
        Decision::TimedOut => Verdict::TimedOut,
    };
    ctx.emit(EventKind::ApprovalDecided {
        step: ctx.display_id(),
        verdict,
    });
    decision
}

/// Why a step did not get its approval.
fn rejection(d: &Decision, timeout: Option<Duration>) -> String {
    match d {
        Decision::Rejected {
            by,
            comment: Some(c),
        } => format!("rejected by {by}: {c}"),
        Decision::Rejected { by, .. } => format!("rejected by {by}"),
        _ => format!(
            "the approval timed out after {}",
            humantime::format_duration(timeout.unwrap_or_default())
        ),
    }
}

/// An approval step: ask; `Wait` leaves the step waiting.
async fn approval(ctx: &UnitCtx, message: String, started: Instant) -> UnitResult {
    let timeout = match &ctx.step().body.kind {
        StepKind::Approval { timeout, .. } => *timeout,
        _ => None,
    };
    let decision = decide(ctx, message, timeout).await;
    if decision == Decision::Wait {
        return waiting(started);
    }
    ctx.started(1, 1);
    let mut r = UnitResult::failed(String::new(), started);
    let (by, comment) = match &decision {
        Decision::Approved { by, comment } | Decision::Rejected { by, comment } => {
            (Some(by.clone()), comment.clone())
        }
        _ => (None, None),
    };
    r.extra.insert("approved_by".into(), json!(by));
    r.extra.insert("comment".into(), json!(comment));
    if matches!(decision, Decision::Approved { .. }) {
        r.status = Status::Succeeded;
        r.error = None;
    } else {
        r.error = Some(rejection(&decision, timeout));
    }
    r
}

fn should_retry(ctx: &UnitCtx, retry: &RetrySpec, a: &Attempt, attempt: u32) -> bool {
    let Some(cond) = &retry.condition else {
        return match a.kind {
            ErrorKind::Connect | ErrorKind::HttpStatus => a.retryable,
            k => k != ErrorKind::Expression,
        };
    };
    let error = json!({
        "kind": a.kind.as_str(),
        "exit_code": a.exit_code,
        "status": a.http_status,
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
                    a.message = format!("output `{name}`: {}", e.message);
                    return failed(a, Status::Failed, attempts, started);
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
        extra: a.extra,
        cache: None,
        http_status: a.http_status,
    }
}

async fn run_attempt(
    ctx: &UnitCtx,
    resolved: &Resolved,
    route: Option<&str>,
    attempt: u32,
) -> Attempt {
    let step = ctx.step();
    match resolved {
        Resolved::Transform(outputs) => Attempt {
            ok: true,
            outputs: outputs.clone(),
            ..Attempt::error(ErrorKind::Exit, "")
        },
        Resolved::Http(req) => match &ctx.services {
            Some(rt) => http_attempt(ctx, &rt.client, req, attempt).await.0,
            None => Attempt::error(ErrorKind::Expression, "no HTTP client in this run"),
        },
        Resolved::Call { endpoint, with, .. } => {
            call_attempt(ctx, route, endpoint, with, attempt).await
        }
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
                path: ctx.env_ctx["PATH"].as_str().map(str::to_string),
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
                                exit_code: res.exit_code(),
                                stdout: Some(res.stdout_tail),
                                ..Attempt::error(ErrorKind::Exit, e.to_string())
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
                exit_code,
                stdout: Some(res.stdout_tail),
                outputs,
                ..Attempt::error(kind, message)
            }
        }
        Resolved::Approval { .. } => {
            Attempt::error(ErrorKind::Expression, "an approval is not an attempt")
        }
        Resolved::Unsupported(kind) => Attempt::error(
            ErrorKind::Expression,
            format!("`{kind}` steps are not supported yet"),
        ),
    }
}

/// One request of a `call`: to the service `route`, with its auth, breaker
/// and rate limit.
async fn call_attempt(
    ctx: &UnitCtx,
    route: Option<&str>,
    endpoint: &str,
    with: &Map<String, Json>,
    attempt: u32,
) -> Attempt {
    let (Some(rt), Some(svc)) = (&ctx.services, route.and_then(|r| ctx.cfg.service(r))) else {
        return Attempt::error(ErrorKind::Expression, "no service to call");
    };
    let Some(ep) = svc.endpoint(endpoint) else {
        return Attempt::error(
            ErrorKind::Expression,
            format!("service `{}` has no endpoint `{endpoint}`", svc.id),
        );
    };
    let timeout = ctx
        .step()
        .body
        .timeout
        .or(svc.timeout)
        .unwrap_or(http::DEFAULT_TIMEOUT);
    let mut req = match crate::services::registry::build_request(svc, ep, with, timeout) {
        Ok(r) => r,
        Err(e) => return Attempt::error(ErrorKind::Expression, e),
    };
    if let Some(cred) = svc.auth.credential() {
        let Some(value) = ctx.secret_values.get(cred) else {
            return Attempt::error(
                ErrorKind::Expression,
                format!(
                    "credential `{cred}` of service `{}` was not fetched",
                    svc.id
                ),
            );
        };
        if let Some(h) = crate::services::auth::header(&svc.auth, value) {
            req.headers.push(h);
        }
    }
    let mut a = match rt.breakers.admit(&svc.id, SystemTime::now()) {
        Admit::No { .. } => Attempt {
            refused: true,
            ..Attempt::error(
                ErrorKind::Connect,
                open_breakers_message(std::slice::from_ref(&svc.id)),
            )
        },
        Admit::Yes | Admit::Trial => {
            let mut cancel = ctx.cancel.clone();
            tokio::select! {
                _ = rt.throttle(&svc.id) => {}
                _ = cancel.changed() => return Attempt::error(ErrorKind::Cancelled, "cancelled"),
            }
            let (a, service_failure) = http_attempt(ctx, &rt.client, &req, attempt).await;
            // A request that could not be built says nothing about the service.
            if !matches!(a.kind, ErrorKind::Cancelled | ErrorKind::Expression) {
                rt.breakers
                    .record(&svc.id, !service_failure, SystemTime::now());
            }
            a
        }
    };
    a.extra.insert("service".into(), json!(svc.id));
    a
}

/// Send one request; also says whether a failure is the server's (for
/// circuit breakers).
async fn http_attempt(
    ctx: &UnitCtx,
    client: &reqwest::Client,
    req: &http::Request,
    attempt: u32,
) -> (Attempt, bool) {
    let tp = http::traceparent(&ctx.run_id, &ctx.display_id(), attempt);
    let mut cancel = ctx.cancel.clone();
    if ctx.cancel.level() >= CancelLevel::Graceful {
        return (Attempt::error(ErrorKind::Cancelled, "cancelled"), false);
    }
    let sent = Instant::now();
    let res = tokio::select! {
        r = http::send(client, req, &tp) => r,
        _ = cancel.changed() => return (Attempt::error(ErrorKind::Cancelled, "cancelled"), false),
    };
    let took = sent.elapsed().as_millis();
    let what = format!("{} {}", req.method, req.url);
    let (line, attempt) = match res {
        Ok(resp) => (
            format!("{what} → {} ({took} ms)", resp.status),
            (
                Attempt {
                    ok: true,
                    http_status: Some(resp.status),
                    extra: resp.results(),
                    ..Attempt::error(ErrorKind::Exit, "")
                },
                false,
            ),
        ),
        Err(f) => {
            let kind = match f.kind {
                http::FailureKind::Connect => ErrorKind::Connect,
                http::FailureKind::Timeout => ErrorKind::Timeout,
                http::FailureKind::Status => ErrorKind::HttpStatus,
                http::FailureKind::Invalid => ErrorKind::Expression,
            };
            let a = Attempt {
                http_status: f.status(),
                extra: f.response.as_ref().map(|r| r.results()).unwrap_or_default(),
                retryable: f.retryable(),
                retry_after: f.response.as_ref().and_then(|r| r.retry_after),
                ..Attempt::error(kind, f.message.clone())
            };
            (
                format!("{what} → {} ({took} ms)", f.message),
                (a, f.is_service_failure()),
            )
        }
    };
    ctx.sink.output(&crate::event::OutputLine {
        step_id: &ctx.display_id(),
        stream: crate::event::Stream::Stdout,
        line: &line,
        partial: false,
    });
    attempt
}
