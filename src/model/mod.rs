//! Validated workflow and configuration types. Everything here has passed
//! `validate`: ids are unique, references resolve, expressions compiled.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

mod exprs;

pub(crate) use exprs::Site;

use crate::expr::Expr;
use crate::source::{Source, Span};

/// Values that may hold expressions are the expression module's; they are
/// re-exported here because every model type is built from them.
pub(crate) use crate::expr::{Part, Template, Val};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputType {
    String,
    Number,
    Boolean,
    List,
    Object,
}

impl InputType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
            InputType::List => "list",
            InputType::Object => "object",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct InputDecl {
    pub(crate) name: String,
    pub(crate) ty: InputType,
    pub(crate) default: Option<Json>,
    pub(crate) required: bool,
    pub(crate) choices: Option<Vec<Json>>,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shell {
    Sh,
    Bash,
}

impl Shell {
    pub(crate) fn program(self) -> &'static str {
        match self {
            Shell::Sh => "sh",
            Shell::Bash => "bash",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DelayStrategy {
    Fixed,
    Linear,
    Exponential,
}

#[derive(Debug, Clone)]
pub(crate) struct RetrySpec {
    /// Attempts in total, the first included.
    pub(crate) max_attempts: u32,
    pub(crate) strategy: DelayStrategy,
    pub(crate) base_delay: Duration,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) factor: f64,
    pub(crate) jitter: bool,
    pub(crate) condition: Option<Arc<Expr>>,
}

impl RetrySpec {
    /// The seed default of `http`/`call` steps when orchestration.yaml sets
    /// no `retry:` (the engine and the Argo export both read it).
    pub(crate) fn http_default() -> RetrySpec {
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
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 1,
            strategy: DelayStrategy::Fixed,
            base_delay: Duration::from_secs(1),
            max_delay: None,
            factor: 2.0,
            jitter: false,
            condition: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CacheSpec {
    pub(crate) ttl: Option<Duration>,
    pub(crate) key: Option<Val>,
    pub(crate) sources: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum CallTarget {
    Service(String),
    Capability(String),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct WorkflowSpans {
    pub(crate) path: Span,
    pub(crate) with: Vec<Span>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct CallSpans {
    pub(crate) target: Span,
    pub(crate) endpoint: Span,
    pub(crate) with: Vec<Span>,
    /// The whole `call:` mapping.
    pub(crate) call: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum HttpBody {
    Json(Val),
    Text(Val),
    Form(Vec<(String, Val)>),
}

#[derive(Debug, Clone)]
pub(crate) struct HttpSpec {
    pub(crate) url: Val,
    pub(crate) method: String,
    pub(crate) headers: Vec<(String, Val)>,
    pub(crate) query: Vec<(String, Val)>,
    pub(crate) body: Option<HttpBody>,
    pub(crate) expect_status: Vec<u16>,
    /// `follow_redirects: false` makes a 3xx the answer.
    pub(crate) follow_redirects: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    Run {
        script: Template,
        shell: Shell,
    },
    /// Boxed: the largest kind by far, and rare in large workflows.
    Http(Box<HttpSpec>),
    Call {
        target: CallTarget,
        endpoint: String,
        with: Vec<(String, Val)>,
        /// Where `service`/`capability`, `endpoint` and each `with` key are written.
        spans: CallSpans,
    },
    /// Another workflow file as a child run.
    Workflow {
        /// Resolved against the directory of the file it is in; absolute
        /// (canonical) once validation has read the child.
        path: std::path::PathBuf,
        with: Vec<(String, Val)>,
        /// Where the path and each `with` key are written.
        spans: WorkflowSpans,
        /// The child, validated (and its own children, to the depth limit).
        child: Option<Arc<Workflow>>,
    },
    Transform(Vec<(String, Val)>),
    Approval {
        message: Option<Val>,
        timeout: Option<Duration>,
    },
}

impl StepKind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            StepKind::Run { .. } => "run",
            StepKind::Http(_) => "http",
            StepKind::Call { .. } => "call",
            StepKind::Workflow { .. } => "workflow",
            StepKind::Transform(_) => "transform",
            StepKind::Approval { .. } => "approval",
        }
    }
}

/// What a step does, plus the keys a `compensate:` body may also carry.
#[derive(Debug, Clone)]
pub(crate) struct StepBody {
    pub(crate) kind: StepKind,
    pub(crate) env: Vec<(String, Val)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetrySpec>,
}

/// What a step fans out over: a `for_each` list, or a `matrix`.
#[derive(Debug, Clone)]
pub(crate) enum FanOut {
    /// A list, or an expression giving one.
    List(Val),
    Matrix(Matrix),
}

/// `matrix:` as written: each axis a list (or an expression giving one);
/// `include`/`exclude` entries are mappings written out in the file (their
/// values may hold expressions), so an item's keys are known before the run.
#[derive(Debug, Clone)]
pub(crate) struct Matrix {
    pub(crate) axes: Vec<(String, Val)>,
    pub(crate) include: Vec<Vec<(String, Val)>>,
    pub(crate) exclude: Vec<Vec<(String, Val)>>,
}

impl Matrix {
    /// The keys an item may have: the axes, then those `include` adds.
    pub(crate) fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.axes.iter().map(|(k, _)| k.as_str()).collect();
        for (k, _) in self.include.iter().flatten() {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        keys
    }
}

impl FanOut {
    pub(crate) fn exprs(&self) -> Vec<&Arc<Expr>> {
        match self {
            FanOut::List(v) => v.exprs(),
            FanOut::Matrix(m) => m
                .axes
                .iter()
                .chain(m.include.iter().flatten())
                .chain(m.exclude.iter().flatten())
                .flat_map(|(_, v)| v.exprs())
                .collect(),
        }
    }

    /// `matrix` or `for_each`, as diagnostics and notes name it.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            FanOut::List(_) => "for_each",
            FanOut::Matrix(_) => "matrix",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    Main,
    OnFailure,
    Finally,
}

#[derive(Debug, Clone)]
pub(crate) struct Need {
    pub(crate) id: String,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) phase: Phase,
    /// Where the step's `id` value is written.
    pub(crate) span: Span,
    pub(crate) needs: Vec<Need>,
    /// `if:`; `None` means the default `success()`.
    pub(crate) cond: Option<Arc<Expr>>,
    pub(crate) working_dir: Option<Val>,
    pub(crate) continue_on_error: bool,
    /// `for_each:` or `matrix:`: the step runs once per item. Boxed, as
    /// `cache`: most steps have neither, and a Step is per step in memory.
    pub(crate) for_each: Option<Box<FanOut>>,
    pub(crate) max_parallel: Option<usize>,
    pub(crate) outputs: Vec<(String, Val)>,
    pub(crate) cache: Option<Box<CacheSpec>>,
    pub(crate) compensate: Option<Box<StepBody>>,
    pub(crate) priority: i64,
    pub(crate) resources: Vec<(String, u32)>,
    /// `watch:` globs, relative to the workflow file: more files whose
    /// changes start a new run under `orch run --watch`.
    pub(crate) watch: Vec<String>,
    pub(crate) body: StepBody,
    /// SHA-256 of the step as written: what `orch resume` compares.
    pub(crate) definition: String,
    /// Whether anything may read `steps.<id>.stdout` (see
    /// [`Workflow::mark_stdout_readers`]); if not, none of it is kept.
    pub(crate) keep_stdout: bool,
}

impl Step {
    /// Whether the saga undoes this step: it has `compensate:`, or it is a
    /// `workflow:` step whose child has steps to undo (a nested saga).
    pub(crate) fn undoable(&self) -> bool {
        if self.compensate.is_some() {
            return true;
        }
        match &self.body.kind {
            StepKind::Workflow { child: Some(c), .. } => c
                .steps
                .iter()
                .any(|s| s.phase == Phase::Main && s.undoable()),
            _ => false,
        }
    }

    pub(crate) fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Workflow {
    pub(crate) name: String,
    /// Free text, shown by `orch list`.
    pub(crate) description: Option<String>,
    pub(crate) version: Option<i64>,
    pub(crate) inputs: Vec<InputDecl>,
    pub(crate) env: Vec<(String, Val)>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) timeout: Option<Duration>,
    /// Main steps first, then `on_failure`, then `finally` (see [`Step::phase`]).
    pub(crate) steps: Vec<Step>,
    pub(crate) outputs: Vec<(String, Val)>,
    /// The `dotenv:` files, read when the workflow was loaded.
    pub(crate) dotenv: Dotenv,
    pub(crate) source: Arc<Source>,
}

/// One file named under `dotenv:`, and whether it was there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DotenvFile {
    /// The path as shown: the workflow file's directory joined with the name.
    pub(crate) path: std::path::PathBuf,
    pub(crate) found: bool,
}

/// What a workflow's `dotenv:` files set, in the order they set it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dotenv {
    pub(crate) files: Vec<DotenvFile>,
    /// Later files override earlier ones, a later line an earlier one.
    pub(crate) vars: Vec<(String, String)>,
}

impl Workflow {
    pub(crate) fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }
}

// ---- orchestration.yaml ----------------------------------------------------

#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub(crate) source: Option<Arc<Source>>,
    pub(crate) retry: Option<RetrySpec>,
    pub(crate) policies: Policies,
    pub(crate) telemetry: Telemetry,
    pub(crate) pools: Vec<(String, u32)>,
    pub(crate) services: Vec<Service>,
    pub(crate) middleware: Middleware,
}

/// The `middleware:` toggles that change requests (`metrics` is
/// [`Telemetry::metrics_off`]; `sanitization` cannot be turned off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Middleware {
    /// `authentication`: services' `auth:` credentials are fetched and sent.
    pub(crate) authentication: bool,
    /// `caching`: GET responses of `http`/`call` steps are reused within a
    /// run as their `Cache-Control`/`ETag` allow. Off unless listed.
    pub(crate) caching: bool,
}

impl Default for Middleware {
    fn default() -> Middleware {
        Middleware {
            authentication: true,
            caching: false,
        }
    }
}

impl Config {
    pub(crate) fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The services that may answer a call, in the order they are tried:
    /// `priority` ascending, then file order.
    pub(crate) fn candidates(&self, target: &CallTarget) -> Vec<&Service> {
        let mut v: Vec<&Service> = match target {
            CallTarget::Service(id) => self.service(id).into_iter().collect(),
            CallTarget::Capability(c) => self
                .services
                .iter()
                .filter(|s| s.capabilities.iter().any(|x| x == c))
                .collect(),
        };
        v.sort_by_key(|s| s.priority);
        v
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Policies {
    pub(crate) fallback_on_error: bool,
    pub(crate) max_parallel_tasks: Option<usize>,
    pub(crate) rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyAction {
    Deny,
    RequireApproval,
}

#[derive(Debug, Clone)]
pub(crate) struct PolicyRule {
    pub(crate) id: String,
    pub(crate) when: Arc<Expr>,
    pub(crate) action: PolicyAction,
    pub(crate) message: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Telemetry {
    pub(crate) log_to_file: bool,
    pub(crate) log_file_path: Option<String>,
    pub(crate) webhook_url: Option<String>,
    /// Where a run's metrics are pushed when it ends (a Pushgateway).
    pub(crate) metrics_endpoint: Option<String>,
    /// `middleware: [{id: metrics, enabled: false}]`: no push.
    pub(crate) metrics_off: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    Bearer {
        credential: String,
    },
    /// The credential holds `user:password`.
    Basic {
        credential: String,
    },
    ApiKey {
        header: String,
        credential: String,
    },
}

impl Auth {
    /// The name of the secret this auth reads.
    pub(crate) fn credential(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Bearer { credential }
            | Auth::Basic { credential }
            | Auth::ApiKey { credential, .. } => Some(credential),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer { .. } => "bearer",
            Auth::Basic { .. } => "basic",
            Auth::ApiKey { .. } => "api_key",
        }
    }
}

impl Endpoint {
    pub(crate) fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

impl Service {
    pub(crate) fn endpoint(&self, id: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    pub(crate) requests: u32,
    pub(crate) per: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct CircuitBreaker {
    pub(crate) failure_threshold: u32,
    pub(crate) reset_timeout: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct HealthCheck {
    pub(crate) path: String,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamIn {
    Path,
    Query,
    Body,
    Header,
}

#[derive(Debug, Clone)]
pub(crate) struct Parameter {
    pub(crate) name: String,
    pub(crate) location: ParamIn,
    pub(crate) required: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) id: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) parameters: Vec<Parameter>,
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) base_url: String,
    pub(crate) auth: Auth,
    pub(crate) capabilities: Vec<String>,
    pub(crate) priority: i64,
    pub(crate) timeout: Option<Duration>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) circuit_breaker: Option<CircuitBreaker>,
    pub(crate) health_check: Option<HealthCheck>,
    pub(crate) endpoints: Vec<Endpoint>,
}
