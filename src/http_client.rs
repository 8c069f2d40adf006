//! The HTTP transport of `http` and `call` steps: one pooled client per run,
//! a request with its expressions evaluated, its answer or a classified failure.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::{Map, Value as Json};

/// Bodies beyond this are cut (and not parsed as JSON).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The default per-attempt timeout of `http` and `call` steps.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Query parameters whose values are secrets by their name.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "sig",
    "auth",
    "credential",
];

/// A URL as orch shows it, in every line it writes: a password in it
/// becomes `***`, and so does the value of a query parameter whose name
/// says it is a secret (`token`, `api_key`, `signature`, …).
pub(crate) fn display_url(url: &str) -> String {
    // Without `@` there is no password, without `?` no query: nothing to
    // hide, and no parse (one per request otherwise).
    if !url.contains(['@', '?']) {
        return url.to_string();
    }
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return url.to_string();
    };
    let mut changed = false;
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
        changed = true;
    }
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        SECRET_PARAMS.iter().any(|s| k.contains(s))
    };
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        u.to_string()
    } else {
        url.to_string()
    }
}

/// How many redirects a request follows before it fails (reqwest's default).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// The clients of one run: connections are pooled and reused across steps.
/// reqwest's redirect policy belongs to the client, so the one that leaves
/// 3xx answers alone (`follow_redirects: false`) is a second client, built
/// the first time a step asks for it: most runs never pay for it.
pub(crate) struct Clients {
    follow: reqwest::Client,
    manual: OnceLock<Result<reqwest::Client, String>>,
}

impl Clients {
    pub(crate) fn new() -> Result<Clients, String> {
        Ok(Clients {
            follow: build(reqwest::redirect::Policy::limited(MAX_REDIRECTS))?,
            manual: OnceLock::new(),
        })
    }

    /// The client for a request that does or does not follow redirects.
    fn get(&self, follow_redirects: bool) -> Result<&reqwest::Client, String> {
        if follow_redirects {
            return Ok(&self.follow);
        }
        self.manual
            .get_or_init(|| build(reqwest::redirect::Policy::none()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn build(redirects: reqwest::redirect::Policy) -> Result<reqwest::Client, String> {
    // Across hosts, reqwest drops `Authorization`, `Cookie`,
    // `Proxy-Authorization` and `WWW-Authenticate` from a followed redirect.
    reqwest::Client::builder()
        .user_agent(concat!("orch/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(256)
        .redirect(redirects)
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    None,
    Json(Json),
    Text(String),
    Form(Vec<(String, String)>),
}

/// A request with every expression already evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Body,
    /// Accepted statuses; empty means any 2xx.
    pub(crate) expect_status: Vec<u16>,
    pub(crate) timeout: Duration,
    /// `false`: a 3xx is the answer (`follow_redirects: false`).
    pub(crate) follow_redirects: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Lower-cased names; repeated headers joined with ", ".
    pub(crate) headers: Map<String, Json>,
    pub(crate) body: String,
    /// The body parsed as JSON, when it is JSON.
    pub(crate) json: Option<Json>,
    pub(crate) retry_after: Option<Duration>,
}

impl Response {
    /// The results a step exposes (`steps.<id>.http_status`, `headers`, …).
    pub(crate) fn results(&self) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("http_status".into(), Json::from(self.status));
        m.insert("headers".into(), Json::Object(self.headers.clone()));
        m.insert("body".into(), Json::String(self.body.clone()));
        m.insert("json".into(), self.json.clone().unwrap_or(Json::Null));
        m
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// No answer: refused, reset, DNS, TLS.
    Connect,
    Timeout,
    /// An answer with a status that was not expected.
    Status,
    /// The request itself is wrong (bad URL, header); never retried.
    Invalid,
    /// Redirected more than [`MAX_REDIRECTS`] times (a loop, most likely):
    /// asking again gets the same answers, so never retried by default.
    Redirect,
}

#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    /// The answer, for `Status` failures.
    pub(crate) response: Option<Response>,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            response: None,
        }
    }

    pub(crate) fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// The default retry rule of `http`/`call` steps: connect errors,
    /// timeouts, 408, 429 and 5xx; never other 4xx.
    pub(crate) fn retryable(&self) -> bool {
        match self.kind {
            FailureKind::Connect | FailureKind::Timeout => true,
            FailureKind::Invalid | FailureKind::Redirect => false,
            FailureKind::Status => {
                matches!(self.status(), Some(408 | 429) | Some(500..=599))
            }
        }
    }

    /// Whether this says something about the service's health (for its
    /// circuit breaker): a 4xx is the caller's problem, a 5xx the service's.
    pub(crate) fn is_service_failure(&self) -> bool {
        match self.kind {
            FailureKind::Connect | FailureKind::Timeout => true,
            // The service answered, every time: it is up, if misconfigured.
            FailureKind::Invalid | FailureKind::Redirect => false,
            FailureKind::Status => matches!(self.status(), Some(500..=599)),
        }
    }
}

/// A W3C `traceparent` for one attempt of a step: the trace is the run, the
/// span the attempt, so a server's logs can be joined with `orch show`.
pub(crate) fn traceparent(run_id: &str, step: &str, attempt: u32) -> String {
    let trace = match ulid::Ulid::from_string(run_id) {
        Ok(u) => format!("{:032x}", u.0),
        Err(_) => crate::digest::sha256_hex(run_id.as_bytes())[..32].to_string(),
    };
    let span_src = format!("{run_id}\0{step}\0{attempt}");
    let mut span = crate::digest::sha256_hex(span_src.as_bytes())[..16].to_string();
    // An all-zero id is invalid in W3C trace context.
    if span.bytes().all(|b| b == b'0') {
        span.replace_range(15..16, "1");
    }
    format!("00-{trace}-{span}-01")
}

/// Send one request and read its answer.
pub(crate) async fn send(
    clients: &Clients,
    req: &Request,
    traceparent: &str,
) -> Result<Response, Failure> {
    let client = clients
        .get(req.follow_redirects)
        .map_err(|e| Failure::new(FailureKind::Invalid, e))?;
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| Failure::new(FailureKind::Invalid, format!("bad method `{}`", req.method)))?;
    let mut url = reqwest::Url::parse(&req.url).map_err(|e| {
        Failure::new(
            FailureKind::Invalid,
            format!("bad url `{}`: {e}", display_url(&req.url)),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::new(
            FailureKind::Invalid,
            format!(
                "bad url `{}`: only http and https are supported",
                display_url(&req.url)
            ),
        ));
    }
    if !req.query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in &req.query {
            q.append_pair(k, v);
        }
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| Failure::new(FailureKind::Invalid, format!("bad header name `{k}`")))?;
        // The value may hold a credential: never quote it in the message.
        let value = HeaderValue::from_str(v).map_err(|_| {
            Failure::new(
                FailureKind::Invalid,
                format!("header `{k}` has a value that is not valid in HTTP"),
            )
        })?;
        headers.append(name, value);
    }
    if !headers.contains_key("traceparent") {
        if let Ok(v) = HeaderValue::from_str(traceparent) {
            headers.insert("traceparent", v);
        }
    }
    let mut rb = client
        .request(method, url)
        .timeout(req.timeout)
        .headers(headers);
    rb = match &req.body {
        Body::None => rb,
        Body::Json(j) => {
            let rb = if req
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                rb
            } else {
                rb.header(CONTENT_TYPE, "application/json")
            };
            rb.body(j.to_string())
        }
        Body::Text(t) => rb.body(t.clone()),
        Body::Form(pairs) => rb.form(pairs),
    };
    let timeout_msg = || {
        format!(
            "timed out after {}",
            humantime::format_duration(req.timeout)
        )
    };
    let mut resp = rb.send().await.map_err(|e| classify(e, &timeout_msg))?;
    let status = resp.status().as_u16();
    let mut hmap = Map::new();
    for (name, value) in resp.headers() {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match hmap.get_mut(name.as_str()) {
            Some(Json::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                hmap.insert(name.as_str().to_string(), Json::String(v));
            }
        }
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let mut bytes: Vec<u8> = Vec::new();
    let mut cut = false;
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, &timeout_msg))? {
        let room = MAX_BODY.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let json = if cut || bytes.is_empty() {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };
    let response = Response {
        status,
        headers: hmap,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        json,
        retry_after,
    };
    let expected = if req.expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        req.expect_status.contains(&status)
    };
    if expected {
        Ok(response)
    } else {
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let wanted = if req.expect_status.is_empty() {
            "2xx".to_string()
        } else {
            req.expect_status
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Failure {
            kind: FailureKind::Status,
            message: format!("HTTP {status} {reason} (expected {wanted})").replace("  ", " "),
            response: Some(response),
        })
    }
}

fn classify(e: reqwest::Error, timeout_msg: &dyn Fn() -> String) -> Failure {
    if e.is_timeout() {
        return Failure::new(FailureKind::Timeout, timeout_msg());
    }
    if e.is_builder() {
        return Failure::new(FailureKind::Invalid, error_chain(e));
    }
    if e.is_redirect() {
        let at = e
            .url()
            .map(|u| format!(", the last to {}", display_url(u.as_str())))
            .unwrap_or_default();
        return Failure::new(
            FailureKind::Redirect,
            format!("too many redirects: followed {MAX_REDIRECTS}{at} (a redirect loop?)"),
        );
    }
    Failure::new(FailureKind::Connect, error_chain(e))
}

/// reqwest's own message is generic ("error sending request"); the cause
/// ("Connection refused") is further down the chain. URLs are left out: a
/// query string may carry a token.
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn traceparent_shape() {
        let run = ulid::Ulid::new().to_string();
        let t = traceparent(&run, "fetch", 1);
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1].len(), 32);
        assert_eq!(parts[2].len(), 16);
        assert_eq!(parts[3], "01");
        // Same trace for every step of the run, a new span per attempt.
        let t2 = traceparent(&run, "fetch", 2);
        assert_eq!(t2.split('-').nth(1), Some(parts[1]));
        assert_ne!(t2.split('-').nth(2), Some(parts[2]));
        assert_eq!(traceparent(&run, "fetch", 1), t);
    }

    fn failure(status: u16) -> Failure {
        Failure {
            kind: FailureKind::Status,
            message: String::new(),
            response: Some(Response {
                status,
                headers: Map::new(),
                body: String::new(),
                json: None,
                retry_after: None,
            }),
        }
    }

    #[test]
    fn default_retry_classification() {
        for s in [408, 429, 500, 502, 503, 599] {
            assert!(failure(s).retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 301] {
            assert!(!failure(s).retryable(), "{s}");
        }
        assert!(Failure::new(FailureKind::Connect, "").retryable());
        assert!(Failure::new(FailureKind::Timeout, "").retryable());
        assert!(!Failure::new(FailureKind::Invalid, "").retryable());
        assert!(!Failure::new(FailureKind::Redirect, "").retryable());
        assert!(!Failure::new(FailureKind::Redirect, "").is_service_failure());
        // 429 is retried but is not the service being down.
        assert!(!failure(429).is_service_failure());
        assert!(failure(503).is_service_failure());
    }
}

#[cfg(test)]
mod display_tests {
    use super::display_url;

    #[test]
    fn secrets_in_urls_are_not_shown() {
        assert_eq!(
            display_url("https://me:hunter2@h.example/a?token=abc&page=2&api_key=k"),
            "https://me:***@h.example/a?token=***&page=2&api_key=***"
        );
        assert_eq!(
            display_url("https://h.example/a?page=2"),
            "https://h.example/a?page=2"
        );
        // Nothing to hide without `@` or `?`: shown as written.
        assert_eq!(
            display_url("http://127.0.0.1:80/ok"),
            "http://127.0.0.1:80/ok"
        );
        assert_eq!(display_url("https://me:pw@h/"), "https://me:***@h/");
    }
}
