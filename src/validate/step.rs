//! One step (or a `compensate:` body) from its YAML mapping.

use crate::diag::Diag;
use crate::load::yaml::{Yaml, YamlKind};
use crate::model::*;
use crate::source::Span;

use super::keys::{self, or_list, quoted_or, Role};
use super::{is_name, Ctx, Fields};

/// The kind keys, in the order diagnostics list them.
fn kinds() -> impl Iterator<Item = &'static str> {
    keys::STEP.with_role(Role::Kind).map(|k| k.name)
}

pub(crate) struct StepDefaults<'a> {
    pub(crate) timeout: Option<std::time::Duration>,
    pub(crate) retry: Option<&'a RetrySpec>,
    pub(crate) shell: Shell,
    pub(crate) working_dir: Option<&'a Val>,
}

pub(crate) fn step(
    cx: &mut Ctx,
    y: &Yaml,
    phase: Phase,
    defaults: &StepDefaults<'_>,
) -> Option<Step> {
    let f = cx.keys(y, &keys::STEP)?;
    let (id, span) = match f.get("id") {
        Some(v) => {
            let id = cx.string(v, "id")?;
            if !is_name(&id) {
                cx.push(
                    Diag::new("step-id", format!("invalid step id `{id}`"))
                        .label(v.span, "not a valid id")
                        .help("step ids are letters, digits, `_` and `-`, starting with a letter or `_`"),
                );
            }
            (id, v.span)
        }
        None => {
            cx.push(
                Diag::new("missing-key", "step has no `id`")
                    .label(y.span, "this step")
                    .help("every step needs a unique `id:`"),
            );
            return None;
        }
    };
    let Some(main_body) = body(cx, &f, y.span, &id, defaults) else {
        // Remembered so references to it are not reported as unknown too.
        cx.broken_steps.push(id);
        return None;
    };

    let needs = match f.get("needs") {
        Some(v) => cx
            .string_list(v, "needs")
            .into_iter()
            .map(|(id, span)| Need { id, span })
            .collect(),
        None => Vec::new(),
    };
    let cond = f.get("if").and_then(|v| condition(cx, v, "if"));
    let working_dir = f
        .get("working_dir")
        .and_then(|v| cx.val(v, "working_dir"))
        .or_else(|| defaults.working_dir.cloned());
    let continue_on_error = f
        .get("continue_on_error")
        .and_then(|v| cx.bool(v, "continue_on_error"))
        .unwrap_or(false);
    if let (Some(m), Some(fe)) = (f.key("matrix"), f.key("for_each")) {
        cx.push(
            Diag::new("matrix", "a step has `matrix` or `for_each`, not both")
                .label(m.span, "`matrix` here")
                .label(fe.span, "and `for_each` here")
                .help("keep one: `matrix` for combinations of axes, `for_each` for a list"),
        );
    }
    let for_each = match f.get("matrix") {
        Some(v) => matrix(cx, v).map(FanOut::Matrix),
        None => f.get("for_each").and_then(|v| match &v.kind {
            YamlKind::Seq(_) => cx.val(v, "for_each").map(FanOut::List),
            YamlKind::Scalar(s) if s.text.contains("${{") => {
                cx.val(v, "for_each").map(FanOut::List)
            }
            _ => {
                cx.expected(v, "for_each", "a list or an expression giving a list");
                None
            }
        }),
    };
    let max_parallel = f
        .get("max_parallel")
        .and_then(|v| cx.count(v, "max_parallel", 1))
        .map(|n| n as usize);
    let fans_out = f.has("for_each") || f.has("matrix");
    if let (Some(k), false) = (f.key("max_parallel"), fans_out) {
        cx.push(
            Diag::new(
                "for-each",
                "`max_parallel` only applies to `for_each` steps",
            )
            .label(k.span, "no `for_each` on this step"),
        );
    }
    let outputs = f
        .get("outputs")
        .map(|v| cx.val_map(v, "outputs"))
        .unwrap_or_default();
    let cache = f.get("cache").and_then(|v| cache(cx, v));
    let compensate = f.get("compensate").and_then(|v| {
        let allowed: Vec<&str> = kinds()
            .chain(keys::STEP.with_role(Role::Body).map(|k| k.name))
            .collect();
        let cf = cx.fields(v, "compensate", &allowed)?;
        body(cx, &cf, v.span, &id, defaults).map(Box::new)
    });
    let priority = f
        .get("priority")
        .and_then(|v| cx.int(v, "priority"))
        .unwrap_or(0);
    let resources = f
        .get("resources")
        .and_then(|v| {
            let m = v.as_map().or_else(|| {
                cx.expected(v, "resources", "a mapping of pool names to amounts");
                None
            })?;
            Some(
                m.iter()
                    .filter_map(|(k, a)| {
                        Some((k.name.clone(), cx.count(a, "resources", 1)? as u32))
                    })
                    .collect(),
            )
        })
        .unwrap_or_default();
    let name = f.get("name").and_then(|v| cx.string(v, "name"));
    let watch = f
        .get("watch")
        .map(|v| {
            cx.string_list(v, "watch")
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        })
        .unwrap_or_default();

    Some(Step {
        definition: y.json_digest(),
        keep_stdout: true,
        id,
        name,
        phase,
        span,
        needs,
        cond,
        working_dir,
        continue_on_error,
        for_each: for_each.map(Box::new),
        max_parallel,
        outputs,
        cache: cache.map(Box::new),
        compensate,
        priority,
        resources,
        watch,
        body: main_body,
    })
}

/// `matrix:`: axes (each a non-empty list, or an expression giving a
/// list), and `include`/`exclude` lists of mappings.
fn matrix(cx: &mut Ctx, y: &Yaml) -> Option<Matrix> {
    let Some(entries) = y.as_map() else {
        cx.expected(y, "matrix", "a mapping of axes to lists of values");
        return None;
    };
    let mut ok = true;
    let mut axes = Vec::new();
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    let mut exclude_keys: Vec<(String, Span)> = Vec::new();
    for (k, v) in entries {
        match k.name.as_str() {
            which @ ("include" | "exclude") => {
                let Some(list) = v.as_seq() else {
                    cx.expected(v, which, "a list of mappings");
                    ok = false;
                    continue;
                };
                for e in list {
                    match e.as_map() {
                        Some(m) if !m.is_empty() => {
                            let mut entry = Vec::new();
                            for (ek, ev) in m {
                                match cx.val(ev, which) {
                                    Some(x) => entry.push((ek.name.clone(), x)),
                                    None => ok = false,
                                }
                                if which == "exclude" {
                                    exclude_keys.push((ek.name.clone(), ek.span));
                                }
                            }
                            if which == "include" {
                                include.push(entry);
                            } else {
                                exclude.push(entry);
                            }
                        }
                        _ => {
                            cx.expected(
                                e,
                                &format!("an entry of `{which}`"),
                                "a non-empty mapping",
                            );
                            ok = false;
                        }
                    }
                }
            }
            name => {
                if !is_name(name) {
                    cx.push(
                        Diag::new("matrix", format!("invalid matrix axis name `{name}`"))
                            .label(k.span, "not a valid name")
                            .help("axis names are letters, digits, `_` and `-`, starting with a letter or `_` (`item.<axis>`)"),
                    );
                    ok = false;
                    continue;
                }
                let val = match &v.kind {
                    YamlKind::Seq(s) if s.is_empty() => {
                        cx.push(
                            Diag::new("matrix", format!("matrix axis `{name}` has no values"))
                                .label(v.span, "an empty list")
                                .help("give the axis at least one value, or remove it"),
                        );
                        None
                    }
                    YamlKind::Seq(_) => cx.val(v, "matrix"),
                    YamlKind::Scalar(s) if s.text.contains("${{") => cx.val(v, "matrix"),
                    _ => {
                        cx.expected(
                            v,
                            &format!("matrix axis `{name}`"),
                            "a list of values or an expression giving a list",
                        );
                        None
                    }
                };
                match val {
                    Some(val) => axes.push((name.to_string(), val)),
                    None => ok = false,
                }
            }
        }
    }
    if axes.is_empty() && ok {
        cx.push(
            Diag::new("matrix", "`matrix` has no axes")
                .label(y.span, "no axis here")
                .help("add an axis with its values, e.g. `matrix: { os: [linux, mac] }`; for a plain list of items use `for_each`"),
        );
    }
    let names: Vec<&str> = axes.iter().map(|(n, _)| n.as_str()).collect();
    for (key, span) in &exclude_keys {
        if !names.contains(&key.as_str()) {
            cx.push(
                Diag::new(
                    "matrix",
                    format!("`exclude` names `{key}`, which is not an axis"),
                )
                .label(*span, "not an axis of this matrix")
                .help(
                    match crate::diag::did_you_mean(key, names.iter().copied()) {
                        Some(h) => format!("did you mean `{h}`?"),
                        None => format!("the axes are {}", keys::quoted_and(&names)),
                    },
                ),
            );
        }
    }
    // Even when broken (its problems are reported), the step still fans out
    // to the checks of its expressions: `item` is defined in it.
    Some(Matrix {
        axes,
        include,
        exclude,
    })
}

/// An `if:`/`condition:` value: `${{ … }}` or a bare expression.
pub(crate) fn condition(
    cx: &mut Ctx,
    v: &Yaml,
    what: &str,
) -> Option<std::sync::Arc<crate::expr::Expr>> {
    let text = match &v.kind {
        YamlKind::Scalar(s) => s.text.clone(),
        _ => {
            cx.expected(v, what, "an expression");
            return None;
        }
    };
    let t = cx.template_of(&text, v, true)?;
    match t.whole() {
        Some(e) => Some(e.clone()),
        None => {
            cx.push(
                Diag::new(
                    "expression",
                    format!("`{what}` must be a single expression"),
                )
                .label(v.span, "text around `${{ }}`")
                .help("write the whole condition inside one `${{ … }}`, or without the braces"),
            );
            None
        }
    }
}

fn body(
    cx: &mut Ctx,
    f: &Fields<'_>,
    span: Span,
    id: &str,
    d: &StepDefaults<'_>,
) -> Option<StepBody> {
    let present: Vec<&str> = kinds().filter(|k| f.has(k)).collect();
    if present.is_empty() {
        cx.push(
            Diag::new("step-kind", format!("step `{id}` says nothing to do"))
                .label(span, "no kind key")
                .help(format!(
                    "add exactly one of: {}",
                    kinds().collect::<Vec<_>>().join(", ")
                )),
        );
        return None;
    }
    if present.len() > 1 {
        let mut d = Diag::new(
            "step-kind",
            format!(
                "step `{id}` has {} kinds: {}",
                present.len(),
                present.join(", ")
            ),
        )
        .help("a step does exactly one thing; split it into several steps");
        for k in &present {
            if let Some(key) = f.key(k) {
                d = d.label(key.span, format!("`{k}`"));
            }
        }
        cx.push(d);
        return None;
    }
    let kind_key = present[0];
    let v = f.get(kind_key)?;
    let shell = match f.get("shell") {
        Some(s) => match s.as_str() {
            Some("sh") => Shell::Sh,
            Some("bash") => Shell::Bash,
            _ => {
                cx.push(
                    Diag::new(
                        "shell",
                        format!("`shell` must be {}", quoted_or(keys::SHELLS)),
                    )
                    .label(s.span, "unknown shell"),
                );
                d.shell
            }
        },
        None => d.shell,
    };
    if f.has("with") && kind_key != "workflow" {
        if let Some(k) = f.key("with") {
            cx.push(
                Diag::new("unknown-key", "`with` belongs to `workflow` steps")
                    .label(k.span, "not used by this kind")
                    .help("for `call` steps, write `with` inside `call: { … }`"),
            );
        }
    }
    let kind = match kind_key {
        "run" => {
            let script = cx.template(v, "run")?;
            for e in script.exprs() {
                if let Some(r) = e.refs.iter().find(|r| r.root == "secrets") {
                    cx.push(
                        Diag::new("secret-in-run", "secrets must not be written into a `run` script")
                            .label(e.span_of(r.offset, r.len), "secret used here")
                            .help(format!(
                                "pass it through the environment: `env: {{ TOKEN: \"${{{{ secrets.{} }}}}\" }}` and use \"$TOKEN\"",
                                r.name.as_deref().unwrap_or("name")
                            )),
                    );
                }
            }
            StepKind::Run { script, shell }
        }
        "transform" => {
            let m = cx.val_map(v, "transform");
            if v.as_map().is_some_and(|m| m.is_empty()) {
                cx.error(
                    "step-kind",
                    v.span,
                    "`transform` computes nothing",
                    "empty mapping",
                );
            }
            StepKind::Transform(m)
        }
        "http" => StepKind::Http(Box::new(http(cx, v)?)),
        "call" => {
            let cf = cx.keys(v, &keys::CALL)?;
            let (target, target_span) = match (cf.get("service"), cf.get("capability")) {
                (Some(s), None) => (CallTarget::Service(cx.string(s, "service")?), s.span),
                (None, Some(c)) => (CallTarget::Capability(cx.string(c, "capability")?), c.span),
                _ => {
                    cx.push(
                        Diag::new(
                            "call",
                            format!(
                                "`call` needs exactly one of {}",
                                quoted_or(keys::CALL_TARGETS)
                            ),
                        )
                        .label(v.span, "here"),
                    );
                    return None;
                }
            };
            let (endpoint, endpoint_span) = match cf.get("endpoint") {
                Some(e) => (cx.string(e, "endpoint")?, e.span),
                None => {
                    cx.error(
                        "missing-key",
                        v.span,
                        "`call` needs an `endpoint`",
                        "no endpoint",
                    );
                    return None;
                }
            };
            let (with, with_spans) = with_values(cx, cf.get("with"));
            StepKind::Call {
                target,
                endpoint,
                with,
                spans: CallSpans {
                    target: target_span,
                    endpoint: endpoint_span,
                    with: with_spans,
                    call: v.span,
                },
            }
        }
        "workflow" => {
            let rel = cx.string(v, "workflow")?;
            // Relative to the file it is written in, as `cache.sources`;
            // made absolute when the child is read (validate/children.rs).
            let base = cx.src.path.parent().unwrap_or(std::path::Path::new("."));
            let path = base.join(&rel);
            let (with, with_spans) = with_values(cx, f.get("with"));
            StepKind::Workflow {
                path,
                with,
                spans: WorkflowSpans {
                    path: v.span,
                    with: with_spans,
                },
                child: None,
            }
        }
        "approval" => {
            let af = cx.keys(v, &keys::APPROVAL)?;
            StepKind::Approval {
                message: af.get("message").and_then(|m| cx.val(m, "message")),
                timeout: af.get("timeout").and_then(|t| cx.duration(t, "timeout")),
            }
        }
        _ => return None,
    };
    let env = f
        .get("env")
        .map(|e| cx.val_map(e, "env"))
        .unwrap_or_default();
    let timeout = match f.get("timeout") {
        Some(t) => cx.duration(t, "timeout"),
        None => d.timeout,
    };
    let retry = match f.get("retry") {
        Some(r) => retry(cx, r),
        None => d.retry.cloned(),
    };
    Some(StepBody {
        kind,
        env,
        timeout,
        retry,
    })
}

fn http(cx: &mut Ctx, v: &Yaml) -> Option<HttpSpec> {
    let hf = cx.keys(v, &keys::HTTP)?;
    let url = match hf.get("url") {
        Some(u) => cx.val(u, "url")?,
        None => {
            cx.error("missing-key", v.span, "`http` needs a `url`", "no url");
            return None;
        }
    };
    let method = hf
        .get("method")
        .and_then(|m| cx.string(m, "method"))
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_else(|| "GET".into());
    let bodies: Vec<&str> = keys::HTTP_BODIES
        .iter()
        .copied()
        .filter(|k| hf.has(k))
        .collect();
    if bodies.len() > 1 {
        cx.error(
            "http",
            v.span,
            format!("`http` has {} bodies ({})", bodies.len(), bodies.join(", ")),
            format!("pick one of {}", keys::HTTP_BODIES.join(", ")),
        );
    }
    let body = if let Some(j) = hf.get("json") {
        cx.val(j, "json").map(HttpBody::Json)
    } else if let Some(b) = hf.get("body") {
        cx.val(b, "body").map(HttpBody::Text)
    } else {
        hf.get("form")
            .map(|fm| HttpBody::Form(cx.val_map(fm, "form")))
    };
    let expect_status = match hf.get("expect_status") {
        Some(s) => match &s.kind {
            YamlKind::Seq(items) => items
                .iter()
                .filter_map(|i| cx.count(i, "expect_status", 100).map(|n| n as u16))
                .collect(),
            _ => cx
                .count(s, "expect_status", 100)
                .map(|n| vec![n as u16])
                .unwrap_or_default(),
        },
        None => Vec::new(),
    };
    Some(HttpSpec {
        url,
        method,
        headers: hf
            .get("headers")
            .map(|h| cx.val_map(h, "headers"))
            .unwrap_or_default(),
        query: hf
            .get("query")
            .map(|q| cx.val_map(q, "query"))
            .unwrap_or_default(),
        body,
        expect_status,
        follow_redirects: hf
            .get("follow_redirects")
            .and_then(|b| cx.bool(b, "follow_redirects"))
            .unwrap_or(true),
    })
}

fn cache(cx: &mut Ctx, v: &Yaml) -> Option<CacheSpec> {
    if let Some(b) = v.as_bool() {
        return b.then_some(CacheSpec {
            ttl: None,
            key: None,
            sources: Vec::new(),
        });
    }
    let cf = cx.keys(v, &keys::CACHE)?;
    Some(CacheSpec {
        ttl: cf.get("ttl").and_then(|t| cx.duration(t, "ttl")),
        key: cf.get("key").and_then(|k| cx.val(k, "key")),
        sources: cf
            .get("sources")
            .map(|s| {
                cx.string_list(s, "sources")
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// `retry:` (also used by `orchestration.retry`).
pub(crate) fn retry(cx: &mut Ctx, v: &Yaml) -> Option<RetrySpec> {
    let f = cx.keys(v, &keys::RETRY)?;
    let mut r = RetrySpec::default();
    // Keep going after a bad field so every problem is reported at once.
    let mut ok = true;
    if let Some(m) = f.get("max_attempts") {
        match cx.count(m, "max_attempts", 1) {
            Some(n) => r.max_attempts = n.min(u32::MAX as u64) as u32,
            None => ok = false,
        }
    }
    if let Some(s) = f.get("delay_strategy") {
        r.strategy = match s.as_str() {
            Some("fixed") => DelayStrategy::Fixed,
            Some("linear") => DelayStrategy::Linear,
            Some("exponential") => DelayStrategy::Exponential,
            other => {
                let hint = other
                    .and_then(|o| {
                        crate::diag::did_you_mean(o, keys::DELAY_STRATEGIES.iter().copied())
                    })
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("use {}", or_list(keys::DELAY_STRATEGIES)));
                cx.push(
                    Diag::new("retry", "unknown `delay_strategy`")
                        .label(s.span, "not a strategy")
                        .help(hint),
                );
                ok = false;
                r.strategy
            }
        };
    }
    match (f.get("base_delay"), f.get("base_delay_ms")) {
        (Some(_), Some(ms)) => {
            cx.error(
                "retry",
                ms.span,
                "give `base_delay` or `base_delay_ms`, not both",
                "second delay",
            );
        }
        (Some(d), None) => match cx.duration(d, "base_delay") {
            Some(v) => r.base_delay = v,
            None => ok = false,
        },
        (None, Some(ms)) => match cx.count(ms, "base_delay_ms", 0) {
            Some(v) => r.base_delay = std::time::Duration::from_millis(v),
            None => ok = false,
        },
        (None, None) => {}
    }
    if let Some(m) = f.get("max_delay") {
        r.max_delay = cx.duration(m, "max_delay");
        ok &= r.max_delay.is_some();
    }
    if let Some(x) = f.get("factor") {
        match x.as_f64() {
            Some(v) if v >= 1.0 && v.is_finite() => r.factor = v,
            _ => {
                cx.error(
                    "retry",
                    x.span,
                    "`factor` must be a number ≥ 1",
                    "invalid factor",
                );
                ok = false;
            }
        }
    }
    if let Some(j) = f.get("jitter") {
        match cx.bool(j, "jitter") {
            Some(b) => r.jitter = b,
            None => ok = false,
        }
    }
    if let Some(c) = f.get("condition") {
        r.condition = condition(cx, c, "condition");
        ok &= r.condition.is_some();
    }
    ok.then_some(r)
}

/// A `with:` mapping: its values and where each kept key is written.
fn with_values(cx: &mut Ctx, y: Option<&Yaml>) -> (Vec<(String, Val)>, Vec<Span>) {
    let Some(y) = y else {
        return (Vec::new(), Vec::new());
    };
    let with = cx.val_map(y, "with");
    let spans = y
        .as_map()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| with.iter().any(|(n, _)| *n == k.name))
                .map(|(k, _)| k.span)
                .collect()
        })
        .unwrap_or_default();
    (with, spans)
}
