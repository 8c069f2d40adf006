//! What a run shares across its `http` and `call` steps: the HTTP client,
//! breakers, rate limiters, the HTTP cache; and how an endpoint plus `with:` becomes a request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::expr::eval::to_text;
use crate::http_client::{Body, Request};
use crate::mask::Masker;
use crate::model::{Config, Endpoint, ParamIn, Service};

use super::breaker::{BreakerStore, Breakers};
use super::http_cache::{HttpCache, HttpCacheStore};
use super::ratelimit::TokenBucket;

pub(crate) struct Runtime {
    /// One client per run: connections are reused across steps.
    pub(crate) client: crate::http_client::Clients,
    pub(crate) breakers: Breakers,
    limiters: HashMap<String, TokenBucket>,
    /// The `caching` middleware's GET responses, when it is on.
    pub(crate) http_cache: Option<HttpCache>,
}

impl Runtime {
    /// `http_store`: where the `caching` middleware keeps answers across
    /// runs (none: in memory, for this run); `masker` says what is secret.
    pub(crate) fn new(
        config: Arc<Config>,
        store: Option<Arc<dyn BreakerStore>>,
        http_store: Option<Arc<dyn HttpCacheStore>>,
        masker: Arc<Masker>,
    ) -> Result<Runtime, String> {
        let client = crate::http_client::Clients::new()?;
        let limiters = config
            .services
            .iter()
            .filter_map(|s| Some((s.id.clone(), TokenBucket::new(s.rate_limit.as_ref()?))))
            .collect();
        Ok(Runtime {
            client,
            breakers: Breakers::new(&config, store),
            limiters,
            http_cache: config
                .middleware
                .caching
                .then(|| HttpCache::new(http_store, masker)),
        })
    }

    /// Wait for the service's rate limit (if it has one).
    pub(crate) async fn throttle(&self, service: &str) {
        if let Some(b) = self.limiters.get(service) {
            b.acquire().await;
        }
    }
}

/// The request for `endpoint` of `svc` with the `with:` values (already
/// evaluated). Path parameters fill `{name}` in the path; body parameters
/// make a JSON object. An endpoint that declares no parameters takes every
/// `with` value in its body.
pub(crate) fn build_request(
    svc: &Service,
    ep: &Endpoint,
    with: &Map<String, Json>,
    timeout: Duration,
) -> Result<Request, String> {
    let mut path = ep.path.clone();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let mut body = Map::new();
    for p in &ep.parameters {
        if p.required && with.get(&p.name).is_none_or(|v| v.is_null()) {
            return Err(format!(
                "endpoint `{}` of service `{}` needs parameter `{}`",
                ep.id, svc.id, p.name
            ));
        }
    }
    for (k, v) in with {
        let location = match ep.parameter(k) {
            Some(p) => p.location,
            None if ep.parameters.is_empty() => ParamIn::Body,
            None => {
                return Err(format!(
                    "endpoint `{}` of service `{}` has no parameter `{k}`",
                    ep.id, svc.id
                ))
            }
        };
        match location {
            ParamIn::Path => {
                let seg = percent_encoding::utf8_percent_encode(
                    &to_text(v),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                let placeholder = format!("{{{k}}}");
                if !path.contains(&placeholder) {
                    return Err(format!(
                        "path parameter `{k}` has no `{placeholder}` in `{}`",
                        ep.path
                    ));
                }
                path = path.replace(&placeholder, &seg);
            }
            ParamIn::Query => query.push((k.clone(), to_text(v))),
            ParamIn::Header => headers.push((k.clone(), to_text(v))),
            ParamIn::Body => {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    let url = super::health::url(&svc.base_url, &path);
    Ok(Request {
        method: ep.method.clone(),
        url,
        headers,
        query,
        body: if body.is_empty() {
            Body::None
        } else {
            Body::Json(Json::Object(body))
        },
        expect_status: Vec::new(),
        timeout,
        follow_redirects: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Auth, Parameter};
    use serde_json::json;

    fn svc() -> (Service, Endpoint) {
        let ep = Endpoint {
            id: "get".into(),
            method: "POST".into(),
            path: "/v1/items/{id}".into(),
            parameters: vec![
                Parameter {
                    name: "id".into(),
                    location: ParamIn::Path,
                    required: true,
                },
                Parameter {
                    name: "q".into(),
                    location: ParamIn::Query,
                    required: false,
                },
                Parameter {
                    name: "X-Tenant".into(),
                    location: ParamIn::Header,
                    required: false,
                },
                Parameter {
                    name: "text".into(),
                    location: ParamIn::Body,
                    required: true,
                },
            ],
        };
        let s = Service {
            id: "api".into(),
            name: None,
            base_url: "http://127.0.0.1:9/".into(),
            auth: Auth::None,
            capabilities: vec![],
            priority: 0,
            timeout: None,
            rate_limit: None,
            circuit_breaker: None,
            health_check: None,
            endpoints: vec![ep.clone()],
        };
        (s, ep)
    }

    #[test]
    fn parameters_go_where_declared() {
        let (s, ep) = svc();
        let with = json!({"id": "a b/c", "q": 3, "X-Tenant": "t1", "text": "hi"});
        let r = build_request(&s, &ep, with.as_object().unwrap(), Duration::from_secs(1)).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/v1/items/a%20b%2Fc");
        assert_eq!(r.query, vec![("q".to_string(), "3".to_string())]);
        assert_eq!(r.headers, vec![("X-Tenant".to_string(), "t1".to_string())]);
        assert_eq!(r.body, Body::Json(json!({"text": "hi"})));
        assert_eq!(r.method, "POST");
    }

    #[test]
    fn missing_and_unknown_parameters() {
        let (s, ep) = svc();
        let e = build_request(
            &s,
            &ep,
            json!({"id": 1}).as_object().unwrap(),
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(e.contains("needs parameter `text`"), "{e}");
        let e = build_request(
            &s,
            &ep,
            json!({"id": 1, "text": "x", "nope": 1})
                .as_object()
                .unwrap(),
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(e.contains("no parameter `nope`"), "{e}");
    }
}
