//! The `middleware:` toggles of orchestration.yaml against a real server on
//! 127.0.0.1: `authentication` off sends no credentials, `caching` reuses
//! GET responses within a run as `Cache-Control`/`ETag` allow.

use std::path::Path;

use orch_testserver::TestServer;
use serde_json::Value as Json;

use crate::common::{events, orch_in, project};

struct Run {
    code: Option<i32>,
    events: Vec<Json>,
    stderr: String,
}

fn run(dir: &Path, env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut c = orch_in(dir, home.path());
    c.args(["run", "w.yaml", "--output", "json"])
        // No keyring: a credential not in the environment is missing, fast.
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Run {
        code: out.status.code(),
        events: events(&out.stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Two services with bearer credentials: `present-token` is given by the
/// test, `absent-token` never is.
fn auth_config(srv: &TestServer, middleware: &str) -> String {
    format!(
        r#"orchestration:
  middleware: {middleware}
  services:
    - id: given
      base_url: {base}
      auth: {{ type: bearer, credential: present-token }}
      endpoints: [ {{ id: e, path: /echo/given }} ]
    - id: absent
      base_url: {base}
      auth: {{ type: api_key, header: X-Api-Key, credential: absent-token }}
      endpoints: [ {{ id: e, path: /echo/absent }} ]
"#,
        base = srv.base_url()
    )
}

const AUTH_WF: &str = r#"
name: auth
steps:
  - { id: a, call: { service: given, endpoint: e } }
  - { id: b, call: { service: absent, endpoint: e } }
"#;

#[test]
fn authentication_off_sends_no_credentials_and_needs_none() {
    let srv = TestServer::start();
    let cfg = auth_config(&srv, "[ { id: authentication, enabled: false } ]");
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", AUTH_WF)]);
    let r = run(p.path(), &[("ORCH_SECRET_PRESENT_TOKEN", "bearer-value-1")]);
    assert_eq!(r.code, Some(0), "{}\n{:?}", r.stderr, r.events);
    let reqs = srv.requests();
    for path in ["/echo/given", "/echo/absent"] {
        let q = reqs
            .iter()
            .find(|q| q.path == path)
            .unwrap_or_else(|| panic!("no request to {path}: {reqs:?}"));
        assert_eq!(q.header("authorization"), None, "{q:?}");
        assert_eq!(q.header("x-api-key"), None, "{q:?}");
    }
}

#[test]
fn authentication_on_by_default_still_injects_and_requires_credentials() {
    // The same run with the middleware listed as enabled: the given
    // credential is sent, the absent one fails its step.
    let srv = TestServer::start();
    let cfg = auth_config(&srv, "[ { id: authentication, enabled: true } ]");
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", AUTH_WF)]);
    let r = run(p.path(), &[("ORCH_SECRET_PRESENT_TOKEN", "bearer-value-1")]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let given = srv
        .requests()
        .into_iter()
        .find(|q| q.path == "/echo/given")
        .unwrap();
    assert_eq!(given.header("authorization"), Some("Bearer bearer-value-1"));
    assert_eq!(srv.count("/echo/absent"), 0);
}

/// Two `http` GETs of the same URL, one after the other, and a `call` GET
/// of it through a service; each step's `json.n` (the server's count of
/// requests for the key) as outputs.
fn cache_run(srv: &TestServer, middleware: &str, query: &str) -> (Run, Vec<Json>) {
    let url = srv.url(&format!("/cacheable/k?{query}"));
    let cfg = format!(
        r#"orchestration:
  middleware: {middleware}
  services:
    - id: svc
      base_url: {base}
      endpoints: [ {{ id: e, path: "/cacheable/k?{query}" }} ]
"#,
        base = srv.base_url()
    );
    let wf = format!(
        r#"
name: cache
steps:
  - {{ id: a, http: {{ url: "{url}" }} }}
  - {{ id: b, needs: a, http: {{ url: "{url}" }} }}
  - {{ id: c, needs: b, call: {{ service: svc, endpoint: e }} }}
outputs:
  ns: ${{{{ [steps.a.json.n, steps.b.json.n, steps.c.json.n] }}}}
"#
    );
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", &wf)]);
    let r = run(p.path(), &[]);
    assert_eq!(r.code, Some(0), "{}\n{:?}", r.stderr, r.events);
    let ns = r
        .events
        .iter()
        .find_map(|e| e["outputs"]["ns"].as_array().cloned())
        .unwrap_or_else(|| panic!("no outputs: {:?}", r.events));
    (r, ns)
}

#[test]
fn caching_serves_a_fresh_get_without_a_request() {
    let srv = TestServer::start();
    let (r, ns) = cache_run(&srv, "[ { id: caching } ]", "cc=max-age%3D60");
    assert_eq!(srv.count("/cacheable/k"), 1, "{:?}", r.events);
    // Every step sees the body of the one request.
    assert_eq!(ns, vec![Json::from(1), Json::from(1), Json::from(1)]);
}

#[test]
fn caching_revalidates_with_the_etag_and_reuses_the_body_on_304() {
    let srv = TestServer::start();
    let (_, ns) = cache_run(&srv, "[ { id: caching } ]", "cc=no-cache&etag=v1");
    let reqs: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|q| q.path == "/cacheable/k")
        .collect();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(reqs[0].header("if-none-match"), None);
    assert_eq!(reqs[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(reqs[2].header("if-none-match"), Some("\"v1\""));
    // The 304s carry no body: the first answer's is reused.
    assert_eq!(ns, vec![Json::from(1), Json::from(1), Json::from(1)]);
}

#[test]
fn without_caching_or_with_no_store_every_get_reaches_the_server() {
    for (middleware, query) in [
        (
            "[ { id: caching, enabled: false } ]",
            "cc=max-age%3D60&etag=v1",
        ),
        // Not listed: off.
        ("[]", "cc=max-age%3D60&etag=v1"),
        ("[ { id: caching } ]", "cc=no-store"),
    ] {
        let srv = TestServer::start();
        let (_, ns) = cache_run(&srv, middleware, query);
        let reqs = srv.requests();
        assert_eq!(srv.count("/cacheable/k"), 3, "{middleware} {query}");
        assert!(reqs.iter().all(|q| q.header("if-none-match").is_none()));
        assert_eq!(ns, vec![Json::from(1), Json::from(2), Json::from(3)]);
    }
}
