//! The keys of `orchestration.yaml`: retry defaults, policies, telemetry,
//! pools and the service registry.

use super::{Key, Table, Ty, RETRY};

pub(crate) const POLICY_ACTIONS: &[&str] = &["deny", "require_approval"];
pub(crate) const MIDDLEWARE_IDS: &[&str] =
    &["authentication", "metrics", "caching", "sanitization"];
pub(crate) const AUTH_TYPES: &[&str] = &["none", "bearer", "basic", "api_key"];
pub(crate) const PARAM_IN: &[&str] = &["path", "query", "body", "header"];

const fn list(of: &'static Ty) -> Ty {
    Ty::List {
        of,
        non_empty: false,
    }
}

/// The file itself: one `orchestration:` key.
pub(crate) static CONFIG_FILE: Table = Table {
    id: "orchestration-file",
    what: "orchestration.yaml",
    noun: "file",
    plural: "files",
    section: Some("orchestrationyaml"),
    groups: &[],
    keys: &[Key::new(
        "orchestration",
        Ty::Object(&ORCHESTRATION),
        "every setting sits under this key",
    )
    .required()],
};

pub(crate) static ORCHESTRATION: Table = Table {
    id: "orchestration",
    what: "orchestration",
    noun: "mapping",
    plural: "mappings",
    section: Some("keys"),
    groups: &[],
    keys: &[
        Key::new(
            "retry",
            Ty::Object(&RETRY),
            "default retry of `http`/`call` steps; never used by `run`/`transform` steps",
        )
        .default("3 attempts, exponential from 200ms, jitter"),
        Key::new("policies", Ty::Object(&POLICIES), "routing and policy settings"),
        Key::new(
            "credential_injection",
            Ty::Object(&CREDENTIAL_INJECTION),
            "where credentials may come from",
        )
        .no_effect(),
        Key::new(
            "middleware",
            list(&Ty::Object(&MIDDLEWARE)),
            "request middleware (see [Middleware](#middleware)); with `enabled: false`, `authentication` sends no service credentials (and fetches none) and `metrics` turns off the metrics push; `caching` (off unless listed) reuses GET responses in a run and across runs; secret masking is always on, whatever this says",
        ),
        Key::new("telemetry", Ty::Object(&TELEMETRY), "where events go besides the output"),
        Key::new(
            "pools",
            Ty::Map {
                key: &Ty::Name { noun: "pool", pattern: None },
                of: &Ty::Int { min: Some(1) },
                non_empty: false,
            },
            "resource pools and their sizes, for steps' `resources:` (see [Resource pools](#resource-pools))",
        ),
        Key::new(
            "services",
            list(&Ty::Object(&SERVICE)),
            "the service registry: `call` steps and `orch services`",
        ),
    ],
};

pub(crate) static POLICIES: Table = Table {
    id: "policies",
    what: "policies",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "fallback_on_error",
            Ty::Bool,
            "a `call` whose service failed after its retries falls over to the next candidate",
        )
        .default("`false`"),
        Key::new(
            "allow_cross_agent",
            Ty::Bool,
            "whether steps may call services of other agents",
        )
        .default("`false`")
        .no_effect(),
        Key::new(
            "max_parallel_tasks",
            Ty::Int { min: Some(1) },
            "default concurrency of runs (see [Concurrency](#concurrency))",
        ),
        Key::new(
            "rules",
            list(&Ty::Object(&RULE)),
            "checked before each step starts ([Policies](#policies))",
        ),
    ],
};

pub(crate) static RULE: Table = Table {
    id: "rule",
    what: "a policy rule",
    noun: "rule",
    plural: "rules",
    section: None,
    groups: &[],
    keys: &[
        Key::new("id", Ty::Str, "the rule's name, quoted in messages").required(),
        Key::new(
            "when",
            Ty::Expr,
            "may use only `step.{id, kind, service, capability, endpoint}`, `inputs`, `run`; must give a boolean",
        )
        .required(),
        Key::new(
            "action",
            Ty::Enum(POLICY_ACTIONS),
            "what happens when `when` is true",
        )
        .required(),
        Key::new(
            "message",
            Ty::Str,
            "the reason of a denial, the question of an approval",
        )
        .default("``policy rule `id` ``"),
    ],
};

pub(crate) static CREDENTIAL_INJECTION: Table = Table {
    id: "credential_injection",
    what: "credential_injection",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "allow_external_vault",
            Ty::Bool,
            "read credentials from an external vault",
        )
        .default("`false`")
        .no_effect(),
        Key::new(
            "auto_load_from_prompt_vault",
            Ty::Bool,
            "load credentials from a prompt vault",
        )
        .default("`false`")
        .no_effect(),
    ],
};

pub(crate) static MIDDLEWARE: Table = Table {
    id: "middleware",
    what: "a middleware",
    noun: "middleware",
    plural: "middleware",
    section: None,
    groups: &[],
    keys: &[
        // An entry without an `id` is ignored.
        Key::new("id", Ty::Enum(MIDDLEWARE_IDS), "which middleware"),
        Key::new(
            "enabled",
            Ty::Bool,
            "`false` is an error for `sanitization` (secret masking)",
        )
        .default("`true`"),
        Key::new(
            "priority",
            Ty::Int { min: None },
            "its place among the others",
        )
        .default("`0`")
        .no_effect(),
    ],
};

pub(crate) static TELEMETRY: Table = Table {
    id: "telemetry",
    what: "telemetry",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "log_to_file",
            Ty::Bool,
            "append every event to a file, as a JSON line",
        )
        .default("`false`"),
        Key::new(
            "log_file_path",
            Ty::Str,
            "relative to the project directory; parent directories are created; if it cannot be opened, `orch run` exits 2",
        )
        .default("`logs/orchestration.log`"),
        Key::new("emit_events", Ty::Bool, "whether events are emitted; they always are")
            .default("`true`")
            .no_effect(),
        Key::new(
            "metrics_endpoint",
            Ty::Str,
            "a Prometheus Pushgateway; each run's metrics are PUT to `<endpoint>/metrics/job/orch/workflow/<name>` when it ends ([metrics](#metrics))",
        ),
        Key::new(
            "webhook_url",
            Ty::Str,
            "POST every event there ([progress webhook](#progress-webhook)); `ORCHESTRATION_PROGRESS_WEBHOOK_URL` takes precedence",
        ),
    ],
};

pub(crate) static SERVICE: Table = Table {
    id: "service",
    what: "a service",
    noun: "service",
    plural: "services",
    section: Some("services"),
    groups: &[],
    keys: &[
        Key::new(
            "id",
            Ty::Name {
                noun: "service id",
                pattern: None,
            },
            "unique; what `call: { service: … }` names",
        )
        .required(),
        Key::new("name", Ty::Str, "display name, shown by `orch services`"),
        Key::new("base_url", Ty::Str, "endpoint paths are appended to it").required(),
        Key::new(
            "auth",
            Ty::Object(&AUTH),
            "a header added to every request of a `call`, see [Auth](#auth)",
        )
        .default("`type: none`"),
        Key::new(
            "capabilities",
            Ty::OneOrList(&Ty::Str),
            "capabilities this service provides",
        ),
        Key::new(
            "priority",
            Ty::Int { min: None },
            "lower is tried first among services of a capability",
        )
        .default("`0`"),
        Key::new(
            "timeout",
            Ty::Duration,
            "per-attempt timeout of `call` steps that set no `timeout`",
        )
        .default("30s"),
        Key::new(
            "rate_limit",
            Ty::Object(&RATE_LIMIT),
            "a token bucket, see [Rate limits](#rate-limits)",
        )
        .default("none"),
        Key::new(
            "circuit_breaker",
            Ty::Object(&CIRCUIT_BREAKER),
            "see [Circuit breakers](#circuit-breakers)",
        )
        .default("none"),
        Key::new(
            "health_check",
            Ty::Object(&HEALTH_CHECK),
            "used by `orch services check` only",
        )
        .default("none"),
        Key::new(
            "endpoints",
            list(&Ty::Object(&ENDPOINT)),
            "what `call` steps may call",
        ),
    ],
};

pub(crate) static AUTH: Table = Table {
    id: "auth",
    what: "auth",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new("type", Ty::Enum(AUTH_TYPES), "how the credential is sent").default("`none`"),
        Key::new(
            "credential",
            Ty::Name {
                noun: "secret name",
                pattern: None,
            },
            "the secret that holds it (for `basic`: `user:password`)",
        )
        .default("required unless `type` is `none`"),
        Key::new("header", Ty::Str, "the header of `api_key` auth").default("`X-API-Key`"),
    ],
};

pub(crate) static RATE_LIMIT: Table = Table {
    id: "rate_limit",
    what: "rate_limit",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "requests",
            Ty::Int { min: Some(1) },
            "requests per `per`, and the largest burst",
        )
        .required(),
        Key::new("per", Ty::Duration, "the period").required(),
    ],
};

pub(crate) static CIRCUIT_BREAKER: Table = Table {
    id: "circuit_breaker",
    what: "circuit_breaker",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "failure_threshold",
            Ty::Int { min: Some(1) },
            "consecutive failures that open the breaker",
        )
        .required(),
        Key::new(
            "reset_timeout",
            Ty::Duration,
            "how long it stays open before a trial request",
        )
        .required(),
    ],
};

pub(crate) static HEALTH_CHECK: Table = Table {
    id: "health_check",
    what: "health_check",
    noun: "mapping",
    plural: "mappings",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "path",
            Ty::Str,
            "`GET` of `base_url` + `path`, healthy on a 2xx",
        )
        .required(),
        Key::new("interval", Ty::Duration, "only shown by `orch services`"),
        Key::new("timeout", Ty::Duration, "limit of one check").default("5s"),
    ],
};

pub(crate) static ENDPOINT: Table = Table {
    id: "endpoint",
    what: "an endpoint",
    noun: "endpoint",
    plural: "endpoints",
    section: None,
    groups: &[],
    keys: &[
        Key::new(
            "id",
            Ty::Name {
                noun: "endpoint id",
                pattern: None,
            },
            "what `call: { endpoint: … }` names",
        )
        .required(),
        Key::new("method", Ty::Str, "upper-cased").default("`GET`"),
        Key::new(
            "path",
            Ty::Str,
            "joined to `base_url`; may hold `{name}` placeholders for `path` parameters",
        ),
        Key::new(
            "parameters",
            list(&Ty::Object(&PARAMETER)),
            "what `with:` may give; an endpoint without parameters takes any",
        ),
    ],
};

pub(crate) static PARAMETER: Table = Table {
    id: "parameter",
    what: "a parameter",
    noun: "parameter",
    plural: "parameters",
    section: None,
    groups: &[],
    keys: &[
        Key::new("name", Ty::Str, "its key in `with:`").required(),
        Key::new(
            "in",
            Ty::Enum(PARAM_IN),
            "where the value goes, see [Calling services](#calling-services-call)",
        )
        .default("`body`"),
        Key::new("required", Ty::Bool, "a `call` must give it in `with:`").default("`false`"),
    ],
};
