//! `http` steps: one request over [`crate::http_client`] (a leaf that
//! `services` uses too), through the run's HTTP cache when the `caching`
//! middleware is on. [`send`] is shared with `call` steps.

use std::path::Path;
use std::time::{Instant, SystemTime};

use serde_json::{json, Map, Value as Json};

use crate::cancel::CancelLevel;
use crate::event::{Output, OutputLine, Stream};
use crate::expr::eval::{resolve, to_text};
use crate::expr::Scope;
use crate::http_client::{self as client, Body as ReqBody, FailureKind, Request};
use crate::model::{HttpBody, Step, StepKind, Val};
use crate::services::http_cache::Lookup;
use crate::services::Runtime;

use super::{
    Attempt, AttemptCx, AttemptFuture, Body, ErrorKind, ResolveCx, StepError, StepExecutor,
};

pub(crate) struct Http;

impl StepExecutor for Http {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn retries_by_default(&self) -> bool {
        true
    }

    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        _cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError> {
        let StepKind::Http(h) = &step.body.kind else {
            return Err(StepError::wrong_kind(step, self.kind()));
        };
        let text = |v: &Val, what: &str| -> Result<String, StepError> {
            resolve(v, scope)
                .map(|j| to_text(&j))
                .map_err(|e| StepError::expression(format!("{what}: {}", e.message)))
        };
        let pairs = |kv: &[(String, Val)], what: &str| {
            kv.iter()
                .map(|(k, v)| Ok((k.clone(), text(v, &format!("{what} `{k}`"))?)))
                .collect::<Result<Vec<_>, StepError>>()
        };
        let body = match &h.body {
            None => ReqBody::None,
            Some(HttpBody::Json(v)) => ReqBody::Json(
                resolve(v, scope)
                    .map_err(|e| StepError::expression(format!("json: {}", e.message)))?,
            ),
            Some(HttpBody::Text(v)) => ReqBody::Text(text(v, "body")?),
            Some(HttpBody::Form(kv)) => ReqBody::Form(pairs(kv, "form")?),
        };
        Ok(Box::new(HttpRequest(Request {
            method: h.method.clone(),
            url: text(&h.url, "url")?,
            headers: pairs(&h.headers, "header")?,
            query: pairs(&h.query, "query")?,
            body,
            expect_status: h.expect_status.clone(),
            timeout: step.body.timeout.unwrap_or(client::DEFAULT_TIMEOUT),
            follow_redirects: h.follow_redirects,
        })))
    }
}

/// The request of an `http` step, every expression evaluated.
#[derive(Debug)]
struct HttpRequest(Request);

impl Body for HttpRequest {
    fn definition(&self, def: &mut Map<String, Json>, _project_dir: &Path) {
        let r = &self.0;
        def.insert(
            "request".into(),
            json!({
                "method": r.method,
                "url": r.url,
                "headers": r.headers,
                "query": r.query,
                "body": match &r.body {
                    ReqBody::None => Json::Null,
                    ReqBody::Json(b) => json!({ "json": b }),
                    ReqBody::Text(t) => json!({ "text": t }),
                    ReqBody::Form(f) => json!({ "form": f }),
                },
                "expect_status": r.expect_status,
            }),
        );
        // Only when set, so that the fingerprints of existing caches hold.
        if !r.follow_redirects {
            def.insert("follow_redirects".into(), Json::Bool(false));
        }
    }

    fn attempt<'a>(&'a self, cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        Box::pin(async move {
            match cx.services {
                Some(rt) => send(cx, rt, &self.0, Route::default()).await.0,
                None => Attempt::failed(ErrorKind::Expression, "no HTTP client in this run"),
            }
        })
    }
}

/// Send one request (or answer it from the run's HTTP cache) and say how
/// it went on the step's output; also says whether a failure is the
/// server's (for circuit breakers), `None` when nothing reached it.
pub(crate) async fn send(
    cx: &AttemptCx<'_>,
    rt: &Runtime,
    req: &Request,
    route: Route<'_>,
) -> (Attempt, Option<bool>) {
    let tp = client::traceparent(cx.run_id, cx.display_id, cx.attempt);
    let mut cancel = cx.cancel.clone();
    if cx.cancel.level() >= CancelLevel::Graceful {
        return (Attempt::failed(ErrorKind::Cancelled, "cancelled"), None);
    }
    let sent = Instant::now();
    let res = tokio::select! {
        r = exchange(rt, req, &tp, route) => r,
        _ = cancel.changed() => return (Attempt::failed(ErrorKind::Cancelled, "cancelled"), None),
    };
    let took = sent.elapsed().as_millis();
    let what = format!(
        "{} {}",
        req.method,
        crate::http_client::display_url(&req.url)
    );
    let (res, via) = res;
    let (line, outcome) = match res {
        Ok(resp) => (
            match via {
                Via::Network => format!("{what} → {} ({took} ms)", resp.status),
                Via::Fresh => format!("{what} → {} (cached)", resp.status),
                Via::NotModified => {
                    format!(
                        "{what} → 304 Not Modified, cached {} ({took} ms)",
                        resp.status
                    )
                }
            },
            (
                Attempt {
                    http_status: Some(resp.status),
                    extra: resp.results(),
                    ..Attempt::ok()
                },
                // A fresh answer from the cache says nothing of the service.
                (!matches!(via, Via::Fresh)).then_some(false),
            ),
        ),
        Err(f) => {
            let kind = match f.kind {
                FailureKind::Connect => ErrorKind::Connect,
                FailureKind::Timeout => ErrorKind::Timeout,
                FailureKind::Status => ErrorKind::HttpStatus,
                FailureKind::Invalid => ErrorKind::Expression,
                FailureKind::Redirect => ErrorKind::Redirect,
            };
            let a = Attempt {
                http_status: f.status(),
                extra: f.response.as_ref().map(|r| r.results()).unwrap_or_default(),
                retryable: f.retryable(),
                retry_after: f.response.as_ref().and_then(|r| r.retry_after),
                ..Attempt::failed(kind, f.message.clone())
            };
            (
                format!("{what} → {} ({took} ms)", f.message),
                (a, Some(f.is_service_failure())),
            )
        }
    };
    let line = OutputLine {
        stream: Stream::Stdout,
        line: &line,
        partial: false,
    };
    cx.sink.output(&Output::one(cx.display_id, &line));
    outcome
}

/// Where an answer came from, for the output line.
enum Via {
    Network,
    /// The cache's, fresh: nothing was sent.
    Fresh,
    /// The cache's, after the server said 304 to `If-None-Match`.
    NotModified,
}

/// Who a request goes to, for what happens only when it leaves orch.
#[derive(Clone, Copy, Default)]
pub(crate) struct Route<'a> {
    /// The service whose rate limit a request sent (not one answered by
    /// the cache) waits for.
    pub(crate) service: Option<&'a str>,
    /// The header the service's auth added, a credential to the cache.
    pub(crate) credential: Option<&'a str>,
}

/// The request through the `caching` middleware when it is on.
async fn exchange(
    rt: &Runtime,
    req: &Request,
    tp: &str,
    route: Route<'_>,
) -> (Result<client::Response, client::Failure>, Via) {
    let network = |req: &Request| {
        let req = req.clone();
        async move {
            if let Some(s) = route.service {
                rt.throttle(s).await;
            }
            client::send(&rt.client, &req, tp).await
        }
    };
    let Some(cache) = &rt.http_cache else {
        return (network(req).await, Via::Network);
    };
    let (sent, pending) = match cache.lookup(req, route.credential, SystemTime::now()) {
        Lookup::Bypass => return (network(req).await, Via::Network),
        Lookup::Fresh(r) => return (Ok(r), Via::Fresh),
        Lookup::Send { request, pending } => (request, pending),
    };
    let res = network(&sent).await;
    // A 304 is a failure to `expect_status` unless listed: either way, ours.
    let not_modified = match &res {
        Ok(r) if r.status == 304 => Some(r),
        Err(f) => f.response.as_ref().filter(|r| r.status == 304),
        _ => None,
    };
    if let Some(nm) = not_modified.filter(|_| pending.revalidating()) {
        return match cache.revalidated(pending, req, nm, SystemTime::now()) {
            Some(r) => (Ok(r), Via::NotModified),
            None => (res, Via::Network),
        };
    }
    if let Ok(r) = &res {
        cache.store(pending, req, r, SystemTime::now());
    }
    (res, Via::Network)
}
