//! `call` steps: an endpoint of a service from orchestration.yaml. The
//! engine picks the route (which candidate service answers) per attempt;
//! one attempt here is one request to it, with the service's auth (unless
//! the `authentication` middleware is off), through its circuit breaker and
//! rate limit.

use std::path::Path;
use std::time::SystemTime;

use serde_json::{json, Map, Value as Json};

use crate::expr::Scope;
use crate::http_client::DEFAULT_TIMEOUT;
use crate::model::{CallTarget, Config, Step, StepKind};
use crate::services::breaker::{self, Admit};
use crate::services::{auth, registry};

use super::http;
use super::{
    Attempt, AttemptCx, AttemptFuture, Body, CallSite, ErrorKind, ResolveCx, StepError,
    StepExecutor,
};

pub(crate) struct Call;

impl StepExecutor for Call {
    fn kind(&self) -> &'static str {
        "call"
    }

    fn retries_by_default(&self) -> bool {
        true
    }

    fn credentials<'a>(&self, step: &'a Step, cfg: &'a Config) -> Vec<&'a str> {
        let StepKind::Call { target, .. } = &step.body.kind else {
            return Vec::new();
        };
        // `authentication` off: nothing is injected, so nothing is fetched.
        if !cfg.middleware.authentication {
            return Vec::new();
        }
        cfg.candidates(target)
            .into_iter()
            .filter_map(|svc| svc.auth.credential())
            .collect()
    }

    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        _cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError> {
        let StepKind::Call {
            target,
            endpoint,
            with,
            ..
        } = &step.body.kind
        else {
            return Err(StepError::wrong_kind(step, self.kind()));
        };
        let m = super::resolve_named(with, scope, "with")?;
        Ok(Box::new(CallBody {
            target: target.clone(),
            endpoint: endpoint.clone(),
            with: m,
        }))
    }
}

/// A call before routing: which service answers is decided per attempt.
#[derive(Debug)]
struct CallBody {
    target: CallTarget,
    endpoint: String,
    with: Map<String, Json>,
}

impl Body for CallBody {
    // Auth is added per attempt and never enters the fingerprint.
    fn definition(&self, def: &mut Map<String, Json>, _project_dir: &Path) {
        def.insert(
            "call".into(),
            json!({
                "target": match &self.target {
                    CallTarget::Service(s) => json!({ "service": s }),
                    CallTarget::Capability(c) => json!({ "capability": c }),
                },
                "endpoint": self.endpoint,
                "with": self.with,
            }),
        );
    }

    fn call(&self) -> Option<CallSite<'_>> {
        Some(CallSite {
            target: &self.target,
            endpoint: &self.endpoint,
        })
    }

    fn attempt<'a>(&'a self, cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        Box::pin(self.send(cx))
    }
}

impl CallBody {
    /// One request to the service `cx.route`.
    async fn send(&self, cx: &AttemptCx<'_>) -> Attempt {
        let (Some(rt), Some(svc)) = (cx.services, cx.route.and_then(|r| cx.cfg.service(r))) else {
            return Attempt::failed(ErrorKind::Expression, "no service to call");
        };
        let Some(ep) = svc.endpoint(&self.endpoint) else {
            return Attempt::failed(
                ErrorKind::Expression,
                format!("service `{}` has no endpoint `{}`", svc.id, self.endpoint),
            );
        };
        let timeout = cx
            .step
            .body
            .timeout
            .or(svc.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let mut req = match registry::build_request(svc, ep, &self.with, timeout) {
            Ok(r) => r,
            Err(e) => return Attempt::failed(ErrorKind::Expression, e),
        };
        let before = req.headers.len();
        if cx.cfg.middleware.authentication {
            if let Err(e) = auth::authorize(svc, cx.secret_values, &mut req) {
                return Attempt::failed(ErrorKind::Expression, e);
            }
        }
        let injected = req.headers.get(before).map(|(k, _)| k.to_ascii_lowercase());
        let mut a = match rt.breakers.admit(&svc.id, SystemTime::now()) {
            Admit::No { .. } => Attempt {
                refused: true,
                ..Attempt::failed(
                    ErrorKind::Connect,
                    breaker::open_message(std::slice::from_ref(&svc.id)),
                )
            },
            Admit::Yes | Admit::Trial => {
                // The rate limit is waited for only by a request that is sent,
                // not by one the HTTP cache answers.
                let route = http::Route {
                    service: Some(&svc.id),
                    credential: injected.as_deref(),
                };
                let (a, service_failure) = http::send(cx, rt, &req, route).await;
                // A request that could not be built says nothing about the service.
                if let Some(failed) = service_failure.filter(|_| {
                    !matches!(
                        a.error_kind(),
                        Some(ErrorKind::Cancelled | ErrorKind::Expression)
                    )
                }) {
                    rt.breakers.record(&svc.id, !failed, SystemTime::now());
                }
                a
            }
        };
        a.extra.insert("service".into(), json!(svc.id));
        a
    }
}
