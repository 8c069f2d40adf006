//! `orch services`: the service registry of orchestration.yaml, one block per
//! service (credential names, never values). `orch services check`: every
//! service's health check at once, as a table; exit 1 when any is unhealthy.
//! Health checks send no credentials. `--json` prints arrays (documented formats).

use std::time::Duration;

use serde::Serialize;

use crate::cli::{ServicesArgs, ServicesCommand};
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::model::{Auth, Config, Endpoint, ParamIn, Service};
use crate::services::health::{self, Health};

use super::history::{emit, table, to_json};
use super::Context;

pub(crate) fn run(cx: &Context, args: &ServicesArgs) -> Result<Exit, Error> {
    let project = cx.project()?;
    let config = &project.config;
    match &args.command {
        Some(ServicesCommand::Check { json }) => check(cx, config, args.json || *json),
        None => list(cx, config, args.json),
    }
}

/// Nothing to show: say why on stderr (`[]` with `--json`).
fn none(cx: &Context, json: bool, config: &Config) -> Result<Exit, Error> {
    if json {
        emit("[]\n")?;
    } else if !cx.quiet {
        match &config.source {
            Some(src) => eprintln!("no services in {}", src.name),
            None => eprintln!("no orchestration.yaml found, so no services"),
        }
    }
    Ok(Exit::Success)
}

// ---------------------------------------------------------------- listing

fn list(cx: &Context, config: &Config, json: bool) -> Result<Exit, Error> {
    if config.services.is_empty() {
        return none(cx, json, config);
    }
    if json {
        let rows: Vec<ServiceJson<'_>> = config.services.iter().map(ServiceJson::from).collect();
        emit(&format!("{}\n", to_json(&rows)?))?;
    } else {
        emit(&render_list(&config.services))?;
    }
    Ok(Exit::Success)
}

/// One block per service, keys aligned:
///
/// ```text
/// summarizer  Summarizer agent
///   base_url      http://localhost:8081
///   …
///   endpoints     summarize  POST /v1/summarize  text*
/// ```
fn render_list(services: &[Service]) -> String {
    let mut out = String::new();
    let mut any_required = false;
    for (i, s) in services.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match &s.name {
            Some(name) => out.push_str(&format!("{}  {name}\n", s.id)),
            None => out.push_str(&format!("{}\n", s.id)),
        }
        let mut rows: Vec<Vec<String>> = vec![
            kv("base_url", health::display_url(&s.base_url)),
            kv("capabilities", or_dash(s.capabilities.join(", "))),
            kv("priority", s.priority.to_string()),
            kv("auth", auth_text(&s.auth)),
            kv("timeout", s.timeout.map_or("-".into(), dur)),
            kv(
                "rate limit",
                s.rate_limit.as_ref().map_or("none".into(), |r| {
                    format!("{} per {}", r.requests, dur(r.per))
                }),
            ),
            kv(
                "breaker",
                s.circuit_breaker.as_ref().map_or("none".into(), |b| {
                    format!(
                        "opens after {} failure{}, half-open after {}",
                        b.failure_threshold,
                        if b.failure_threshold == 1 { "" } else { "s" },
                        dur(b.reset_timeout)
                    )
                }),
            ),
            kv(
                "health check",
                s.health_check.as_ref().map_or("none".into(), |h| {
                    let mut t = format!("GET {}", h.path);
                    if let Some(every) = h.interval {
                        t.push_str(&format!(" every {}", dur(every)));
                    }
                    t.push_str(&format!(", timeout {}", dur(health::timeout(h))));
                    t
                }),
            ),
        ];
        if s.endpoints.is_empty() {
            rows.push(kv("endpoints", "none".into()));
        } else {
            let lines = endpoint_lines(&s.endpoints);
            any_required |= s
                .endpoints
                .iter()
                .any(|e| e.parameters.iter().any(|p| p.required));
            for (j, line) in lines.into_iter().enumerate() {
                let key = if j == 0 { "endpoints" } else { "" };
                rows.push(kv(key, line));
            }
        }
        for line in table(&["", ""], &rows).lines().skip(1) {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    if any_required {
        out.push_str("\n(* required parameter)\n");
    }
    out
}

fn kv(key: &str, value: String) -> Vec<String> {
    vec![key.to_string(), value]
}

/// `summarize  POST /v1/summarize  text*, lang`, aligned across endpoints.
fn endpoint_lines(endpoints: &[Endpoint]) -> Vec<String> {
    let rows: Vec<Vec<String>> = endpoints
        .iter()
        .map(|e| {
            let params: Vec<String> = e
                .parameters
                .iter()
                .map(|p| format!("{}{}", p.name, if p.required { "*" } else { "" }))
                .collect();
            vec![
                e.id.clone(),
                format!("{} {}", e.method, e.path),
                params.join(", "),
            ]
        })
        .collect();
    table(&["", "", ""], &rows)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn auth_text(a: &Auth) -> String {
    match a {
        Auth::None => "none".into(),
        Auth::Bearer { credential } | Auth::Basic { credential } => {
            format!("{}, credential `{credential}`", a.kind())
        }
        Auth::ApiKey { header, credential } => {
            format!("api_key in header `{header}`, credential `{credential}`")
        }
    }
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

fn dur(d: Duration) -> String {
    health::duration_text(d)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One element of `orch services --json` (a documented format). Durations
/// are milliseconds; the credential is a secret's name, never its value.
#[derive(Serialize)]
struct ServiceJson<'a> {
    id: &'a str,
    name: Option<&'a str>,
    base_url: String,
    capabilities: &'a [String],
    priority: i64,
    auth: AuthJson<'a>,
    timeout_ms: Option<u64>,
    rate_limit: Option<RateLimitJson>,
    circuit_breaker: Option<BreakerJson>,
    health_check: Option<HealthCheckJson<'a>>,
    endpoints: Vec<EndpointJson<'a>>,
}

#[derive(Serialize)]
struct AuthJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    credential: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<&'a str>,
}

#[derive(Serialize)]
struct RateLimitJson {
    requests: u32,
    per_ms: u64,
}

#[derive(Serialize)]
struct BreakerJson {
    failure_threshold: u32,
    reset_timeout_ms: u64,
}

#[derive(Serialize)]
struct HealthCheckJson<'a> {
    path: &'a str,
    interval_ms: Option<u64>,
    timeout_ms: u64,
}

#[derive(Serialize)]
struct EndpointJson<'a> {
    id: &'a str,
    method: &'a str,
    path: &'a str,
    parameters: Vec<ParameterJson<'a>>,
}

#[derive(Serialize)]
struct ParameterJson<'a> {
    name: &'a str,
    #[serde(rename = "in")]
    location: &'static str,
    required: bool,
}

impl<'a> From<&'a Service> for ServiceJson<'a> {
    fn from(s: &'a Service) -> Self {
        ServiceJson {
            id: &s.id,
            name: s.name.as_deref(),
            base_url: health::display_url(&s.base_url),
            capabilities: &s.capabilities,
            priority: s.priority,
            auth: AuthJson {
                kind: s.auth.kind(),
                credential: s.auth.credential(),
                header: match &s.auth {
                    Auth::ApiKey { header, .. } => Some(header),
                    _ => None,
                },
            },
            timeout_ms: s.timeout.map(ms),
            rate_limit: s.rate_limit.as_ref().map(|r| RateLimitJson {
                requests: r.requests,
                per_ms: ms(r.per),
            }),
            circuit_breaker: s.circuit_breaker.as_ref().map(|b| BreakerJson {
                failure_threshold: b.failure_threshold,
                reset_timeout_ms: ms(b.reset_timeout),
            }),
            health_check: s.health_check.as_ref().map(|h| HealthCheckJson {
                path: &h.path,
                interval_ms: h.interval.map(ms),
                timeout_ms: ms(health::timeout(h)),
            }),
            endpoints: s
                .endpoints
                .iter()
                .map(|e| EndpointJson {
                    id: &e.id,
                    method: &e.method,
                    path: &e.path,
                    parameters: e
                        .parameters
                        .iter()
                        .map(|p| ParameterJson {
                            name: &p.name,
                            location: param_in(p.location),
                            required: p.required,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn param_in(p: ParamIn) -> &'static str {
    match p {
        ParamIn::Path => "path",
        ParamIn::Query => "query",
        ParamIn::Body => "body",
        ParamIn::Header => "header",
    }
}

// ---------------------------------------------------------------- check

fn check(cx: &Context, config: &Config, json: bool) -> Result<Exit, Error> {
    if config.services.is_empty() {
        return none(cx, json, config);
    }
    let results = check_all(&config.services)?;
    if json {
        let rows: Vec<HealthJson<'_>> = config
            .services
            .iter()
            .zip(&results)
            .map(|(s, h)| HealthJson {
                id: &s.id,
                url: h.url.as_deref(),
                healthy: h.healthy,
                status: h.status,
                error: h.error.as_deref(),
                latency_ms: h.latency.map(ms),
            })
            .collect();
        emit(&format!("{}\n", to_json(&rows)?))?;
    } else {
        let color = cx.color && console::Term::stdout().is_term();
        emit(&render_check(&config.services, &results, color))?;
        if !cx.quiet {
            eprintln!("{}", summary(&results));
        }
    }
    Ok(if results.iter().any(Health::is_unhealthy) {
        Exit::RunFailed
    } else {
        Exit::Success
    })
}

/// Every service's health check, concurrently; results in service order.
fn check_all(services: &[Service]) -> Result<Vec<Health>, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Diag::new("internal", format!("cannot start the async runtime: {e}")))?;
    let client = reqwest::Client::builder()
        .user_agent(concat!(
            "orch/",
            env!("CARGO_PKG_VERSION"),
            " (health check)"
        ))
        .build()
        .map_err(|e| Diag::new("internal", format!("cannot start the HTTP client: {e}")))?;
    Ok(rt.block_on(async {
        let handles: Vec<_> = services
            .iter()
            .map(|s| {
                let (client, s) = (client.clone(), s.clone());
                tokio::spawn(async move { health::check(&client, &s).await })
            })
            .collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.unwrap_or_else(|e| Health {
                url: None,
                healthy: Some(false),
                status: None,
                error: Some(format!("the check crashed: {e}")),
                latency: None,
            }));
        }
        out
    }))
}

/// One element of `orch services check --json` (a documented format).
#[derive(Serialize)]
struct HealthJson<'a> {
    id: &'a str,
    url: Option<&'a str>,
    healthy: Option<bool>,
    status: Option<u16>,
    error: Option<&'a str>,
    latency_ms: Option<u64>,
}

fn render_check(services: &[Service], results: &[Health], color: bool) -> String {
    let paint = |text: &str, style: console::Style| -> String {
        if color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    };
    let rows: Vec<Vec<String>> = services
        .iter()
        .zip(results)
        .map(|(s, h)| {
            let status = match h.healthy {
                Some(true) => paint("healthy", console::Style::new().green()),
                Some(false) => paint("unhealthy", console::Style::new().red()),
                None => paint("no check", console::Style::new().dim()),
            };
            let result = match (h.status, &h.error) {
                (Some(code), _) => status_text(code),
                (None, Some(e)) => super::history::one_line(e),
                (None, None) => "-".to_string(),
            };
            let latency = h
                .latency
                .map_or("-".to_string(), |l| format!("{}ms", l.as_millis()));
            vec![s.id.clone(), status, result, latency]
        })
        .collect();
    table(&["SERVICE", "STATUS", "HTTP / ERROR", "LATENCY"], &rows)
}

/// `200 OK`, `503 Service Unavailable`, `299`.
fn status_text(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{code} {reason}"),
        None => code.to_string(),
    }
}

/// `2 healthy, 1 unhealthy, 1 without a health check`
fn summary(results: &[Health]) -> String {
    let count = |want: Option<bool>| results.iter().filter(|h| h.healthy == want).count();
    let mut parts = vec![
        format!("{} healthy", count(Some(true))),
        format!("{} unhealthy", count(Some(false))),
    ];
    let none = count(None);
    if none > 0 {
        parts.push(format!("{none} without a health check"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts() {
        assert_eq!(status_text(200), "200 OK");
        assert_eq!(status_text(503), "503 Service Unavailable");
        assert_eq!(status_text(299), "299");
    }

    #[test]
    fn renders_the_check_table() {
        let svc = |id: &str| Service {
            id: id.into(),
            name: None,
            base_url: "http://x".into(),
            auth: Auth::None,
            capabilities: vec![],
            priority: 0,
            timeout: None,
            rate_limit: None,
            circuit_breaker: None,
            health_check: None,
            endpoints: vec![],
        };
        let results = [
            Health {
                url: Some("http://x/health".into()),
                healthy: Some(true),
                status: Some(200),
                error: None,
                latency: Some(Duration::from_millis(3)),
            },
            Health {
                url: Some("http://x/health".into()),
                healthy: Some(false),
                status: None,
                error: Some("connection refused".into()),
                latency: Some(Duration::from_millis(1)),
            },
            Health {
                url: None,
                healthy: None,
                status: None,
                error: None,
                latency: None,
            },
        ];
        assert_eq!(
            render_check(&[svc("a"), svc("bb"), svc("c")], &results, false),
            "SERVICE  STATUS     HTTP / ERROR        LATENCY\n\
             a        healthy    200 OK              3ms\n\
             bb       unhealthy  connection refused  1ms\n\
             c        no check   -                   -\n"
        );
        assert_eq!(
            summary(&results),
            "1 healthy, 1 unhealthy, 1 without a health check"
        );
    }
}
