//! `orchestration.yaml`: retry defaults, policies, telemetry, pools, services.

use std::sync::Arc;

use crate::diag::{did_you_mean, Diag};
use crate::load::yaml::Yaml;
use crate::model::*;
use crate::source::Source;

use super::keys::{self, or_list};
use super::{step, Ctx};

pub(crate) fn config(src: &Arc<Source>) -> Result<Config, Vec<Diag>> {
    let tree = crate::load::yaml::parse(src).map_err(|d| vec![d])?;
    let mut cx = Ctx::new(src);
    let mut cfg = Config {
        source: Some(src.clone()),
        ..Config::default()
    };
    let Some(top) = cx.keys(&tree, &keys::CONFIG_FILE) else {
        return Err(cx.diags);
    };
    let Some(o) = top.get("orchestration") else {
        cx.push(
            Diag::new(
                "missing-key",
                "orchestration.yaml has no `orchestration:` section",
            )
            .label(top.span, "expected `orchestration:` at the top"),
        );
        return Err(cx.diags);
    };
    if let Some(f) = cx.keys(o, &keys::ORCHESTRATION) {
        cfg.retry = f.get("retry").and_then(|r| step::retry(&mut cx, r));
        if let Some(p) = f.get("policies") {
            cfg.policies = policies(&mut cx, p);
        }
        // Checked, not kept: these keys have no effect yet (keys::Support).
        if let Some(c) = f.get("credential_injection") {
            if let Some(cf) = cx.keys(c, &keys::CREDENTIAL_INJECTION) {
                for k in ["allow_external_vault", "auto_load_from_prompt_vault"] {
                    if let Some(v) = cf.get(k) {
                        cx.bool(v, k);
                    }
                }
            }
        }
        let mut metrics_off = false;
        if let Some(m) = f.get("middleware") {
            let listed = middleware(&mut cx, m);
            // Any entry saying `enabled: false` turns its middleware off.
            let off = |id: &str| listed.iter().any(|(i, on)| i == id && !on);
            metrics_off = off("metrics");
            cfg.middleware.authentication = !off("authentication");
            cfg.middleware.caching = listed.iter().any(|(i, _)| i == "caching") && !off("caching");
        }
        if let Some(t) = f.get("telemetry") {
            cfg.telemetry = telemetry(&mut cx, t);
        }
        cfg.telemetry.metrics_off = metrics_off;
        if let Some(p) = f.get("pools") {
            if let Some(m) = p.as_map() {
                for (k, v) in m {
                    if let Some(n) = cx.count(v, "pools", 1) {
                        cfg.pools.push((k.name.clone(), n as u32));
                    }
                }
            } else {
                cx.expected(p, "pools", "a mapping of pool names to sizes");
            }
        }
        if let Some(s) = f.get("services") {
            cfg.services = services(&mut cx, s);
        }
    }
    if cx.diags.is_empty() {
        Ok(cfg)
    } else {
        Err(cx.diags)
    }
}

fn policies(cx: &mut Ctx, y: &Yaml) -> Policies {
    let mut p = Policies::default();
    let Some(f) = cx.keys(y, &keys::POLICIES) else {
        return p;
    };
    p.fallback_on_error = f
        .get("fallback_on_error")
        .and_then(|v| cx.bool(v, "fallback_on_error"))
        .unwrap_or(false);
    // Checked, not kept: it has no effect yet.
    if let Some(v) = f.get("allow_cross_agent") {
        cx.bool(v, "allow_cross_agent");
    }
    p.max_parallel_tasks = f
        .get("max_parallel_tasks")
        .and_then(|v| cx.count(v, "max_parallel_tasks", 1))
        .map(|n| n as usize);
    if let Some(rules) = f.get("rules") {
        let Some(items) = rules.as_seq() else {
            cx.expected(rules, "rules", "a list of rules");
            return p;
        };
        for r in items {
            let Some(rf) = cx.keys(r, &keys::RULE) else {
                continue;
            };
            let id = match rf.get("id") {
                Some(v) => cx.string(v, "id"),
                None => {
                    cx.error(
                        "missing-key",
                        r.span,
                        "policy rule has no `id`",
                        "add `id:`",
                    );
                    None
                }
            };
            let when = match rf.get("when") {
                Some(w) => step::condition(cx, w, "when"),
                None => {
                    cx.error(
                        "missing-key",
                        r.span,
                        "policy rule has no `when`",
                        "add `when: ${{ … }}`",
                    );
                    None
                }
            };
            if let Some(w) = &when {
                cx.unknown_names(w);
                for rf in &w.refs {
                    if !["step", "inputs", "run"].contains(&rf.root.as_str()) {
                        cx.push(
                            Diag::new("expression", format!("policy rules cannot use `{}`", rf.root))
                                .label(w.span_of(rf.offset, rf.len), "not available in a rule")
                                .help("rules see `step` {id, kind, service, capability, endpoint}, `inputs` and `run`"),
                        );
                    }
                }
            }
            let action = match rf.get("action") {
                Some(a) => match a.as_str() {
                    Some("deny") => Some(PolicyAction::Deny),
                    Some("require_approval") => Some(PolicyAction::RequireApproval),
                    other => {
                        let hint = other
                            .and_then(|o| did_you_mean(o, keys::POLICY_ACTIONS.iter().copied()));
                        cx.push(
                            Diag::new("policy", "unknown policy `action`")
                                .label(a.span, "not an action")
                                .help(hint.map(|h| format!("did you mean `{h}`?")).unwrap_or_else(
                                    || format!("use {}", or_list(keys::POLICY_ACTIONS)),
                                )),
                        );
                        None
                    }
                },
                None => {
                    cx.error(
                        "missing-key",
                        r.span,
                        "policy rule has no `action`",
                        "add `action: deny`",
                    );
                    None
                }
            };
            let message = rf.get("message").and_then(|v| cx.string(v, "message"));
            if let (Some(id), Some(when), Some(action)) = (id, when, action) {
                p.rules.push(PolicyRule {
                    id,
                    when,
                    action,
                    message,
                });
            }
        }
    }
    p
}

/// `middleware:` is checked (known ids, masking cannot be turned off);
/// each usable entry's id and whether it is enabled.
fn middleware(cx: &mut Ctx, y: &Yaml) -> Vec<(String, bool)> {
    let Some(items) = y.as_seq() else {
        cx.expected(y, "middleware", "a list");
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|m| middleware_entry(cx, m))
        .collect()
}

/// One `middleware:` entry; `None` when it is not usable (already said).
fn middleware_entry(cx: &mut Ctx, m: &Yaml) -> Option<(String, bool)> {
    let known = keys::MIDDLEWARE_IDS;
    let f = cx.keys(m, &keys::MIDDLEWARE)?;
    let idy = f.get("id")?;
    let id = cx.string(idy, "id")?;
    if !known.contains(&id.as_str()) {
        let hint = did_you_mean(&id, known.iter().copied());
        cx.push(
            Diag::new("middleware", format!("unknown middleware `{id}`"))
                .label(idy.span, "not a middleware")
                .help(
                    hint.map(|h| format!("did you mean `{h}`?"))
                        .unwrap_or_else(|| format!("known: {}", known.join(", "))),
                ),
        );
        return None;
    }
    let enabled = f
        .get("enabled")
        .and_then(|v| cx.bool(v, "enabled"))
        .unwrap_or(true);
    if id == "sanitization" && !enabled {
        cx.push(
            Diag::new(
                "middleware",
                "secret masking (`sanitization`) cannot be turned off",
            )
            .label(idy.span, "always enabled"),
        );
    }
    if let Some(v) = f.get("priority") {
        cx.int(v, "priority");
    }
    Some((id, enabled))
}

fn telemetry(cx: &mut Ctx, y: &Yaml) -> Telemetry {
    let Some(f) = cx.keys(y, &keys::TELEMETRY) else {
        return Telemetry::default();
    };
    // Checked, not kept: it has no effect yet.
    if let Some(v) = f.get("emit_events") {
        cx.bool(v, "emit_events");
    }
    Telemetry {
        log_to_file: f
            .get("log_to_file")
            .and_then(|v| cx.bool(v, "log_to_file"))
            .unwrap_or(false),
        log_file_path: f
            .get("log_file_path")
            .and_then(|v| cx.string(v, "log_file_path")),
        webhook_url: f
            .get("webhook_url")
            .and_then(|v| cx.string(v, "webhook_url")),
        metrics_endpoint: f
            .get("metrics_endpoint")
            .and_then(|v| cx.string(v, "metrics_endpoint")),
        metrics_off: false,
    }
}

fn services(cx: &mut Ctx, y: &Yaml) -> Vec<Service> {
    let Some(items) = y.as_seq() else {
        cx.expected(y, "services", "a list of services");
        return Vec::new();
    };
    let mut out: Vec<Service> = Vec::new();
    for s in items {
        let Some(f) = cx.keys(s, &keys::SERVICE) else {
            continue;
        };
        let Some(idy) = f.get("id") else {
            cx.error("missing-key", s.span, "service has no `id`", "add `id:`");
            continue;
        };
        let Some(id) = cx.string(idy, "id") else {
            continue;
        };
        if out.iter().any(|o| o.id == id) {
            cx.error(
                "duplicate-id",
                idy.span,
                format!("duplicate service id `{id}`"),
                "used again here",
            );
        }
        let Some(base_url) = f.get("base_url").and_then(|v| cx.string(v, "base_url")) else {
            cx.error(
                "missing-key",
                idy.span,
                format!("service `{id}` has no `base_url`"),
                "this service",
            );
            continue;
        };
        let auth = f.get("auth").map(|a| auth(cx, a)).unwrap_or(Auth::None);
        let capabilities = f
            .get("capabilities")
            .map(|c| {
                cx.string_list(c, "capabilities")
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect()
            })
            .unwrap_or_default();
        let rate_limit = f.get("rate_limit").and_then(|r| {
            let rf = cx.keys(r, &keys::RATE_LIMIT)?;
            let (Some(req), Some(per)) = (rf.get("requests"), rf.get("per")) else {
                cx.error(
                    "missing-key",
                    r.span,
                    "`rate_limit` needs `requests` and `per`",
                    "e.g. { requests: 10, per: 1s }",
                );
                return None;
            };
            Some(RateLimit {
                requests: cx.count(req, "requests", 1)? as u32,
                per: cx.duration(per, "per")?,
            })
        });
        let circuit_breaker = f.get("circuit_breaker").and_then(|r| {
            let rf = cx.keys(r, &keys::CIRCUIT_BREAKER)?;
            let (Some(ft), Some(rt)) = (rf.get("failure_threshold"), rf.get("reset_timeout"))
            else {
                cx.error(
                    "missing-key",
                    r.span,
                    "`circuit_breaker` needs `failure_threshold` and `reset_timeout`",
                    "e.g. { failure_threshold: 5, reset_timeout: 30s }",
                );
                return None;
            };
            Some(CircuitBreaker {
                failure_threshold: cx.count(ft, "failure_threshold", 1)? as u32,
                reset_timeout: cx.duration(rt, "reset_timeout")?,
            })
        });
        let health_check = f.get("health_check").and_then(|h| {
            let hf = cx.keys(h, &keys::HEALTH_CHECK)?;
            let Some(path) = hf.get("path") else {
                cx.error(
                    "missing-key",
                    h.span,
                    "`health_check` needs a `path`",
                    "e.g. { path: /health }",
                );
                return None;
            };
            Some(HealthCheck {
                path: cx.string(path, "path")?,
                interval: hf.get("interval").and_then(|v| cx.duration(v, "interval")),
                timeout: hf.get("timeout").and_then(|v| cx.duration(v, "timeout")),
            })
        });
        let endpoints = f
            .get("endpoints")
            .map(|e| endpoints(cx, e))
            .unwrap_or_default();
        out.push(Service {
            id,
            name: f.get("name").and_then(|v| cx.string(v, "name")),
            base_url,
            auth,
            capabilities,
            priority: f
                .get("priority")
                .and_then(|v| cx.int(v, "priority"))
                .unwrap_or(0),
            timeout: f.get("timeout").and_then(|v| cx.duration(v, "timeout")),
            rate_limit,
            circuit_breaker,
            health_check,
            endpoints,
        });
    }
    out
}

fn auth(cx: &mut Ctx, y: &Yaml) -> Auth {
    let Some(f) = cx.keys(y, &keys::AUTH) else {
        return Auth::None;
    };
    let ty = f.get("type").and_then(|t| t.as_str()).unwrap_or("none");
    let credential = f.get("credential").and_then(|c| cx.string(c, "credential"));
    let need_cred = |cx: &mut Ctx| {
        if credential.is_none() {
            cx.error(
                "auth",
                y.span,
                format!("`{ty}` auth needs a `credential`"),
                "add `credential: <secret name>`",
            );
        }
        credential.clone().unwrap_or_default()
    };
    match ty {
        "none" => Auth::None,
        "bearer" => Auth::Bearer {
            credential: need_cred(cx),
        },
        "basic" => Auth::Basic {
            credential: need_cred(cx),
        },
        "api_key" => {
            let header = f
                .get("header")
                .and_then(|h| cx.string(h, "header"))
                .unwrap_or_else(|| "X-API-Key".into());
            Auth::ApiKey {
                header,
                credential: need_cred(cx),
            }
        }
        other => {
            let hint = did_you_mean(other, keys::AUTH_TYPES.iter().copied());
            let span = f.get("type").map(|t| t.span).unwrap_or(y.span);
            cx.push(
                Diag::new("auth", format!("unknown auth type `{other}`"))
                    .label(span, "not an auth type")
                    .help(
                        hint.map(|h| format!("did you mean `{h}`?"))
                            .unwrap_or_else(|| format!("use {}", or_list(keys::AUTH_TYPES))),
                    ),
            );
            Auth::None
        }
    }
}

fn endpoints(cx: &mut Ctx, y: &Yaml) -> Vec<Endpoint> {
    let Some(items) = y.as_seq() else {
        cx.expected(y, "endpoints", "a list of endpoints");
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|e| {
            let f = cx.keys(e, &keys::ENDPOINT)?;
            let Some(idy) = f.get("id") else {
                cx.error("missing-key", e.span, "endpoint has no `id`", "add `id:`");
                return None;
            };
            let id = cx.string(idy, "id")?;
            let parameters = f
                .get("parameters")
                .and_then(|p| p.as_seq())
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            let pf = cx.keys(p, &keys::PARAMETER)?;
                            let location =
                                match pf.get("in").and_then(|i| i.as_str()).unwrap_or("body") {
                                    "path" => ParamIn::Path,
                                    "query" => ParamIn::Query,
                                    "body" => ParamIn::Body,
                                    "header" => ParamIn::Header,
                                    _ => {
                                        let span = pf.get("in").map(|i| i.span).unwrap_or(p.span);
                                        cx.error(
                                            "endpoint",
                                            span,
                                            format!(
                                                "parameter `in` must be {}",
                                                or_list(keys::PARAM_IN)
                                            ),
                                            "unknown location",
                                        );
                                        return None;
                                    }
                                };
                            let Some(name) = pf.get("name") else {
                                cx.error(
                                    "missing-key",
                                    p.span,
                                    "parameter has no `name`",
                                    "add `name:`",
                                );
                                return None;
                            };
                            Some(Parameter {
                                name: cx.string(name, "name")?,
                                location,
                                required: pf
                                    .get("required")
                                    .and_then(|r| cx.bool(r, "required"))
                                    .unwrap_or(false),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(Endpoint {
                id,
                method: f
                    .get("method")
                    .and_then(|m| cx.string(m, "method"))
                    .map(|m| m.to_ascii_uppercase())
                    .unwrap_or_else(|| "GET".into()),
                path: f
                    .get("path")
                    .and_then(|p| cx.string(p, "path"))
                    .unwrap_or_default(),
                parameters,
            })
        })
        .collect()
}
