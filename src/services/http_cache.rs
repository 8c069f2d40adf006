//! The `caching` middleware: GET answers of `http` and `call` steps reused
//! as a private HTTP cache may (RFC 9111, decided by `http-cache-semantics`):
//! in memory for the run, and across runs through an [`HttpCacheStore`]
//! (the history database) for the answers that are safe to write down.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use serde_json::{json, Map, Value as Json};

use crate::http_client::{Body, Request, Response};
use crate::mask::Masker;

/// Bodies kept in memory in all; past this, new answers are not kept there.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// A private cache (one user's machine): `private` answers may be kept,
/// `s-maxage` is for shared caches and ignored. No heuristic freshness:
/// an answer without `max-age` or `Expires` is stale at once (and only
/// kept when it can be revalidated), `immutable` gives no lifetime of its own.
const OPTIONS: CacheOptions = CacheOptions {
    shared: false,
    cache_heuristic: 0.0,
    immutable_min_time_to_live: Duration::ZERO,
    ignore_cargo_cult: false,
};

/// Request headers that make the request conditional or partial already:
/// the step asked for something a cache must not answer for it.
const OWN_CONDITIONS: &[&str] = &[
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "if-range",
    "range",
];

/// Request headers that carry credentials whatever their value.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// One stored answer: what the server said and when it arrived.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    /// For `orch cache` and people reading the database: the URL as
    /// [`crate::http_client::display_url`] shows it.
    pub(crate) url: String,
    pub(crate) status: u16,
    /// Lower-cased names, as [`Response::headers`].
    pub(crate) headers: Map<String, Json>,
    pub(crate) body: String,
    /// When the answer (or its last revalidation) arrived.
    pub(crate) received: SystemTime,
}

/// The port the answers kept across runs go through; the history database
/// implements it. Best effort: an answer that cannot be saved or read is a
/// miss, never a failure of the step.
pub(crate) trait HttpCacheStore: Send + Sync {
    fn load(&self, key: &str) -> Option<Stored>;
    /// Replace the answer under `key`, whole or not at all.
    fn save(&self, key: &str, answer: &Stored);
    fn remove(&self, key: &str);
}

pub(crate) struct HttpCache {
    memory: Mutex<Memory>,
    durable: Option<Arc<dyn HttpCacheStore>>,
    /// What is secret: such answers are never written down.
    masker: Arc<Masker>,
}

#[derive(Default)]
struct Memory {
    entries: HashMap<String, Stored>,
    bytes: usize,
}

/// What the cache says about a request before it is sent.
// One per request, moved once, never stored: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub(crate) enum Lookup {
    /// Not for the cache (not a GET, or the step set its own conditions).
    Bypass,
    /// A fresh stored answer: send nothing.
    Fresh(Response),
    /// Send `request` (the step's, with `If-None-Match`/`If-Modified-Since`
    /// when a stored answer can be revalidated), then give the answer to
    /// [`HttpCache::store`], or a 304 to [`HttpCache::revalidated`].
    Send { request: Request, pending: Pending },
}

/// A request on its way, as the cache will need it back.
#[derive(Debug, PartialEq)]
pub(crate) struct Pending {
    /// In memory: everything that can change the answer, credentials too.
    memory_key: String,
    /// Across runs: the same without credentials (whose hash is not
    /// written down either), but whether there were any.
    durable_key: String,
    /// An `Authorization` (or the like) header, or a secret's value, was sent.
    credentialed: bool,
    /// The stored answer being revalidated, if any, and where it came from.
    cached: Option<(Stored, bool)>,
}

impl Pending {
    pub(crate) fn revalidating(&self) -> bool {
        self.cached.is_some()
    }
}

/// The request as `http` types; `None` when it cannot be one (the client
/// will refuse it too).
fn request_parts(req: &Request, drop: &dyn Fn(&str, &str) -> bool) -> Option<http::request::Parts> {
    let mut url = reqwest::Url::parse(&req.url).ok()?;
    if !req.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&req.query);
    }
    let mut parts = http::Request::get(url.as_str())
        .body(())
        .ok()?
        .into_parts()
        .0;
    for (k, v) in &req.headers {
        if drop(&k.to_ascii_lowercase(), v) {
            continue;
        }
        let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
        parts.headers.append(name, HeaderValue::from_str(v).ok()?);
    }
    Some(parts)
}

fn response_parts(status: u16, headers: &Map<String, Json>) -> Option<http::response::Parts> {
    let mut parts = http::Response::builder()
        .status(status)
        .body(())
        .ok()?
        .into_parts()
        .0;
    for (k, v) in headers {
        let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) else {
            continue;
        };
        parts.headers.append(name, value);
    }
    Some(parts)
}

/// Headers back as [`Response::headers`]: repeated ones joined with ", ".
fn header_map(h: &HeaderMap) -> Map<String, Json> {
    let mut m = Map::new();
    for name in h.keys() {
        let v: Vec<&str> = h
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        m.insert(name.as_str().to_string(), Json::from(v.join(", ")));
    }
    m
}

fn header<'a>(headers: &'a Map<String, Json>, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(Json::as_str)
}

fn request_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn has_directive(v: Option<&str>, name: &str) -> bool {
    v.unwrap_or("").split(',').any(|d| {
        let d = d.split('=').next().unwrap_or("").trim();
        d.eq_ignore_ascii_case(name)
    })
}

/// Everything that can change the answer but `Cache-Control` (which asks
/// the cache itself), hashed.
fn key(req: &Request, headers: Vec<(String, Cow<'_, str>)>, url: &str, extra: Json) -> String {
    let mut headers: Vec<(String, Cow<'_, str>)> = headers
        .into_iter()
        .filter(|(k, _)| k != "cache-control")
        .collect();
    headers.sort();
    let k = json!([
        url,
        req.query,
        headers,
        req.expect_status,
        req.follow_redirects,
        extra
    ]);
    crate::digest::sha256_hex(k.to_string().as_bytes())
}

impl HttpCache {
    pub(crate) fn new(durable: Option<Arc<dyn HttpCacheStore>>, masker: Arc<Masker>) -> HttpCache {
        HttpCache {
            memory: Mutex::new(Memory::default()),
            durable,
            masker,
        }
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        // A panic elsewhere leaves entries that are still whole.
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn secret_in(&self, s: &str) -> bool {
        matches!(self.masker.mask_str(s), Cow::Owned(_))
    }

    /// A header that is a credential: by its name, because the service's
    /// auth put it there (`injected`), or because its value is a secret.
    fn is_credential(&self, name: &str, value: &str, injected: Option<&str>) -> bool {
        CREDENTIAL_HEADERS.contains(&name)
            || injected.is_some_and(|i| i.eq_ignore_ascii_case(name))
            || self.secret_in(value)
    }

    /// `injected`: the header the service's auth added, if any.
    pub(crate) fn lookup(&self, req: &Request, injected: Option<&str>, now: SystemTime) -> Lookup {
        if !req.method.eq_ignore_ascii_case("GET")
            || req.body != Body::None
            || OWN_CONDITIONS
                .iter()
                .any(|h| request_header(req, h).is_some())
            || has_directive(request_header(req, "cache-control"), "no-store")
        {
            return Lookup::Bypass;
        }
        let Some(parts) = request_parts(req, &|_, _| false) else {
            return Lookup::Bypass;
        };
        let is_cred = |k: &str, v: &str| self.is_credential(k, v, injected);
        let credentialed = req
            .headers
            .iter()
            .any(|(k, v)| is_cred(&k.to_ascii_lowercase(), v))
            || self.secret_in(&req.url)
            || req.query.iter().any(|(_, v)| self.secret_in(v));
        let all = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), Cow::Borrowed(v.as_str())))
            .collect();
        let memory_key = key(req, all, &req.url, Json::Null);
        let kept = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .filter(|(k, v)| !is_cred(k, v))
            .map(|(k, v)| (k, Cow::Borrowed(v.as_str())))
            .collect();
        let durable_key = key(
            req,
            kept,
            &self.masker.mask_str(&req.url),
            json!({ "credentialed": credentialed }),
        );
        let cached = match self.memory().entries.get(&memory_key) {
            Some(s) => Some((s.clone(), false)),
            None => self
                .durable
                .as_ref()
                .and_then(|d| d.load(&durable_key))
                .map(|s| (s, true)),
        };
        let mut pending = Pending {
            memory_key,
            durable_key,
            credentialed,
            cached: None,
        };
        let plain = |pending| Lookup::Send {
            request: req.clone(),
            pending,
        };
        let Some((stored, durable)) = cached else {
            return plain(pending);
        };
        let Some(res) = response_parts(stored.status, &stored.headers) else {
            return plain(pending);
        };
        // The request the answer was stored for: this one, as its key says
        // (without the credentials for one kept across runs).
        let original = if durable {
            request_parts(req, &|k, v| is_cred(k, v)).unwrap_or_else(|| parts.clone())
        } else {
            parts.clone()
        };
        let policy = CachePolicy::new_options(&original, &res, stored.received, OPTIONS);
        match policy.before_request(&parts, now) {
            BeforeRequest::Fresh(p) => {
                // `Age` brought up to date; `Date` is still the server's.
                let mut headers = header_map(&p.headers);
                keep_date(&mut headers, &stored.headers);
                Lookup::Fresh(answer(p.status.as_u16(), headers, &stored.body))
            }
            BeforeRequest::Stale { request, matches } => {
                if !matches {
                    return plain(pending);
                }
                let mut conditional = req.clone();
                for name in ["if-none-match", "if-modified-since"] {
                    if let Some(v) = request.headers.get(name).and_then(|v| v.to_str().ok()) {
                        conditional.headers.push((name.into(), v.to_string()));
                    }
                }
                pending.cached = Some((stored, durable));
                Lookup::Send {
                    request: conditional,
                    pending,
                }
            }
        }
    }

    /// Keep a successful answer to `req` if its headers allow it.
    pub(crate) fn store(&self, pending: Pending, req: &Request, resp: &Response, now: SystemTime) {
        let (Some(parts), Some(res)) = (
            request_parts(req, &|_, _| false),
            response_parts(resp.status, &resp.headers),
        ) else {
            return;
        };
        let policy = CachePolicy::new_options(&parts, &res, now, OPTIONS);
        let stored = Stored {
            url: crate::http_client::display_url(&req.url),
            status: resp.status,
            headers: resp.headers.clone(),
            body: resp.body.clone(),
            received: now,
        };
        let keep = resp.status == 200
            && policy.is_storable()
            && header(&resp.headers, "vary").is_none_or(|v| v.trim() != "*")
            // Neither reusable nor revalidatable: no point keeping it.
            && (!policy.is_stale(now)
                || resp.headers.contains_key("etag")
                || resp.headers.contains_key("last-modified"));
        if keep {
            self.keep(&pending, stored);
        } else {
            self.forget(&pending);
        }
    }

    /// A 304 to a revalidation: the stored answer with the 304's headers
    /// (which replace the stored ones they name) and its freshness renewed;
    /// `None` when the 304 is not about the stored answer.
    pub(crate) fn revalidated(
        &self,
        pending: Pending,
        req: &Request,
        not_modified: &Response,
        now: SystemTime,
    ) -> Option<Response> {
        let (stored, _) = pending.cached.as_ref()?;
        let parts = request_parts(req, &|_, _| false)?;
        let old = response_parts(stored.status, &stored.headers)?;
        let new = response_parts(not_modified.status, &not_modified.headers)?;
        let policy = CachePolicy::new_options(&parts, &old, stored.received, OPTIONS);
        match policy.after_response(&parts, &new, now) {
            AfterResponse::NotModified(_, p) => {
                let mut headers = header_map(&p.headers);
                keep_date(&mut headers, &not_modified.headers);
                if !headers.contains_key("date") {
                    keep_date(&mut headers, &stored.headers);
                }
                // A 304 has no body: its framing says nothing of ours.
                for h in ["content-length", "content-type", "content-encoding"] {
                    headers.remove(h);
                    if let Some(v) = stored.headers.get(h) {
                        headers.insert(h.into(), v.clone());
                    }
                }
                let renewed = Stored {
                    status: stored.status,
                    headers,
                    received: now,
                    ..stored.clone()
                };
                let r = answer(renewed.status, renewed.headers.clone(), &renewed.body);
                self.keep(&pending, renewed);
                Some(r)
            }
            AfterResponse::Modified(..) => {
                self.forget(&pending);
                None
            }
        }
    }

    /// In memory, and across runs when nothing in it is a credential's.
    fn keep(&self, pending: &Pending, stored: Stored) {
        if let Some(d) = &self.durable {
            if self.may_persist(pending, &stored) {
                d.save(&pending.durable_key, &stored);
            } else if pending.cached.as_ref().is_some_and(|(_, durable)| *durable) {
                d.remove(&pending.durable_key);
            }
        }
        let mut m = self.memory();
        if let Some(old) = m.entries.remove(&pending.memory_key) {
            m.bytes -= old.body.len();
        }
        if m.bytes + stored.body.len() <= MAX_BYTES {
            m.bytes += stored.body.len();
            m.entries.insert(pending.memory_key.clone(), stored);
        }
    }

    fn forget(&self, pending: &Pending) {
        let mut m = self.memory();
        if let Some(old) = m.entries.remove(&pending.memory_key) {
            m.bytes -= old.body.len();
        }
        drop(m);
        if let Some(d) = &self.durable {
            d.remove(&pending.durable_key);
        }
    }

    /// Secrets never reach a byte orch writes: an answer to a request with
    /// credentials only when the server said `public`, never one that
    /// sets a cookie, never one with a known secret in it.
    fn may_persist(&self, pending: &Pending, s: &Stored) -> bool {
        let cc = header(&s.headers, "cache-control");
        (!pending.credentialed || has_directive(cc, "public"))
            && !s.headers.contains_key("set-cookie")
            && !self.secret_in(&s.body)
            && !self.secret_in(&s.url)
            && !s
                .headers
                .iter()
                .any(|(k, v)| self.secret_in(k) || v.as_str().is_some_and(|v| self.secret_in(v)))
    }
}

/// `Date` as the server sent it in `from` (the policy sets it to now).
fn keep_date(headers: &mut Map<String, Json>, from: &Map<String, Json>) {
    match from.get("date") {
        Some(d) => headers.insert("date".into(), d.clone()),
        None => headers.remove("date"),
    };
}

/// A stored answer as a step sees it.
fn answer(status: u16, headers: Map<String, Json>, body: &str) -> Response {
    Response {
        status,
        headers,
        body: body.to_string(),
        json: if body.is_empty() {
            None
        } else {
            serde_json::from_str(body).ok()
        },
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            query: vec![],
            body: Body::None,
            expect_status: vec![],
            timeout: Duration::from_secs(1),
            follow_redirects: true,
        }
    }

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Json::from(*v)))
                .collect(),
            body: body.into(),
            json: serde_json::from_str(body).ok(),
            retry_after: None,
        }
    }

    /// A store across runs, as the history database is one (tested there).
    #[derive(Default)]
    struct Shelf(Mutex<HashMap<String, Stored>>);

    impl HttpCacheStore for Shelf {
        fn load(&self, key: &str) -> Option<Stored> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn save(&self, key: &str, answer: &Stored) {
            self.0.lock().unwrap().insert(key.into(), answer.clone());
        }
        fn remove(&self, key: &str) {
            self.0.lock().unwrap().remove(key);
        }
    }

    fn cache() -> HttpCache {
        HttpCache::new(None, Arc::new(Masker::new()))
    }

    fn send(l: Lookup) -> (Request, Pending) {
        match l {
            Lookup::Send { request, pending } => (request, pending),
            other => panic!("expected Send, got {other:?}"),
        }
    }

    fn at(t0: SystemTime, s: u64) -> SystemTime {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn max_age_less_age_makes_a_fresh_hit_until_it_runs_out() {
        let c = cache();
        let t0 = SystemTime::now();
        let r = get("http://h/a");
        let (sent, p) = send(c.lookup(&r, None, t0));
        assert_eq!(sent, r);
        let a = reply(200, &[("cache-control", "max-age=60"), ("age", "10")], "1");
        c.store(p, &r, &a, t0);
        match c.lookup(&r, None, at(t0, 49)) {
            Lookup::Fresh(hit) => {
                assert_eq!(hit.body, "1");
                assert_eq!(hit.json, Some(json!(1)));
                assert_eq!(header(&hit.headers, "age"), Some("59"));
            }
            other => panic!("{other:?}"),
        }
        // Stale after 50 s, and nothing to revalidate with.
        let (sent, p) = send(c.lookup(&r, None, at(t0, 50)));
        assert_eq!(sent, r);
        assert!(p.revalidating());
        // Another URL, another header: other entries.
        assert!(matches!(
            c.lookup(&get("http://h/b"), None, t0),
            Lookup::Send { .. }
        ));
        let mut authed = get("http://h/a");
        authed
            .headers
            .push(("Authorization".into(), "Bearer t".into()));
        assert!(matches!(c.lookup(&authed, None, t0), Lookup::Send { .. }));
    }

    #[test]
    fn expires_counts_from_date_when_there_is_no_max_age() {
        let c = cache();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(t0);
        let expires = httpdate::fmt_http_date(at(t0, 30));
        let r = get("http://h/e");
        let (_, p) = send(c.lookup(&r, None, t0));
        c.store(
            p,
            &r,
            &reply(200, &[("date", &date), ("expires", &expires)], "x"),
            t0,
        );
        assert!(matches!(c.lookup(&r, None, at(t0, 29)), Lookup::Fresh(_)));
        assert!(matches!(
            c.lookup(&r, None, at(t0, 31)),
            Lookup::Send { .. }
        ));
        // max-age wins over Expires.
        let r = get("http://h/e2");
        let (_, p) = send(c.lookup(&r, None, t0));
        c.store(
            p,
            &r,
            &reply(
                200,
                &[
                    ("date", &date),
                    ("expires", &expires),
                    ("cache-control", "max-age=5"),
                ],
                "x",
            ),
            t0,
        );
        assert!(matches!(c.lookup(&r, None, at(t0, 6)), Lookup::Send { .. }));
    }

    #[test]
    fn no_store_errors_vary_star_and_bare_answers_are_not_kept() {
        let c = cache();
        let t0 = SystemTime::now();
        let r = get("http://h/a");
        for a in [
            reply(200, &[("cache-control", "no-store, max-age=60")], "x"),
            reply(201, &[("cache-control", "max-age=60")], "x"),
            // No lifetime, no validator: heuristic freshness is none.
            reply(200, &[], "x"),
            reply(
                200,
                &[
                    ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
                    ("cache-control", "no-store"),
                ],
                "x",
            ),
            reply(200, &[("cache-control", "max-age=60"), ("vary", "*")], "x"),
        ] {
            let (_, p) = send(c.lookup(&r, None, t0));
            c.store(p, &r, &a, t0);
            let (sent, p) = send(c.lookup(&r, None, t0));
            assert_eq!((sent, p.revalidating()), (r.clone(), false), "{a:?}");
        }
    }

    #[test]
    fn etag_and_last_modified_revalidate_and_a_304_renews_the_answer() {
        let c = cache();
        let t0 = SystemTime::now();
        let r = get("http://h/a");
        let (_, p) = send(c.lookup(&r, None, t0));
        let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
        let a = reply(
            200,
            &[
                ("cache-control", "no-cache"),
                ("etag", "\"v1\""),
                ("last-modified", lm),
                ("content-type", "application/json"),
            ],
            "[1]",
        );
        c.store(p, &r, &a, t0);
        let (sent, p) = send(c.lookup(&r, None, t0));
        assert_eq!(request_header(&sent, "if-none-match"), Some("\"v1\""));
        assert_eq!(request_header(&sent, "if-modified-since"), Some(lm));
        let back = c
            .revalidated(
                p,
                &r,
                &reply(
                    304,
                    &[("cache-control", "max-age=5"), ("etag", "\"v1\"")],
                    "",
                ),
                at(t0, 1),
            )
            .unwrap();
        assert_eq!((back.status, back.body.as_str()), (200, "[1]"));
        assert_eq!(back.json, Some(json!([1])));
        assert_eq!(
            header(&back.headers, "content-type"),
            Some("application/json")
        );
        // The 304's max-age now makes it fresh.
        assert!(matches!(c.lookup(&r, None, at(t0, 2)), Lookup::Fresh(_)));
        assert!(matches!(c.lookup(&r, None, at(t0, 7)), Lookup::Send { .. }));
    }

    #[test]
    fn requests_a_cache_must_not_answer() {
        let c = cache();
        let t0 = SystemTime::now();
        let mut post = get("http://h/a");
        post.method = "POST".into();
        assert_eq!(c.lookup(&post, None, t0), Lookup::Bypass);
        let mut own = get("http://h/a");
        own.headers.push(("If-None-Match".into(), "\"x\"".into()));
        assert_eq!(c.lookup(&own, None, t0), Lookup::Bypass);
        let mut no_store = get("http://h/a");
        no_store
            .headers
            .push(("Cache-Control".into(), "no-store".into()));
        assert_eq!(c.lookup(&no_store, None, t0), Lookup::Bypass);
        // `Cache-Control: no-cache` on the request: revalidate, never a fresh hit.
        let r = get("http://h/a");
        let (_, p) = send(c.lookup(&r, None, t0));
        let a = reply(
            200,
            &[("cache-control", "max-age=60"), ("etag", "\"e\"")],
            "x",
        );
        c.store(p, &r, &a, t0);
        let mut again = get("http://h/a");
        again
            .headers
            .push(("cache-control".into(), "no-cache".into()));
        let (sent, _) = send(c.lookup(&again, None, t0));
        assert_eq!(request_header(&sent, "if-none-match"), Some("\"e\""));
    }

    fn durable_cache(masker: Arc<Masker>) -> (Arc<Shelf>, HttpCache) {
        let shelf = Arc::new(Shelf::default());
        let c = HttpCache::new(Some(shelf.clone() as Arc<dyn HttpCacheStore>), masker);
        (shelf, c)
    }

    #[test]
    fn across_runs_only_what_holds_no_credential_or_secret() {
        let masker = Arc::new(Masker::new());
        masker.add("canary-secret-value");
        let (shelf, c) = durable_cache(masker.clone());
        let t0 = SystemTime::now();
        let cc = [("cache-control", "max-age=60")];
        let stored = |c: &HttpCache, r: &Request, injected, a: &Response| {
            let (_, p) = send(c.lookup(r, injected, t0));
            c.store(p, r, a, t0);
        };
        // Plain: kept.
        stored(&c, &get("http://h/plain"), None, &reply(200, &cc, "ok"));
        assert_eq!(shelf.0.lock().unwrap().len(), 1);
        // Credentials, not public: only in memory.
        let mut authed = get("http://h/authed");
        authed
            .headers
            .push(("authorization".into(), "Bearer abc".into()));
        stored(&c, &authed, None, &reply(200, &cc, "ok"));
        let mut keyed = get("http://h/keyed");
        keyed.headers.push(("X-Key".into(), "k".into()));
        stored(&c, &keyed, Some("x-key"), &reply(200, &cc, "ok"));
        assert_eq!(shelf.0.lock().unwrap().len(), 1);
        assert!(matches!(c.lookup(&authed, None, t0), Lookup::Fresh(_)));
        // A secret in the body or a header, or a cookie: only in memory.
        let plain = get("http://h/body");
        stored(&c, &plain, None, &reply(200, &cc, "canary-secret-value"));
        stored(
            &c,
            &get("http://h/hdr"),
            None,
            &reply(200, &[cc[0], ("x-echo", "canary-secret-value")], "ok"),
        );
        stored(
            &c,
            &get("http://h/cookie"),
            None,
            &reply(200, &[cc[0], ("set-cookie", "s=1")], "ok"),
        );
        assert_eq!(shelf.0.lock().unwrap().len(), 1);
        // Public: kept, under a key without the credential.
        let c = HttpCache::new(
            Some(shelf.clone() as Arc<dyn HttpCacheStore>),
            masker.clone(),
        );
        stored(
            &c,
            &authed,
            None,
            &reply(200, &[("cache-control", "public, max-age=60")], "shared"),
        );
        assert_eq!(shelf.0.lock().unwrap().len(), 2);
        // A later run (another memory) finds both.
        let c2 = HttpCache::new(Some(shelf.clone() as Arc<dyn HttpCacheStore>), masker);
        assert!(matches!(
            c2.lookup(&get("http://h/plain"), None, t0),
            Lookup::Fresh(_)
        ));
        match c2.lookup(&authed, None, t0) {
            Lookup::Fresh(r) => assert_eq!(r.body, "shared"),
            other => panic!("{other:?}"),
        }
        // Not the body that had a secret.
        assert!(matches!(c2.lookup(&plain, None, t0), Lookup::Send { .. }));
    }

    #[test]
    fn an_answer_no_longer_storable_is_forgotten_across_runs_too() {
        let (shelf, c) = durable_cache(Arc::new(Masker::new()));
        let t0 = SystemTime::now();
        let r = get("http://h/a");
        let (_, p) = send(c.lookup(&r, None, t0));
        c.store(
            p,
            &r,
            &reply(200, &[("cache-control", "max-age=1")], "1"),
            t0,
        );
        assert_eq!(shelf.0.lock().unwrap().len(), 1);
        let (_, p) = send(c.lookup(&r, None, at(t0, 5)));
        c.store(
            p,
            &r,
            &reply(200, &[("cache-control", "no-store")], "2"),
            at(t0, 5),
        );
        assert!(shelf.0.lock().unwrap().is_empty());
    }
}
