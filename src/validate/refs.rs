//! Checks across the whole workflow: unique ids, `needs`, cycles, and what
//! each expression refers to.

use std::collections::HashMap;
use std::sync::Arc;

use crate::diag::{did_you_mean, Diag};
use crate::expr::Expr;
use crate::model::*;
use crate::plan::graph;

use super::keys::{self, quoted_and};
use super::Ctx;

/// Where an expression is written, which decides what it may see.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// Fields of a step: `if`, `env`, the kind's values, …
    Step,
    /// The `for_each` value itself, and `if:`, which decides for all items.
    ForEach,
    /// `outputs:` and `compensate:` may read the step's own results.
    OwnResults,
    RetryCondition,
}

impl Place {
    fn of(site: Site) -> Place {
        match site {
            Site::If | Site::ForEach => Place::ForEach,
            Site::WorkingDir | Site::CacheKey | Site::Body => Place::Step,
            Site::Output | Site::Compensate => Place::OwnResults,
            Site::RetryCondition | Site::CompensateRetryCondition => Place::RetryCondition,
        }
    }
}

pub(crate) fn check(cx: &mut Ctx, wf: &Workflow, config: &Config) {
    // Unique ids.
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, s) in wf.steps.iter().enumerate() {
        if let Some(&j) = first.get(s.id.as_str()) {
            let len = s.id.len().max(1);
            cx.push(
                Diag::new("duplicate-id", format!("duplicate step id `{}`", s.id))
                    .label(
                        crate::source::Span::new(
                            wf.steps[j].span.offset,
                            wf.steps[j].span.len.max(len),
                        ),
                        "first used here",
                    )
                    .label(s.span, "used again here")
                    .help("step ids must be unique in a file (on_failure and finally included)"),
            );
        } else {
            first.insert(&s.id, i);
        }
    }

    // Needs → indices.
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); wf.steps.len()];
    for (i, s) in wf.steps.iter().enumerate() {
        for n in &s.needs {
            match first.get(n.id.as_str()) {
                Some(&j) => {
                    let target = &wf.steps[j];
                    if target.phase > s.phase {
                        cx.push(
                            Diag::new("needs", format!("`{}` cannot need `{}`", s.id, n.id))
                                .label(
                                    n.span,
                                    format!("`{}` is {} step", n.id, phase_name(target.phase)),
                                )
                                .help("main steps run first, then on_failure, then finally"),
                        );
                    } else if target.phase == s.phase {
                        deps[i].push(j);
                    }
                }
                None if cx.broken_steps.contains(&n.id) => {}
                None => {
                    let hint = did_you_mean(&n.id, ids.iter().copied());
                    cx.push(
                        Diag::new(
                            "unknown-step",
                            format!("`{}` needs `{}`, which does not exist", s.id, n.id),
                        )
                        .label(n.span, "no step with this id")
                        .help(match hint {
                            Some(h) => format!("did you mean `{h}`?"),
                            None => format!("steps in this file: {}", preview(&ids)),
                        }),
                    );
                }
            }
        }
    }

    let mut acyclic = true;
    if let Some(cycle) = graph::find_cycle(&deps) {
        acyclic = false;
        // The cycle lists waiters: a waits for b waits for c … so show it in
        // "needs" order.
        let path: Vec<&str> = cycle.iter().map(|&i| wf.steps[i].id.as_str()).collect();
        let mut d = Diag::new("cycle", format!("dependency cycle: {}", path.join(" → ")))
            .help("remove one of these `needs` to break the cycle");
        for w in cycle.windows(2) {
            let (from, to) = (w[0], w[1]);
            if let Some(n) = wf.steps[from]
                .needs
                .iter()
                .find(|n| n.id == wf.steps[to].id)
            {
                d = d.label(
                    n.span,
                    format!("`{}` needs `{}`", wf.steps[from].id, wf.steps[to].id),
                );
            }
        }
        cx.push(d);
    }

    let closure = acyclic.then(|| graph::Closure::new(&deps));
    let declared: Vec<&str> = wf.inputs.iter().map(|i| i.name.as_str()).collect();

    // Workflow-level expressions: env (no steps), outputs (any step).
    for (_, v) in &wf.env {
        for e in v.exprs() {
            check_expr(cx, wf, e, None, Place::Step, &first, &declared, None, false);
        }
    }
    for (_, v) in &wf.outputs {
        for e in v.exprs() {
            check_expr(cx, wf, e, None, Place::Step, &first, &declared, None, true);
        }
    }

    for (i, s) in wf.steps.iter().enumerate() {
        let check = |cx: &mut Ctx, e: &Arc<Expr>, place: Place| {
            check_expr(
                cx,
                wf,
                e,
                Some(i),
                place,
                &first,
                &declared,
                closure.as_ref(),
                false,
            )
        };
        for (site, e) in s.exprs() {
            check(cx, e, Place::of(site));
        }

        let kind = s.body.kind.name();
        if keys::STEP.is_not_yet(kind) {
            cx.push(
                Diag::new(
                    "not-supported",
                    format!("`{kind}` steps are not supported yet"),
                )
                .label(s.span, format!("step `{}` has kind `{kind}`", s.id))
                .help(format!(
                    "this version of orch runs {} steps",
                    quoted_and(&keys::supported_kinds())
                )),
            );
        }
        // Parsed so files written for later versions validate cleanly, but
        // refused until they run: nothing may pass silently.
        if s.compensate.is_some() && keys::STEP.is_not_yet("compensate") {
            cx.push(
                Diag::new("not-supported", "`compensate` is not supported yet")
                    .label(s.span, format!("step `{}` declares a compensation", s.id))
                    .help("undo the step in an `on_failure` step for now"),
            );
        }
        if s.compensate.is_some() && s.phase != Phase::Main {
            let (section, when) = match s.phase {
                Phase::OnFailure => ("an `on_failure`", "after the run failed"),
                _ => ("a `finally`", "after the run ended"),
            };
            cx.push(
                Diag::new(
                    "compensate",
                    format!("{section} step cannot have `compensate`"),
                )
                .label(s.span, format!("step `{}` runs {when}", s.id))
                .help("only main steps are undone when the run fails; move the step to `steps:` or drop its `compensate:`"),
            );
        }
        if let (true, Some(fe)) = (kind == "approval", &s.for_each) {
            cx.push(
                Diag::new(
                    "approval",
                    format!("an approval step cannot use `{}`", fe.key()),
                )
                .label(s.span, format!("step `{}` is an approval", s.id))
                .help("ask once in an approval step that the fan-out step `needs`"),
            );
        }
        if kind == "approval" && s.cache.is_some() {
            cx.push(
                Diag::new("approval", "an approval step cannot be cached")
                    .label(s.span, format!("step `{}` is an approval", s.id)),
            );
        }
        if let StepKind::Call {
            target,
            endpoint,
            with,
            spans,
        } = &s.body.kind
        {
            check_call(cx, s, config, target, endpoint, with, spans);
        }
        for (pool, amount) in &s.resources {
            match config.pools.iter().find(|(p, _)| p == pool) {
                None => cx.push(
                    Diag::new("resources", format!("unknown resource pool `{pool}`"))
                        .label(s.span, format!("step `{}` uses it", s.id))
                        .help(
                            match did_you_mean(pool, config.pools.iter().map(|(p, _)| p.as_str())) {
                                Some(h) => format!("did you mean `{h}`?"),
                                None => "declare pools in orchestration.yaml: `pools: { gpu: 1 }`"
                                    .into(),
                            },
                        ),
                ),
                Some((_, size)) if amount > size => cx.push(
                    Diag::new(
                        "resources",
                        format!(
                            "step `{}` asks for {amount} of pool `{pool}`, which has {size}",
                            s.id
                        ),
                    )
                    .label(s.span, "can never start"),
                ),
                _ => {}
            }
        }
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Main => "a main",
        Phase::OnFailure => "an on_failure",
        Phase::Finally => "a finally",
    }
}

fn preview(ids: &[&str]) -> String {
    let mut s = ids.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > 8 {
        s.push_str(", …");
    }
    s
}

/// What `steps.<id>.…` may name for a step: every step's own results, then
/// those of its kind (and `items` of a `for_each` step).
fn result_fields(step: &Step) -> Vec<&'static str> {
    let mut f = vec!["status", "outputs", "exit_code", "stdout", "error"];
    if step.for_each.is_some() {
        f.push("items");
    }
    match &step.body.kind {
        StepKind::Http(_) => f.extend(["http_status", "headers", "body", "json"]),
        StepKind::Call { .. } => f.extend(["http_status", "headers", "body", "json", "service"]),
        StepKind::Approval { .. } => f.extend(["approved_by", "comment"]),
        StepKind::Workflow { .. } => f.push("run_id"),
        StepKind::Run { .. } | StepKind::Transform(_) => {}
    }
    f
}

/// A `call` against the registry: the service or capability exists, every
/// service that may answer has the endpoint, required parameters are given
/// and no unknown ones are.
fn check_call(
    cx: &mut Ctx,
    s: &Step,
    config: &Config,
    target: &CallTarget,
    endpoint: &str,
    with: &[(String, Val)],
    spans: &CallSpans,
) {
    let ids = || config.services.iter().map(|s| s.id.as_str());
    let candidates = config.candidates(target);
    if candidates.is_empty() {
        let (msg, help) = match target {
            CallTarget::Service(id) => (
                format!("unknown service `{id}`"),
                match did_you_mean(id, ids()) {
                    Some(h) => format!("did you mean `{h}`?"),
                    None if config.services.is_empty() => {
                        "declare services under `orchestration.services` in orchestration.yaml"
                            .into()
                    }
                    None => format!("services: {}", preview(&ids().collect::<Vec<_>>())),
                },
            ),
            CallTarget::Capability(c) => {
                let caps: Vec<&str> = config
                    .services
                    .iter()
                    .flat_map(|s| s.capabilities.iter().map(String::as_str))
                    .collect();
                (
                    format!("no service has capability `{c}`"),
                    match did_you_mean(c, caps.iter().copied()) {
                        Some(h) => format!("did you mean `{h}`?"),
                        None if caps.is_empty() => {
                            "list it under a service's `capabilities:` in orchestration.yaml".into()
                        }
                        None => format!("capabilities: {}", preview(&caps)),
                    },
                )
            }
        };
        cx.push(
            Diag::new("call", msg)
                .label(spans.target, format!("step `{}` calls it", s.id))
                .help(help),
        );
        return;
    }
    for svc in candidates {
        let Some(ep) = svc.endpoint(endpoint) else {
            let eps: Vec<&str> = svc.endpoints.iter().map(|e| e.id.as_str()).collect();
            cx.push(
                Diag::new(
                    "call",
                    format!("service `{}` has no endpoint `{endpoint}`", svc.id),
                )
                .label(spans.endpoint, "unknown endpoint")
                .help(match did_you_mean(endpoint, eps.iter().copied()) {
                    Some(h) => format!("did you mean `{h}`?"),
                    None if eps.is_empty() => format!("service `{}` declares no endpoints", svc.id),
                    None => format!("endpoints of `{}`: {}", svc.id, preview(&eps)),
                }),
            );
            continue;
        };
        for p in ep.parameters.iter().filter(|p| p.required) {
            if !with.iter().any(|(k, _)| *k == p.name) {
                cx.push(
                    Diag::new(
                        "call",
                        format!(
                            "endpoint `{endpoint}` of service `{}` needs parameter `{}`",
                            svc.id, p.name
                        ),
                    )
                    .label(spans.call, format!("no `{}` in `with:`", p.name))
                    .help(format!("add `with: {{ {}: … }}`", p.name)),
                );
            }
        }
        if ep.parameters.is_empty() {
            continue;
        }
        for (i, (k, _)) in with.iter().enumerate() {
            if ep.parameter(k).is_none() {
                let names: Vec<&str> = ep.parameters.iter().map(|p| p.name.as_str()).collect();
                cx.push(
                    Diag::new(
                        "call",
                        format!(
                            "endpoint `{endpoint}` of service `{}` has no parameter `{k}`",
                            svc.id
                        ),
                    )
                    .label(
                        spans.with.get(i).copied().unwrap_or(spans.call),
                        "unknown parameter",
                    )
                    .help(match did_you_mean(k, names.iter().copied()) {
                        Some(h) => format!("did you mean `{h}`?"),
                        None => format!("parameters: {}", preview(&names)),
                    }),
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_expr(
    cx: &mut Ctx,
    wf: &Workflow,
    e: &Arc<Expr>,
    step: Option<usize>,
    place: Place,
    ids: &HashMap<&str, usize>,
    declared: &[&str],
    closure: Option<&graph::Closure>,
    any_step: bool,
) {
    let me = step.map(|i| &wf.steps[i]);
    for r in &e.refs {
        let span = e.span_of(r.offset, r.len);
        match r.root.as_str() {
            "steps" => {
                let Some(name) = &r.name else {
                    cx.push(
                        Diag::new("expression", "`steps` needs a step id")
                            .label(span, "e.g. steps.build.outputs.x"),
                    );
                    continue;
                };
                let Some(&j) = ids.get(name.as_str()) else {
                    if cx.broken_steps.contains(name) {
                        continue;
                    }
                    let hint = did_you_mean(name, ids.keys().copied());
                    cx.push(
                        Diag::new(
                            "unknown-step",
                            format!("expression refers to step `{name}`, which does not exist"),
                        )
                        .label(span, "no such step")
                        .maybe_help(hint.map(|h| format!("did you mean `{h}`?"))),
                    );
                    continue;
                };
                if let Some(field) = r.path.first() {
                    let fields = result_fields(&wf.steps[j]);
                    if !fields.contains(&field.as_str()) {
                        let hint = did_you_mean(field, fields.iter().copied());
                        cx.push(
                            Diag::new(
                                "unknown-field",
                                format!("step `{name}` has no result `{field}`"),
                            )
                            .label(span, "not a result of this step")
                            .help(match hint {
                                Some(h) => format!("did you mean `{h}`?"),
                                None => format!("its results: {}", fields.join(", ")),
                            }),
                        );
                        continue;
                    }
                }
                if any_step {
                    continue;
                }
                let Some(me_step) = me else {
                    cx.push(
                        Diag::new("expression", "workflow `env` cannot read step results")
                            .label(span, "steps have not run when `env` is evaluated")
                            .help("set the variable in the step's own `env:` instead"),
                    );
                    continue;
                };
                let i = step.unwrap_or(0);
                if j == i {
                    if place != Place::OwnResults {
                        cx.push(
                            Diag::new("expression", format!("step `{name}` refers to its own results"))
                                .label(span, "not available before the step ran")
                                .help("a step's own results can be used in its `outputs:` and `compensate:`"),
                        );
                    }
                    continue;
                }
                let target = &wf.steps[j];
                // Later phases may read any step of an earlier phase.
                if target.phase < me_step.phase {
                    continue;
                }
                let needed =
                    target.phase == me_step.phase && closure.map(|c| c.needs(i, j)).unwrap_or(true);
                if !needed {
                    cx.push(
                        Diag::new(
                            "expression",
                            format!(
                                "step `{}` uses `steps.{name}` but does not need `{name}`",
                                me_step.id
                            ),
                        )
                        .label(span, format!("`{name}` may not have run yet"))
                        .help(format!("add `{name}` to the `needs` of `{}`", me_step.id)),
                    );
                }
            }
            "inputs" => {
                if let Some(name) = &r.name {
                    if !declared.contains(&name.as_str()) && !cx.broken_inputs.contains(name) {
                        let hint = did_you_mean(name, declared.iter().copied());
                        cx.push(
                            Diag::new("unknown-input", format!("input `{name}` is not declared"))
                                .label(span, "undeclared input")
                                .help(match hint {
                                    Some(h) => format!("did you mean `{h}`?"),
                                    None => format!("declare it under `inputs:`, e.g. `inputs: {{ {name}: {{ type: string }} }}`"),
                                }),
                        );
                    }
                }
            }
            "item" | "index" => {
                let for_each = me.map(|s| s.for_each.is_some()).unwrap_or(false);
                if !for_each {
                    cx.push(
                        Diag::new(
                            "expression",
                            format!("`{}` is only defined in `for_each` steps", r.root),
                        )
                        .label(span, "no `for_each` here"),
                    );
                } else if place == Place::ForEach {
                    cx.push(
                        Diag::new(
                            "expression",
                            format!("`{}` is not defined in `for_each` or `if`", r.root),
                        )
                        .label(span, "evaluated once for the whole step")
                        .help("`item` and `index` are available in the step's other fields"),
                    );
                } else if let (Some(FanOut::Matrix(m)), "item", Some(name)) = (
                    me.and_then(|s| s.for_each.as_deref()),
                    r.root.as_str(),
                    &r.name,
                ) {
                    // A matrix item has the axes and what `include` adds.
                    let keys = m.keys();
                    if !keys.contains(&name.as_str()) {
                        cx.push(
                            Diag::new("matrix", format!("the matrix has no axis `{name}`"))
                                .label(span, "not a key of this matrix's items")
                                .help(match did_you_mean(name, keys.iter().copied()) {
                                    Some(h) => format!("did you mean `item.{h}`?"),
                                    None => format!("items have {}", quoted_and(&keys)),
                                }),
                        );
                    }
                }
            }
            "error" if place != Place::RetryCondition => {
                cx.push(
                    Diag::new("expression", "`error` is only defined in `retry.condition`")
                        .label(span, "not available here"),
                );
            }
            "step" => cx.push(
                Diag::new("expression", "`step` is only defined in policy rules")
                    .label(span, "not available here")
                    .help("use `steps.<id>` for another step's results"),
            ),
            // Already reported as a secret inside a `run` script.
            "secrets"
                if cx
                    .diags
                    .iter()
                    .any(|d| d.labels.first().is_some_and(|l| l.span == span)) => {}
            "secrets" => {
                let Some(name) = &r.name else {
                    cx.push(
                        Diag::new("expression", "`secrets` needs a secret name")
                            .label(span, "e.g. secrets.api-token"),
                    );
                    continue;
                };
                if !super::is_name(name) {
                    cx.push(
                        Diag::new("expression", format!("invalid secret name `{name}`"))
                            .label(span, "not a valid name")
                            .help("secret names are letters, digits, `_` and `-`"),
                    );
                }
                // Secrets are fetched (and masked) just before the step that
                // reads them starts; these places are evaluated elsewhere.
                let refused = match (me, place) {
                    (None, _) => Some("workflow `env` and `outputs`"),
                    (Some(_), Place::ForEach) => Some("`if` and `for_each`"),
                    (Some(_), Place::RetryCondition) => Some("`retry.condition`"),
                    _ => None,
                };
                if let Some(where_) = refused {
                    cx.push(
                        Diag::new("expression", format!("{where_} cannot read secrets"))
                            .label(span, "secret used here")
                            .help("read it in a step: `env: { TOKEN: \"${{ secrets.NAME }}\" }`"),
                    );
                }
            }
            _ => {}
        }
    }
    cx.unknown_names(e);
}
