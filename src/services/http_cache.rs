//! The `caching` middleware: GET responses of one run's `http` and `call`
//! steps kept in memory, as a private HTTP cache keeps them: fresh for
//! `Cache-Control: max-age` (less `Age`), revalidated with `If-None-Match`
//! when they carry an `ETag`, never kept for `no-store`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as Json};

use crate::http_client::{Body, Request, Response};

/// Bodies kept in all; past this, new responses are not stored.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// Request headers that make the request conditional or partial already:
/// the step asked for something a cache must not answer for it.
const OWN_CONDITIONS: &[&str] = &["if-none-match", "if-modified-since", "if-match", "range"];

#[derive(Default)]
pub(crate) struct HttpCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

struct Entry {
    response: Response,
    /// `None`: stale at once (`no-cache`, or no `max-age`).
    fresh_until: Option<Instant>,
    etag: Option<String>,
}

/// What the cache says about a request before it is sent.
#[derive(Debug, PartialEq)]
pub(crate) enum Lookup {
    /// Not for the cache (not a GET, or the step set its own conditions).
    Bypass,
    /// A fresh stored answer: send nothing.
    Fresh(Response),
    /// Send it, with `If-None-Match: etag` when one is stored; then
    /// [`HttpCache::store`] the answer or, on a 304, [`HttpCache::revalidated`].
    Send { key: String, etag: Option<String> },
}

/// The directives of a `Cache-Control` value, names lower-cased.
fn directives(v: Option<&str>) -> Vec<(String, Option<String>)> {
    v.unwrap_or("")
        .split(',')
        .filter_map(|d| {
            let d = d.trim();
            if d.is_empty() {
                return None;
            }
            let (name, arg) = match d.split_once('=') {
                Some((n, a)) => (n, Some(a.trim().trim_matches('"').to_string())),
                None => (d, None),
            };
            Some((name.trim().to_ascii_lowercase(), arg))
        })
        .collect()
}

fn has(ds: &[(String, Option<String>)], name: &str) -> bool {
    ds.iter().any(|(n, _)| n == name)
}

fn max_age(ds: &[(String, Option<String>)]) -> Option<u64> {
    ds.iter()
        .find(|(n, _)| n == "max-age")
        .and_then(|(_, a)| a.as_deref()?.parse().ok())
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

/// Everything that can change the answer (headers included, so a
/// credential splits the cache; not `Cache-Control`, which asks the cache
/// itself); hashed, so no secret is kept as a key.
fn key(req: &Request) -> String {
    let mut headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .filter(|(k, _)| k != "cache-control")
        .collect();
    headers.sort();
    let k = json!([
        req.url,
        req.query,
        headers,
        req.expect_status,
        req.follow_redirects
    ]);
    crate::digest::sha256_hex(k.to_string().as_bytes())
}

/// When a response stops being fresh: `max-age` less `Age`, counted from
/// `now`; `None` when it must be revalidated before each use.
fn fresh_until(headers: &Map<String, Json>, now: Instant) -> Option<Instant> {
    let ds = directives(header(headers, "cache-control"));
    if has(&ds, "no-cache") {
        return None;
    }
    let age = header(headers, "age")
        .and_then(|a| a.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let left = max_age(&ds)?.saturating_sub(age);
    (left > 0).then(|| now + Duration::from_secs(left))
}

impl HttpCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere leaves entries that are still whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lookup(&self, req: &Request, now: Instant) -> Lookup {
        if !req.method.eq_ignore_ascii_case("GET")
            || req.body != Body::None
            || OWN_CONDITIONS
                .iter()
                .any(|h| request_header(req, h).is_some())
        {
            return Lookup::Bypass;
        }
        let asked = directives(request_header(req, "cache-control"));
        if has(&asked, "no-store") {
            return Lookup::Bypass;
        }
        let key = key(req);
        let inner = self.lock();
        let Some(e) = inner.entries.get(&key) else {
            return Lookup::Send { key, etag: None };
        };
        let revalidate = has(&asked, "no-cache") || max_age(&asked) == Some(0);
        if !revalidate && e.fresh_until.is_some_and(|t| now < t) {
            return Lookup::Fresh(e.response.clone());
        }
        let etag = e.etag.clone();
        Lookup::Send { key, etag }
    }

    /// Keep a successful answer if its headers allow it.
    pub(crate) fn store(&self, key: &str, resp: &Response, now: Instant) {
        let ds = directives(header(&resp.headers, "cache-control"));
        let etag = header(&resp.headers, "etag").map(str::to_string);
        let fresh = fresh_until(&resp.headers, now);
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(key) {
            inner.bytes -= old.response.body.len();
        }
        if resp.status != 200
            || has(&ds, "no-store")
            || header(&resp.headers, "vary").is_some_and(|v| v.trim() == "*")
            // Neither reusable nor revalidatable: no point keeping it.
            || (fresh.is_none() && etag.is_none())
            || inner.bytes + resp.body.len() > MAX_BYTES
        {
            return;
        }
        inner.bytes += resp.body.len();
        inner.entries.insert(
            key.to_string(),
            Entry {
                response: resp.clone(),
                fresh_until: fresh,
                etag,
            },
        );
    }

    /// A 304 to a revalidation: the stored answer, its freshness renewed
    /// from the 304's headers (which replace the stored ones they name).
    pub(crate) fn revalidated(
        &self,
        key: &str,
        not_modified: &Map<String, Json>,
        now: Instant,
    ) -> Option<Response> {
        let mut inner = self.lock();
        let e = inner.entries.get_mut(key)?;
        for (k, v) in not_modified {
            // A 304 has no body: its framing headers say nothing of ours.
            if !matches!(
                k.as_str(),
                "content-length" | "content-type" | "content-encoding"
            ) {
                e.response.headers.insert(k.clone(), v.clone());
            }
        }
        e.fresh_until = fresh_until(&e.response.headers, now);
        if let Some(t) = header(&e.response.headers, "etag") {
            e.etag = Some(t.to_string());
        }
        Some(e.response.clone())
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

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Json::from(*v)))
                .collect(),
            body: body.into(),
            json: None,
            retry_after: None,
        }
    }

    fn key_of(l: Lookup) -> (String, Option<String>) {
        match l {
            Lookup::Send { key, etag } => (key, etag),
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn max_age_makes_a_fresh_hit_until_it_runs_out() {
        let c = HttpCache::default();
        let t0 = Instant::now();
        let r = get("http://h/a");
        let (k, etag) = key_of(c.lookup(&r, t0));
        assert_eq!(etag, None);
        let a = answer(
            200,
            &[("cache-control", "public, max-age=60"), ("age", "10")],
            "x",
        );
        c.store(&k, &a, t0);
        assert_eq!(c.lookup(&r, t0 + Duration::from_secs(49)), Lookup::Fresh(a));
        // max-age less Age: stale after 50 s, and nothing to revalidate with.
        assert_eq!(key_of(c.lookup(&r, t0 + Duration::from_secs(50))).1, None);
        // Another URL, another header: other entries.
        assert!(matches!(
            c.lookup(&get("http://h/b"), t0),
            Lookup::Send { .. }
        ));
        let mut authed = get("http://h/a");
        authed
            .headers
            .push(("Authorization".into(), "Bearer t".into()));
        assert!(matches!(c.lookup(&authed, t0), Lookup::Send { .. }));
    }

    #[test]
    fn no_store_errors_and_bare_answers_are_not_kept() {
        let c = HttpCache::default();
        let t0 = Instant::now();
        let r = get("http://h/a");
        let (k, _) = key_of(c.lookup(&r, t0));
        for a in [
            answer(200, &[("cache-control", "no-store, max-age=60")], "x"),
            answer(201, &[("cache-control", "max-age=60")], "x"),
            answer(200, &[], "x"),
            answer(200, &[("cache-control", "max-age=60"), ("vary", "*")], "x"),
        ] {
            c.store(&k, &a, t0);
            assert_eq!(key_of(c.lookup(&r, t0)), (k.clone(), None), "{a:?}");
        }
    }

    #[test]
    fn etag_revalidation_renews_the_stored_answer() {
        let c = HttpCache::default();
        let t0 = Instant::now();
        let r = get("http://h/a");
        let (k, _) = key_of(c.lookup(&r, t0));
        let a = answer(
            200,
            &[("cache-control", "no-cache"), ("etag", "\"v1\"")],
            "body",
        );
        c.store(&k, &a, t0);
        assert_eq!(key_of(c.lookup(&r, t0)), (k.clone(), Some("\"v1\"".into())));
        let back = c.revalidated(
            &k,
            &answer(304, &[("cache-control", "max-age=5")], "").headers,
            t0,
        );
        assert_eq!(back.as_ref().map(|b| b.body.as_str()), Some("body"));
        assert_eq!(back.map(|b| b.status), Some(200));
        // The 304's max-age now makes it fresh.
        assert!(matches!(c.lookup(&r, t0), Lookup::Fresh(_)));
    }

    #[test]
    fn requests_a_cache_must_not_answer() {
        let c = HttpCache::default();
        let t0 = Instant::now();
        let mut post = get("http://h/a");
        post.method = "POST".into();
        assert_eq!(c.lookup(&post, t0), Lookup::Bypass);
        let mut own = get("http://h/a");
        own.headers.push(("If-None-Match".into(), "\"x\"".into()));
        assert_eq!(c.lookup(&own, t0), Lookup::Bypass);
        let mut no_store = get("http://h/a");
        no_store
            .headers
            .push(("Cache-Control".into(), "no-store".into()));
        assert_eq!(c.lookup(&no_store, t0), Lookup::Bypass);
        // `Cache-Control: no-cache` on the request: revalidate, never a fresh hit.
        let r = get("http://h/a");
        let (k, _) = key_of(c.lookup(&r, t0));
        let a = answer(
            200,
            &[("cache-control", "max-age=60"), ("etag", "\"e\"")],
            "x",
        );
        c.store(&k, &a, t0);
        let mut again = get("http://h/a");
        again
            .headers
            .push(("cache-control".into(), "no-cache".into()));
        assert_eq!(key_of(c.lookup(&again, t0)), (k, Some("\"e\"".into())));
    }
}
