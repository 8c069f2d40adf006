//! An HTTP/1.1 server on 127.0.0.1 with fault injection, for orch's tests and benchmarks.
//!
//! [`TestServer::start`] binds `127.0.0.1:0` and serves on its own thread with its own
//! tokio runtime, so plain `#[test]`s (and `assert_cmd` runs of `orch`) can use it; the
//! server stops when the value is dropped. Every request is recorded before it is
//! answered ([`TestServer::requests`]).
//!
//! Routes (any method unless said):
//!
//! | path | answer |
//! |---|---|
//! | `/ok` | 200 `{"ok":true}` |
//! | `/health` | 200 `{"status":"up"}` |
//! | `/unhealthy` | 503 `{"status":"down"}` |
//! | `/gzip` | 200 `{"compressed":true}`, gzip-encoded (`Content-Encoding: gzip`) |
//! | `/echo`, `/echo/{*rest}` | 200 `{"method","path","query":{k:v},"headers":{name:value},"body":"…","json":<body parsed or null>}` |
//! | `/status/{code}` | that status, body `{"status":code}` |
//! | `/flaky/{key}?fail=N&code=C` | the first N (default 1) requests for the key get C (default 503), later ones 200 `{"attempt":k}` |
//! | `/retry-after/{key}?secs=S&fail=N` | the first N (default 1) requests get 429 with `Retry-After: S` (default 1), later ones 200 `{"attempt":k}` |
//! | `/slow?ms=M` | waits M ms (default 1000), then 200 `{"slept_ms":M}` |
//! | `/reset` | no response: the connection is aborted with a TCP RST |
//! | `/text` | 200 `text/plain` `hello` |
//! | `/redirect/{n}` | 302 to `/redirect/{n-1}`; `/redirect/0` is 200 `{"redirected":true}` |
//! | `/redirect-loop`, `/redirect-loop/{key}` | 302 to itself, forever |
//! | `/redirect-to?url=U` | 302 to `U` (another port, to see which headers follow) |
//! | `/cacheable/{key}?cc=C&etag=E&expires=S&lm=1&say=HEX` | 200 `{"n":k}` with `Cache-Control: C` and `ETag: "E"` when given, `Date` and `Expires` S seconds later with `expires`, `Last-Modified` (a fixed date) with `lm`, and `"say":"text"` (HEX decoded) in the body with `say`; 304 (no body) when `If-None-Match` is `"E"` or `If-Modified-Since` is the `Last-Modified` |
//! | anything else | 404 `{"error":"not found"}` |
//!
//! `k` in `{"attempt":k}` is the 1-based count of requests for that key, over the
//! server's lifetime (every method, every connection).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub query: String,
    /// In arrival order; names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request's head arrived.
    pub at: Instant,
}

impl Recorded {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running server; stops (its runtime shut down) on drop.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Bind `127.0.0.1:0` and serve on a new thread (a multi-thread runtime with 2 workers).
    pub fn start() -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("set the listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State::new(true));
        let (tx, rx) = oneshot::channel::<()>();
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("orch-testserver-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("orch-testserver-worker")
                    .enable_all()
                    .build()
                    .expect("build the test server's runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("register the listener");
                    accept_loop(listener, thread_state, async {
                        let _ = rx.await;
                    })
                    .await;
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("spawn the test server's thread");
        TestServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` + `path`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.recorded().clone()
    }

    /// How many requests had this path (the query is not compared).
    pub fn count(&self, path: &str) -> usize {
        self.state
            .recorded()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serve the routes on `listener` forever (for the `orch-testserver` binary).
/// `record: false` keeps no requests, so that memory stays flat under load.
pub async fn serve(listener: TcpListener, record: bool) {
    accept_loop(
        listener,
        Arc::new(State::new(record)),
        std::future::pending(),
    )
    .await
}

struct State {
    record: bool,
    requests: Mutex<Vec<Recorded>>,
    /// Requests so far per `flaky/KEY`, `retry-after/KEY` and `cacheable/KEY`.
    counters: Mutex<HashMap<String, u64>>,
}

impl State {
    fn new(record: bool) -> State {
        State {
            record,
            requests: Mutex::new(Vec::new()),
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn recorded(&self) -> MutexGuard<'_, Vec<Recorded>> {
        // A panic elsewhere must not hide what was recorded.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The 1-based number of this request for `key`.
    fn bump(&self, key: String) -> u64 {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let n = counters.entry(key).or_insert(0);
        *n += 1;
        *n
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => return,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, Arc::clone(&state)));
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One connection: HTTP/1.1 with keep-alive, until the client closes it or a
/// request for `/reset` aborts it.
async fn connection(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let reset = Arc::new(Notify::new());
    let service = {
        let reset = Arc::clone(&reset);
        service_fn(move |req| handle(Arc::clone(&state), Arc::clone(&reset), req))
    };
    let mut conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let reset_requested = tokio::select! {
        _ = &mut conn => false,
        () = reset.notified() => true,
    };
    if reset_requested {
        // SO_LINGER 0: close() sends RST instead of FIN, so the client sees
        // "connection reset by peer" rather than an HTTP answer or a clean EOF.
        let stream = conn.into_parts().io.into_inner();
        let _ = stream.set_zero_linger();
        drop(stream);
    }
}

type Answer = Response<Full<Bytes>>;

async fn handle(
    state: Arc<State>,
    reset: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let at = Instant::now();
    let (head, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let path = head.uri.path();
    let query = head.uri.query().unwrap_or("");
    if state.record {
        let recorded = Recorded {
            method: head.method.as_str().to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: head
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), header_text(v)))
                .collect(),
            body: body.to_vec(),
            at,
        };
        state.recorded().push(recorded);
    }

    let answer = match path {
        "/ok" => json(StatusCode::OK, r#"{"ok":true}"#),
        "/health" => json(StatusCode::OK, r#"{"status":"up"}"#),
        "/gzip" => {
            // The client must ask for it and decode it.
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = enc.write_all(br#"{"compressed":true}"#);
            let mut r = json(StatusCode::OK, enc.finish().unwrap_or_default());
            r.headers_mut()
                .insert("content-encoding", HeaderValue::from_static("gzip"));
            r
        }
        "/unhealthy" => json(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"down"}"#),
        "/text" => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"hello")));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        "/slow" => {
            let ms = param(query, "ms").unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json(StatusCode::OK, format!(r#"{{"slept_ms":{ms}}}"#))
        }
        "/reset" => {
            reset.notify_one();
            // The connection task drops this future when it aborts the connection.
            std::future::pending::<()>().await;
            json(StatusCode::INTERNAL_SERVER_ERROR, "{}")
        }
        p if p == "/echo" || p.starts_with("/echo/") => echo(&head, &body),
        p if p == "/redirect-loop" || p.starts_with("/redirect-loop/") => redirect(p),
        "/redirect-to" => {
            let to = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "url")
                .map(|(_, v)| v.into_owned());
            match to {
                Some(to) => redirect(&to),
                None => json(StatusCode::BAD_REQUEST, r#"{"error":"no url"}"#),
            }
        }
        p => {
            if let Some(code) = p.strip_prefix("/status/") {
                match code
                    .parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                {
                    Some(status) => json(status, format!(r#"{{"status":{}}}"#, status.as_u16())),
                    None => json(StatusCode::BAD_REQUEST, r#"{"error":"bad status code"}"#),
                }
            } else if let Some(n) = key_after(p, "/redirect/") {
                match n.parse::<u32>() {
                    Ok(0) => json(StatusCode::OK, r#"{"redirected":true}"#),
                    Ok(n) => redirect(&format!("/redirect/{}", n - 1)),
                    Err(_) => json(StatusCode::BAD_REQUEST, r#"{"error":"bad count"}"#),
                }
            } else if let Some(key) = key_after(p, "/flaky/") {
                let attempt = state.bump(format!("flaky/{key}"));
                let fail = param(query, "fail").unwrap_or(1);
                let code = param::<u16>(query, "code")
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                if attempt <= fail {
                    json(
                        code,
                        format!(r#"{{"attempt":{attempt},"status":{}}}"#, code.as_u16()),
                    )
                } else {
                    json(StatusCode::OK, format!(r#"{{"attempt":{attempt}}}"#))
                }
            } else if let Some(key) = key_after(p, "/cacheable/") {
                let n = state.bump(format!("cacheable/{key}"));
                let text = |name: &str| {
                    form_urlencoded::parse(query.as_bytes())
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                };
                let etag = text("etag").map(|e| format!("\"{e}\""));
                let matched = etag.as_deref().is_some_and(|e| {
                    head.headers
                        .get("if-none-match")
                        .is_some_and(|v| header_text(v) == e)
                });
                let last_modified = text("lm").map(|_| LAST_MODIFIED.to_string());
                let unmodified = last_modified.as_deref().is_some_and(|lm| {
                    head.headers
                        .get("if-modified-since")
                        .is_some_and(|v| header_text(v) == lm)
                });
                let now = std::time::SystemTime::now();
                let expires = text("expires")
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(|s| httpdate::fmt_http_date(now + Duration::from_secs(s)));
                let date = expires.as_ref().map(|_| httpdate::fmt_http_date(now));
                let say = text("say").map(|h| {
                    let bytes: Vec<u8> = (0..h.len() / 2)
                        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                        .collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                });
                let matched = matched || unmodified;
                let mut r = if matched {
                    let mut r = Response::new(Full::new(Bytes::new()));
                    *r.status_mut() = StatusCode::NOT_MODIFIED;
                    r
                } else {
                    let mut body = serde_json::json!({ "n": n });
                    if let Some(say) = say {
                        body["say"] = say.into();
                    }
                    json(StatusCode::OK, body.to_string())
                };
                for (name, v) in [
                    ("cache-control", text("cc")),
                    ("etag", etag),
                    ("last-modified", last_modified),
                    ("date", date),
                    ("expires", expires),
                ] {
                    if let Some(v) = v.and_then(|v| HeaderValue::from_str(&v).ok()) {
                        r.headers_mut().insert(name, v);
                    }
                }
                r
            } else if let Some(key) = key_after(p, "/retry-after/") {
                let attempt = state.bump(format!("retry-after/{key}"));
                let fail = param(query, "fail").unwrap_or(1);
                let secs = param::<u64>(query, "secs").unwrap_or(1);
                if attempt <= fail {
                    let mut r = json(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!(r#"{{"attempt":{attempt},"status":429}}"#),
                    );
                    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
                    r
                } else {
                    json(StatusCode::OK, format!(r#"{{"attempt":{attempt}}}"#))
                }
            } else {
                json(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#)
            }
        }
    };
    Ok(answer)
}

/// The `Last-Modified` of `/cacheable/{key}?lm=1`.
pub const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

fn json(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// 302 Found to `to`.
fn redirect(to: &str) -> Answer {
    let mut r = json(StatusCode::FOUND, format!(r#"{{"location":{to:?}}}"#));
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

fn header_text(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// The non-empty rest of `path` after `prefix`.
fn key_after<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|k| !k.is_empty())
}

/// A query parameter parsed as `T`; absent or unparsable → `None`.
fn param<T: std::str::FromStr>(query: &str, name: &str) -> Option<T> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

fn echo(head: &hyper::http::request::Parts, body: &Bytes) -> Answer {
    use serde_json::{Map, Value};
    let query: Map<String, Value> =
        form_urlencoded::parse(head.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    let mut headers = Map::new();
    for (name, value) in &head.headers {
        let value = header_text(value);
        match headers.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let doc = serde_json::json!({
        "method": head.method.as_str(),
        "path": head.uri.path(),
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(body),
        "json": serde_json::from_slice::<Value>(body).unwrap_or(Value::Null),
    });
    json(StatusCode::OK, doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};

    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn raw(server: &TestServer, request: &str) -> std::io::Result<Vec<u8>> {
        let mut s = std::net::TcpStream::connect(server.addr())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(request.as_bytes())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    }

    fn send(server: &TestServer, method: &str, target: &str, body: &str) -> Reply {
        let req = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nX-Test: yes\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            server.addr(),
            body.len()
        );
        let bytes = raw(server, &req).expect("request");
        let text = String::from_utf8(bytes).expect("utf-8 reply");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let mut lines = head.lines();
        let status = lines.next().expect("status line")[9..12]
            .parse()
            .expect("status code");
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn get(server: &TestServer, target: &str) -> Reply {
        send(server, "GET", target, "")
    }

    #[test]
    fn fixed_routes() {
        let s = TestServer::start();
        let r = get(&s, "/ok");
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"ok":true}"#));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(get(&s, "/health").body, r#"{"status":"up"}"#);
        assert_eq!(get(&s, "/unhealthy").status, 503);
        let r = get(&s, "/text");
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        let r = get(&s, "/status/418");
        assert_eq!((r.status, r.body.as_str()), (418, r#"{"status":418}"#));
        assert_eq!(get(&s, "/nope").status, 404);
        assert_eq!(get(&s, "/flaky/").status, 404);
        let r = get(&s, "/slow?ms=30");
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"slept_ms":30}"#));
    }

    #[test]
    fn echo_and_recording() {
        let s = TestServer::start();
        let r = send(&s, "POST", "/echo/a/b?x=1&y=two%20words", r#"{"k":[1,2]}"#);
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path"], "/echo/a/b");
        assert_eq!(v["query"], serde_json::json!({"x": "1", "y": "two words"}));
        assert_eq!(v["headers"]["x-test"], "yes");
        assert_eq!(v["body"], r#"{"k":[1,2]}"#);
        assert_eq!(v["json"], serde_json::json!({"k": [1, 2]}));
        let v: serde_json::Value =
            serde_json::from_str(&send(&s, "PUT", "/echo", "plain").body).expect("json");
        assert_eq!(v["json"], serde_json::Value::Null);
        assert_eq!(v["body"], "plain");

        get(&s, "/ok?z=1");
        let reqs = s.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].path, "/echo/a/b");
        assert_eq!(reqs[0].query, "x=1&y=two%20words");
        assert_eq!(reqs[0].header("X-TEST"), Some("yes"));
        assert_eq!(reqs[0].body_str(), r#"{"k":[1,2]}"#);
        assert!(reqs[0].at <= reqs[1].at && reqs[1].at <= reqs[2].at);
        assert_eq!(s.count("/ok"), 1);
        assert_eq!(s.count("/echo"), 1);
        assert!(s.url("/ok").starts_with("http://127.0.0.1:"));
        assert_eq!(s.url("/ok"), format!("{}/ok", s.base_url()));
    }

    #[test]
    fn flaky_counts_per_key() {
        let s = TestServer::start();
        let a: Vec<u16> = (0..4).map(|_| get(&s, "/flaky/a?fail=2").status).collect();
        assert_eq!(a, [503, 503, 200, 200]);
        assert_eq!(get(&s, "/flaky/a?fail=2").body, r#"{"attempt":5}"#);
        // Another key has its own count; `code` picks the failure status.
        assert_eq!(get(&s, "/flaky/b?fail=1&code=500").status, 500);
        assert_eq!(get(&s, "/flaky/b?fail=1&code=500").body, r#"{"attempt":2}"#);
        // Default: one failure.
        assert_eq!(get(&s, "/flaky/c").status, 503);
        assert_eq!(get(&s, "/flaky/c").status, 200);
        assert_eq!(s.count("/flaky/a"), 5);
    }

    #[test]
    fn retry_after() {
        let s = TestServer::start();
        let r = get(&s, "/retry-after/k?secs=3&fail=2");
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("3"));
        assert_eq!(get(&s, "/retry-after/k?secs=3&fail=2").status, 429);
        let r = get(&s, "/retry-after/k?secs=3&fail=2");
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"attempt":3}"#));
        assert_eq!(r.header("retry-after"), None);
        let r = get(&s, "/retry-after/other");
        assert_eq!((r.status, r.header("retry-after")), (429, Some("1")));
    }

    #[test]
    fn reset_aborts_the_connection() {
        let s = TestServer::start();
        let req = format!("GET /reset HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr());
        let err = raw(&s, &req).expect_err("no HTTP answer");
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        assert_eq!(s.count("/reset"), 1);

        // On a kept-alive connection too, after a normal answer.
        let mut conn = std::net::TcpStream::connect(s.addr()).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let ok = format!("GET /ok HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr());
        conn.write_all(ok.as_bytes()).expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&got).ends_with(r#"{"ok":true}"#) {
            let n = conn.read(&mut buf).expect("read the first answer");
            assert!(n > 0, "EOF before the first answer");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"));
        conn.write_all(req.as_bytes()).expect("write");
        let err = match conn.read(&mut buf) {
            Ok(n) => panic!("read {n} bytes instead of a reset"),
            Err(e) => e,
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        assert_eq!(s.count("/reset"), 2);
        // The server still serves.
        assert_eq!(get(&s, "/ok").status, 200);
    }

    #[test]
    fn drop_stops_the_server() {
        let s = TestServer::start();
        let addr = s.addr();
        assert_eq!(get(&s, "/ok").status, 200);
        drop(s);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
