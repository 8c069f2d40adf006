//! Validated workflow and configuration types. Everything here has passed
//! `validate`: ids are unique, references resolve, expressions compiled.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

mod exprs;

pub use exprs::Site;

use crate::expr::Expr;
use crate::source::{Source, Span};

/// Values that may hold expressions are the expression module's; they are
/// re-exported here because every model type is built from them.
pub use crate::expr::{Part, Template, Val};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    String,
    Number,
    Boolean,
    List,
    Object,
}

impl InputType {
    pub fn name(self) -> &'static str {
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
pub struct InputDecl {
    pub name: String,
    pub ty: InputType,
    pub default: Option<Json>,
    pub required: bool,
    pub choices: Option<Vec<Json>>,
    pub description: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Sh,
    Bash,
}

impl Shell {
    pub fn program(self) -> &'static str {
        match self {
            Shell::Sh => "sh",
            Shell::Bash => "bash",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayStrategy {
    Fixed,
    Linear,
    Exponential,
}

#[derive(Debug, Clone)]
pub struct RetrySpec {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub strategy: DelayStrategy,
    pub base_delay: Duration,
    pub max_delay: Option<Duration>,
    pub factor: f64,
    pub jitter: bool,
    pub condition: Option<Arc<Expr>>,
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
pub struct CacheSpec {
    pub ttl: Option<Duration>,
    pub key: Option<Val>,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum CallTarget {
    Service(String),
    Capability(String),
}

#[derive(Debug, Clone, Default)]
pub struct CallSpans {
    pub target: Span,
    pub endpoint: Span,
    pub with: Vec<Span>,
    /// The whole `call:` mapping.
    pub call: Span,
}

#[derive(Debug, Clone)]
pub enum HttpBody {
    Json(Val),
    Text(Val),
    Form(Vec<(String, Val)>),
}

#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub url: Val,
    pub method: String,
    pub headers: Vec<(String, Val)>,
    pub query: Vec<(String, Val)>,
    pub body: Option<HttpBody>,
    pub expect_status: Vec<u16>,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Run {
        script: Template,
        shell: Shell,
    },
    Http(HttpSpec),
    Call {
        target: CallTarget,
        endpoint: String,
        with: Vec<(String, Val)>,
        /// Where `service`/`capability`, `endpoint` and each `with` key are written.
        spans: CallSpans,
    },
    Workflow {
        path: String,
        with: Vec<(String, Val)>,
    },
    Transform(Vec<(String, Val)>),
    Approval {
        message: Option<Val>,
        timeout: Option<Duration>,
    },
}

impl StepKind {
    pub fn name(&self) -> &'static str {
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
pub struct StepBody {
    pub kind: StepKind,
    pub env: Vec<(String, Val)>,
    pub timeout: Option<Duration>,
    pub retry: Option<RetrySpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Main,
    OnFailure,
    Finally,
}

#[derive(Debug, Clone)]
pub struct Need {
    pub id: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: Option<String>,
    pub phase: Phase,
    /// Where the step's `id` value is written.
    pub span: Span,
    pub needs: Vec<Need>,
    /// `if:`; `None` means the default `success()`.
    pub cond: Option<Arc<Expr>>,
    pub working_dir: Option<Val>,
    pub continue_on_error: bool,
    pub for_each: Option<Val>,
    pub max_parallel: Option<usize>,
    pub outputs: Vec<(String, Val)>,
    pub cache: Option<CacheSpec>,
    pub compensate: Option<Box<StepBody>>,
    pub priority: i64,
    pub resources: Vec<(String, u32)>,
    pub body: StepBody,
    /// SHA-256 of the step as written: what `orch resume` compares.
    pub definition: String,
}

impl Step {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub description: Option<String>,
    pub version: Option<i64>,
    pub inputs: Vec<InputDecl>,
    pub env: Vec<(String, Val)>,
    pub concurrency: Option<usize>,
    pub timeout: Option<Duration>,
    /// Main steps first, then `on_failure`, then `finally` (see [`Step::phase`]).
    pub steps: Vec<Step>,
    pub outputs: Vec<(String, Val)>,
    pub source: Arc<Source>,
}

impl Workflow {
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }
}

// ---- orchestration.yaml ----------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub source: Option<Arc<Source>>,
    pub retry: Option<RetrySpec>,
    pub policies: Policies,
    pub credential_injection: CredentialInjection,
    pub middleware: Vec<Middleware>,
    pub telemetry: Telemetry,
    pub pools: Vec<(String, u32)>,
    pub services: Vec<Service>,
}

impl Config {
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The services that may answer a call, in the order they are tried:
    /// `priority` ascending, then file order.
    pub fn candidates(&self, target: &CallTarget) -> Vec<&Service> {
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

    /// The directory steps run in: the config file's directory.
    pub fn project_dir(&self) -> Option<&std::path::Path> {
        self.source.as_ref().map(|s| s.dir())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub fallback_on_error: bool,
    pub allow_cross_agent: bool,
    pub max_parallel_tasks: Option<usize>,
    pub rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyAction {
    Deny,
    RequireApproval,
}

#[derive(Debug, Clone)]
pub struct PolicyRule {
    pub id: String,
    pub when: Arc<Expr>,
    pub action: PolicyAction,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CredentialInjection {
    pub allow_external_vault: bool,
    pub auto_load_from_prompt_vault: bool,
}

#[derive(Debug, Clone)]
pub struct Middleware {
    pub id: String,
    pub enabled: bool,
    pub priority: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    pub log_to_file: bool,
    pub log_file_path: Option<String>,
    pub emit_events: bool,
    pub metrics_endpoint: Option<String>,
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Auth {
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
    pub fn credential(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Bearer { credential }
            | Auth::Basic { credential }
            | Auth::ApiKey { credential, .. } => Some(credential),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer { .. } => "bearer",
            Auth::Basic { .. } => "basic",
            Auth::ApiKey { .. } => "api_key",
        }
    }
}

impl Endpoint {
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

impl Service {
    pub fn endpoint(&self, id: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }
}

#[derive(Debug, Clone)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    pub failure_threshold: u32,
    pub reset_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub path: String,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    Path,
    Query,
    Body,
    Header,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    pub location: ParamIn,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub method: String,
    pub path: String,
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: Option<String>,
    pub base_url: String,
    pub auth: Auth,
    pub capabilities: Vec<String>,
    pub priority: i64,
    pub timeout: Option<Duration>,
    pub rate_limit: Option<RateLimit>,
    pub circuit_breaker: Option<CircuitBreaker>,
    pub health_check: Option<HealthCheck>,
    pub endpoints: Vec<Endpoint>,
    pub span: Span,
}
