//! The keys of a workflow file: top level, defaults, inputs, steps and the
//! mappings inside them.

use super::{Group, Key, Role, Table, Ty, ID_PATTERN};

pub(crate) const INPUT_TYPES: &[&str] = &["string", "number", "boolean", "list", "object"];
pub(crate) const SHELLS: &[&str] = &["sh", "bash"];
pub(crate) const DELAY_STRATEGIES: &[&str] = &["fixed", "linear", "exponential"];
/// The keys of an `http` step that give its body.
pub(crate) const HTTP_BODIES: &[&str] = &["json", "body", "form"];
/// The keys that run a step once per item.
pub(crate) const FAN_OUTS: &[&str] = &["for_each", "matrix"];
pub(crate) const CALL_TARGETS: &[&str] = &["service", "capability"];

const NAME: Ty = Ty::Name {
    noun: "name",
    pattern: None,
};
const STEP_ID: Ty = Ty::Name {
    noun: "step id",
    pattern: Some(ID_PATTERN),
};
const VALUES: Ty = Ty::Map {
    key: &NAME,
    of: &Ty::Any,
    non_empty: false,
};
const STEP_LIST: Ty = Ty::List {
    of: &Ty::Object(&STEP),
    non_empty: false,
};

pub(crate) static WORKFLOW: Table = Table {
    id: "workflow",
    what: "the workflow",
    noun: "workflow",
    plural: "workflows",
    section: Some("top-level-keys"),
    groups: &[],
    keys: &[
        Key::new(
            "name",
            Ty::Name {
                noun: "workflow name",
                pattern: Some("[A-Za-z0-9_.-]+"),
            },
            "the workflow's name (`run.workflow`, `ORCH_WORKFLOW`, events)",
        )
        .required(),
        Key::new("description", Ty::Str, "free text, shown by `orch list`"),
        Key::new(
            "version",
            Ty::Int { min: None },
            "shown by `orch plan` and `orch show`",
        ),
        Key::new(
            "inputs",
            Ty::Map {
                key: &Ty::Name {
                    noun: "input name",
                    pattern: Some(ID_PATTERN),
                },
                of: &Ty::Object(&INPUT),
                non_empty: false,
            },
            "typed parameters of the run",
        )
        .default("none"),
        Key::new(
            "env",
            VALUES,
            "environment for every `run` step; values may hold expressions and become text",
        )
        .default("none"),
        Key::new(
            "dotenv",
            Ty::OneOrList(&Ty::Str),
            "dotenv files, relative to the workflow file, read in order (a later file wins); a missing file is skipped; their values are below `env:` and below orch's own environment",
        )
        .default("none"),
        Key::new(
            "concurrency",
            Ty::Int { min: Some(1) },
            "most units running at once",
        )
        .default("see [Concurrency](#concurrency)"),
        Key::new(
            "timeout",
            Ty::Duration,
            "deadline for the main steps of the run",
        )
        .default("none"),
        Key::new(
            "defaults",
            Ty::Object(&DEFAULTS),
            "defaults for every step, in all phases",
        ),
        Key::new(
            "steps",
            Ty::List {
                of: &Ty::Object(&STEP),
                non_empty: true,
            },
            "the main steps",
        )
        .required(),
        Key::new(
            "outputs",
            VALUES,
            "the workflow's outputs, evaluated when the main steps have finished",
        )
        .default("none"),
        Key::new("on_failure", STEP_LIST, "run only when the run failed").default("none"),
        Key::new(
            "finally",
            STEP_LIST,
            "run whatever happened (except after a second Ctrl-C)",
        )
        .default("none"),
    ],
};

pub(crate) static DEFAULTS: Table = Table {
    id: "defaults",
    what: "defaults",
    noun: "mapping",
    plural: "mappings",
    section: Some("defaults"),
    groups: &[],
    keys: &[
        Key::new(
            "timeout",
            Ty::Duration,
            "per-attempt timeout of every step without its own `timeout`",
        )
        .default("none"),
        Key::new(
            "retry",
            Ty::Object(&RETRY),
            "`retry` of every step without its own (replaced, not merged)",
        )
        .default("no retry"),
        Key::new(
            "shell",
            Ty::Enum(SHELLS),
            "shell of every `run` step without its own `shell`",
        )
        .default("`sh`"),
        Key::new(
            "working_dir",
            Ty::Template,
            "`working_dir` of every step without its own",
        )
        .default("the project directory"),
    ],
};

pub(crate) static INPUT: Table = Table {
    id: "input",
    what: "an input",
    noun: "declaration",
    plural: "declarations",
    section: Some("inputs"),
    groups: &[],
    keys: &[
        Key::new(
            "type",
            Ty::Enum(INPUT_TYPES),
            "the value's type, checked before anything runs",
        )
        .default("`string`"),
        Key::new(
            "default",
            Ty::Any,
            "used when the input is not given; must be of `type` and one of `enum`",
        ),
        Key::new(
            "enum",
            Ty::List {
                of: &Ty::Any,
                non_empty: true,
            },
            "the allowed values, each of `type` (checked for given values and defaults)",
        ),
        Key::new(
            "required",
            Ty::Bool,
            "with no default: the run refuses to start without it",
        )
        .default("`false`"),
        Key::new("description", Ty::Str, "free text, shown by `orch list`"),
    ],
};

pub(crate) static STEP: Table = Table {
    id: "step",
    what: "a step",
    noun: "step",
    plural: "steps",
    section: Some("steps"),
    groups: &[Group { keys: FAN_OUTS, required: false }],
    keys: &[
        Key::new("id", STEP_ID, "the step's id, unique in the file").required(),
        Key::new("name", Ty::Str, "display name, used by `orch graph`").default("the id"),
        Key::new("needs", Ty::OneOrList(&STEP_ID), "steps to wait for (see below)")
            .default("none"),
        Key::new(
            "if",
            Ty::Expr,
            "run the step only when true, see [Conditions](#conditions-and-failure-handling)",
        )
        .default("`success()`"),
        Key::new(
            "env",
            VALUES,
            "extra environment for a `run` step; values may hold expressions",
        )
        .default("none")
        .role(Role::Body),
        Key::new(
            "working_dir",
            Ty::Template,
            "where a `run` step runs; relative to the project directory",
        )
        .default("`defaults.working_dir`, else the project directory"),
        Key::new(
            "timeout",
            Ty::Duration,
            "limit per attempt of a `run`, `http` or `call` step",
        )
        .default("`defaults.timeout`, else none (`http`/`call`: 30s, see [Timeouts](#timeouts))")
        .role(Role::Body),
        Key::new("retry", Ty::Object(&RETRY), "how failed attempts are tried again")
            .default("`defaults.retry`, else no retry (`http`/`call`: see [Retries](#retries-and-timeouts))")
            .role(Role::Body),
        Key::new(
            "continue_on_error",
            Ty::Bool,
            "a failure of this step does not fail the run",
        )
        .default("`false`"),
        Key::new(
            "for_each",
            Ty::Either(&[Ty::List { of: &Ty::Any, non_empty: false }, Ty::Template]),
            "run the step once per item of the list (an expression must give a list), see [for_each](#for_each-and-max_parallel)",
        ),
        Key::new(
            "matrix",
            Ty::Map {
                key: &NAME,
                of: &Ty::Either(&[Ty::List { of: &Ty::Any, non_empty: true }, Ty::Template]),
                non_empty: true,
            },
            "instead of `for_each`: run the step once per combination of the axes, `include`/`exclude` as GitHub Actions, see [matrix](#matrix)",
        ),
        Key::new(
            "max_parallel",
            Ty::Int { min: Some(1) },
            "items of this `for_each`/`matrix` step running at once (only with one of them)",
        )
        .default("unlimited"),
        Key::new(
            "outputs",
            VALUES,
            "computed after the step succeeded, added to `steps.<id>.outputs`",
        )
        .default("none"),
        Key::new(
            "cache",
            Ty::Either(&[Ty::Bool, Ty::Object(&CACHE)]),
            "reuse the results of an earlier run",
        )
        .default("none"),
        Key::new(
            "watch",
            Ty::OneOrList(&Ty::Str),
            "globs, relative to the workflow file, of more files whose changes start a new run under `orch run --watch`",
        )
        .default("none"),
        Key::new(
            "compensate",
            Ty::StepBody,
            "undo the step when the run fails or is cancelled after it completed (a main step only)",
        ),
        Key::new(
            "priority",
            Ty::Int { min: None },
            "higher starts first when more units are ready than slots",
        )
        .default("`0`"),
        Key::new(
            "resources",
            Ty::Map {
                key: &Ty::Name { noun: "pool", pattern: None },
                of: &Ty::Int { min: Some(1) },
                non_empty: false,
            },
            "amounts taken from `orchestration.yaml` pools while the step runs",
        )
        .default("none"),
        Key::new("shell", Ty::Enum(SHELLS), "the shell of a `run` step")
            .default("`defaults.shell`, else `sh`")
            .role(Role::Body),
        Key::new(
            "with",
            VALUES,
            "the inputs of a `workflow` step, valid only on these; for `call` steps `with` goes inside `call:`",
        )
        .role(Role::Body),
        // The kinds, in the order "add exactly one of" lists them.
        Key::new(
            "run",
            Ty::Template,
            "a shell script, see [`run`](#run)",
        )
        .role(Role::Kind),
        Key::new("http", Ty::Object(&HTTP), "one HTTP request per attempt").role(Role::Kind),
        Key::new(
            "call",
            Ty::Object(&CALL),
            "a request to an endpoint of a service of `orchestration.yaml`",
        )
        .role(Role::Kind),
        Key::new(
            "workflow",
            Ty::Name { noun: "path", pattern: None },
            "another workflow file (relative to this one) as a child run, with the step-level `with` as its inputs",
        )
        .role(Role::Kind),
        Key::new(
            "transform",
            Ty::Map { key: &NAME, of: &Ty::Any, non_empty: true },
            "computes values and runs nothing, see [`transform`](#transform)",
        )
        .role(Role::Kind),
        Key::new(
            "approval",
            Ty::Object(&APPROVAL),
            "waits for a person to approve or reject",
        )
        .role(Role::Kind),
    ],
};

pub(crate) static HTTP: Table = Table {
    id: "http",
    what: "http",
    noun: "mapping",
    plural: "mappings",
    section: Some("http"),
    groups: &[Group { keys: HTTP_BODIES, required: false }],
    keys: &[
        Key::new("url", Ty::Template, "an `http://` or `https://` URL").required(),
        Key::new("method", Ty::Str, "any method; upper-cased").default("`GET`"),
        Key::new("headers", VALUES, "request headers; values are text").default("none"),
        Key::new("query", VALUES, "appended to the query string of `url`").default("none"),
        Key::new(
            "json",
            Ty::Any,
            "the body, as JSON; adds `Content-Type: application/json` unless `headers` set a `Content-Type`",
        ),
        Key::new(
            "body",
            Ty::Template,
            "the body, as text, sent as is (no `Content-Type` added)",
        ),
        Key::new(
            "form",
            VALUES,
            "the body, `application/x-www-form-urlencoded`",
        ),
        Key::new(
            "expect_status",
            Ty::OneOrList(&Ty::Int { min: Some(100) }),
            "the statuses that count as success",
        )
        .default("any 2xx"),
        Key::new(
            "follow_redirects",
            Ty::Bool,
            "follow up to 10 redirects; `false` makes a 3xx the answer (add it to `expect_status`)",
        )
        .default("`true`"),
    ],
};

pub(crate) static CALL: Table = Table {
    id: "call",
    what: "call",
    noun: "mapping",
    plural: "mappings",
    section: Some("call"),
    groups: &[Group { keys: CALL_TARGETS, required: true }],
    keys: &[
        Key::new(
            "service",
            Ty::Name { noun: "service id", pattern: None },
            "call this service",
        ),
        Key::new(
            "capability",
            Ty::Str,
            "call a service that lists this capability; several may, see [routing](#calling-services-call)",
        ),
        Key::new(
            "endpoint",
            Ty::Name { noun: "endpoint id", pattern: None },
            "the endpoint to call",
        )
        .required(),
        Key::new(
            "with",
            VALUES,
            "the endpoint's parameters; values may hold expressions and keep their types",
        )
        .default("none"),
    ],
};

pub(crate) static APPROVAL: Table = Table {
    id: "approval",
    what: "approval",
    noun: "mapping",
    plural: "mappings",
    section: Some("approval"),
    groups: &[],
    keys: &[
        Key::new(
            "message",
            Ty::Template,
            "the question; may hold expressions",
        )
        .default("``Approve step `<id>`?``"),
        Key::new(
            "timeout",
            Ty::Duration,
            "how long to wait for a decision; when it passes the step fails",
        )
        .default("none"),
    ],
};

pub(crate) static CACHE: Table = Table {
    id: "cache",
    what: "cache",
    noun: "cache mapping",
    plural: "cache mappings",
    section: Some("cache"),
    groups: &[],
    keys: &[
        Key::new("ttl", Ty::Duration, "how long a stored result can be reused").default("no expiry"),
        Key::new(
            "key",
            Ty::Any,
            "any extra value that should split the cache; may hold expressions",
        ),
        Key::new(
            "sources",
            Ty::OneOrList(&Ty::Str),
            "globs, relative to the workflow file; the contents of the files they match are part of the fingerprint",
        ),
    ],
};

pub(crate) static RETRY: Table = Table {
    id: "retry",
    what: "retry",
    noun: "retry mapping",
    plural: "retry mappings",
    section: Some("retries-and-timeouts"),
    groups: &[Group { keys: &["base_delay", "base_delay_ms"], required: false }],
    keys: &[
        Key::new(
            "max_attempts",
            Ty::Int { min: Some(1) },
            "attempts in total, as in Temporal (Dagu, Argo and Step Functions count retries instead)",
        )
        .default("`1`"),
        Key::new("delay_strategy", Ty::Enum(DELAY_STRATEGIES), "how the delay grows")
            .default("`fixed`"),
        Key::new("base_delay", Ty::Duration, "the base delay `b`").default("`1s`"),
        Key::new(
            "base_delay_ms",
            Ty::Int { min: Some(0) },
            "the same in milliseconds; give one of the two",
        ),
        Key::new("max_delay", Ty::Duration, "cap on the computed delay").default("none"),
        Key::new("factor", Ty::Number { min: 1.0 }, "growth factor `f` of `exponential`")
            .default("`2`"),
        Key::new("jitter", Ty::Bool, "full jitter").default("`false`"),
        Key::new("condition", Ty::Expr, "retry only when it gives `true`").default("see below"),
    ],
};
