//! The `caching` middleware across runs: answers kept in the history
//! database by one `orch run` serve the next (while fresh, revalidated when
//! stale), never what must not be stored or holds a credential or secret.

use std::path::Path;
use std::time::{Duration, Instant};

use orch_testserver::TestServer;
use serde_json::Value as Json;

use crate::common::{events, orch_in, project};

struct Run {
    code: Option<i32>,
    events: Vec<Json>,
    stderr: String,
}

impl Run {
    /// The workflow's `ns` output: each step's `json.n`.
    fn ns(&self) -> Vec<Json> {
        self.events
            .iter()
            .find_map(|e| e["outputs"]["ns"].as_array().cloned())
            .unwrap_or_else(|| panic!("no outputs: {}\n{:?}", self.stderr, self.events))
    }
}

fn run(dir: &Path, home: &Path, env: &[(&str, &str)]) -> Run {
    let mut c = orch_in(dir, home);
    c.args(["run", "w.yaml", "--output", "json"])
        // No keyring: a credential not in the environment is missing, fast.
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let r = Run {
        code: out.status.code(),
        events: events(&out.stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(r.code, Some(0), "{}\n{:?}", r.stderr, r.events);
    r
}

const CACHING: &str = "orchestration:\n  middleware: [ { id: caching } ]\n";

/// One `http` GET of `/cacheable/k?{query}`.
fn one_get(srv: &TestServer, query: &str) -> tempfile::TempDir {
    let url = srv.url(&format!("/cacheable/k?{query}"));
    let wf = format!(
        "name: c\nsteps:\n  - {{ id: a, http: {{ url: \"{url}\" }} }}\n\
         outputs:\n  ns: ${{{{ [steps.a.json.n] }}}}\n"
    );
    project(&[("orchestration.yaml", CACHING), ("w.yaml", &wf)])
}

fn n(v: u64) -> Vec<Json> {
    vec![Json::from(v)]
}

#[test]
fn a_fresh_answer_serves_the_next_run_without_a_request() {
    for query in ["cc=max-age%3D600", "expires=600"] {
        let srv = TestServer::start();
        let p = one_get(&srv, query);
        let home = tempfile::tempdir().unwrap();
        assert_eq!(run(p.path(), home.path(), &[]).ns(), n(1));
        let second = run(p.path(), home.path(), &[]);
        assert_eq!(srv.count("/cacheable/k"), 1, "{query}");
        assert_eq!(second.ns(), n(1), "{query}: the first run's body");
        // Step output goes to stderr with `--output json`.
        assert!(
            second.stderr.contains("→ 200 (cached)"),
            "{}",
            second.stderr
        );
    }
}

#[test]
fn with_history_in_memory_the_cache_lasts_one_run() {
    let srv = TestServer::start();
    let p = one_get(&srv, "cc=max-age%3D600");
    let home = tempfile::tempdir().unwrap();
    let mem = [("ORCH_HISTORY", "memory")];
    assert_eq!(run(p.path(), home.path(), &mem).ns(), n(1));
    assert_eq!(run(p.path(), home.path(), &mem).ns(), n(2));
}

#[test]
fn a_stale_answer_is_revalidated_and_a_304_reuses_its_body() {
    for (query, header, value) in [
        ("lm=1", "if-modified-since", orch_testserver::LAST_MODIFIED),
        ("cc=max-age%3D0&etag=v1", "if-none-match", "\"v1\""),
        ("cc=no-cache&etag=v1", "if-none-match", "\"v1\""),
    ] {
        let srv = TestServer::start();
        let p = one_get(&srv, query);
        let home = tempfile::tempdir().unwrap();
        run(p.path(), home.path(), &[]);
        let second = run(p.path(), home.path(), &[]);
        let reqs: Vec<_> = srv
            .requests()
            .into_iter()
            .filter(|q| q.path == "/cacheable/k")
            .collect();
        assert_eq!(reqs.len(), 2, "{query}");
        assert_eq!(reqs[0].header(header), None, "{query}");
        assert_eq!(reqs[1].header(header), Some(value), "{query}");
        // The 304 has no body: the first run's is the step's.
        assert_eq!(second.ns(), n(1), "{query}");
    }
}

/// Every byte under `home` (the database, its WAL, the logs).
fn all_bytes(home: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dirs = vec![home.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.extend(b);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn cleared(dir: &Path, home: &Path) -> String {
    let out = orch_in(dir, home)
        .args(["cache", "clear"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_store_is_never_stored() {
    let srv = TestServer::start();
    let p = one_get(&srv, "cc=no-store&etag=v1");
    let home = tempfile::tempdir().unwrap();
    run(p.path(), home.path(), &[]);
    assert_eq!(run(p.path(), home.path(), &[]).ns(), n(2));
    assert!(srv
        .requests()
        .iter()
        .all(|q| q.header("if-none-match").is_none()));
    assert!(cleared(p.path(), home.path()).contains(" and 0 cached HTTP answers"));
}

const CANARY: &str = "canary-cache-7f3a9c";

/// Two `call`s of one GET through a service with a bearer credential.
fn credentialed(srv: &TestServer, cc: &str) -> tempfile::TempDir {
    let cfg = format!(
        r#"orchestration:
  middleware: [ {{ id: caching }} ]
  services:
    - id: svc
      base_url: {base}
      auth: {{ type: bearer, credential: tok }}
      endpoints: [ {{ id: e, path: "/cacheable/k?cc={cc}" }} ]
"#,
        base = srv.base_url()
    );
    let wf = "name: c\nsteps:\n  - { id: a, call: { service: svc, endpoint: e } }\n  \
              - { id: b, needs: a, call: { service: svc, endpoint: e } }\n\
              outputs:\n  ns: ${{ [steps.a.json.n, steps.b.json.n] }}\n";
    project(&[("orchestration.yaml", &cfg), ("w.yaml", wf)])
}

#[test]
fn an_answer_to_credentials_stays_in_the_run_unless_public() {
    let env = [("ORCH_SECRET_TOK", CANARY)];
    let srv = TestServer::start();
    let p = credentialed(&srv, "max-age%3D600");
    let home = tempfile::tempdir().unwrap();
    // Within the run, the second call is the first's answer...
    assert_eq!(
        run(p.path(), home.path(), &env).ns(),
        vec![Json::from(1); 2]
    );
    // ...but the next run asks again: it was not written down.
    assert_eq!(
        run(p.path(), home.path(), &env).ns(),
        vec![Json::from(2); 2]
    );
    assert_eq!(srv.count("/cacheable/k"), 2);
    assert!(cleared(p.path(), home.path()).contains(" and 0 cached HTTP answers"));

    // `public`: the server says anyone may have it; kept, without the token.
    let srv = TestServer::start();
    let p = credentialed(&srv, "public%2C%20max-age%3D600");
    let home = tempfile::tempdir().unwrap();
    run(p.path(), home.path(), &env);
    assert_eq!(
        run(p.path(), home.path(), &env).ns(),
        vec![Json::from(1); 2]
    );
    assert_eq!(srv.count("/cacheable/k"), 1);
    let q = &srv.requests()[0];
    assert_eq!(
        q.header("authorization"),
        Some(&*format!("Bearer {CANARY}"))
    );
    let bytes = all_bytes(home.path());
    assert!(!contains(&bytes, CANARY), "the token was written");
    assert!(cleared(p.path(), home.path()).contains(" and 1 cached HTTP answer\n"));
}

#[test]
fn an_answer_holding_a_secret_is_never_written() {
    let hex: String = CANARY.bytes().map(|b| format!("{b:02x}")).collect();
    let srv = TestServer::start();
    let p = one_get(&srv, &format!("cc=max-age%3D600&say={hex}"));
    let home = tempfile::tempdir().unwrap();
    // Known to the masker, not sent: only the answer holds it.
    let env = [("ORCH_SECRET_CANARY", CANARY)];
    run(p.path(), home.path(), &env);
    assert_eq!(run(p.path(), home.path(), &env).ns(), n(2));
    assert!(!contains(&all_bytes(home.path()), CANARY));
    // The same answer without the secret known: kept.
    let srv = TestServer::start();
    let p = one_get(&srv, &format!("cc=max-age%3D600&say={hex}"));
    let home = tempfile::tempdir().unwrap();
    run(p.path(), home.path(), &[]);
    assert_eq!(run(p.path(), home.path(), &[]).ns(), n(1));
}

#[test]
fn a_kill_9_during_a_run_loses_no_answer_already_stored() {
    let srv = TestServer::start();
    let url = srv.url("/cacheable/k?cc=max-age%3D600");
    let get = format!("  - {{ id: a, http: {{ url: \"{url}\" }} }}\n");
    let p = project(&[
        ("orchestration.yaml", CACHING),
        (
            "long.yaml",
            &format!("name: c\nsteps:\n{get}  - {{ id: b, needs: a, run: 'touch b.started; sleep 30' }}\n"),
        ),
        (
            "w.yaml",
            &format!("name: c\nsteps:\n{get}outputs:\n  ns: ${{{{ [steps.a.json.n] }}}}\n"),
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let mut long = std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "long.yaml", "--output", "plain"])
        .current_dir(p.path())
        .env("ORCH_HOME", home.path())
        .env_remove("ORCH_HISTORY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `a` finished once `b` has started.
    let started = p.path().join("b.started");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    long.kill().unwrap();
    long.wait().unwrap();
    assert!(started.exists(), "b never started");
    assert_eq!(srv.count("/cacheable/k"), 1);
    // The next run finds the answer the killed one stored.
    assert_eq!(run(p.path(), home.path(), &[]).ns(), n(1));
    assert_eq!(srv.count("/cacheable/k"), 1);
}

#[test]
fn a_call_answered_by_the_cache_takes_no_rate_limit_token() {
    let srv = TestServer::start();
    // One request an hour: a second token would never come in this test.
    let cfg = format!(
        r#"orchestration:
  middleware: [ {{ id: caching }} ]
  services:
    - id: svc
      base_url: {base}
      rate_limit: {{ requests: 1, per: 1h }}
      endpoints: [ {{ id: e, path: "/cacheable/k?cc=max-age%3D600" }} ]
"#,
        base = srv.base_url()
    );
    // Should a hit wait for a token, the run ends at its timeout, failed.
    let wf =
        "name: c\ntimeout: 30s\nsteps:\n  - { id: a, call: { service: svc, endpoint: e } }\n  \
              - { id: b, needs: a, call: { service: svc, endpoint: e } }\n  \
              - { id: c, needs: b, call: { service: svc, endpoint: e } }\n\
              outputs:\n  ns: ${{ [steps.a.json.n, steps.b.json.n, steps.c.json.n] }}\n";
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[]);
    assert_eq!(r.ns(), vec![Json::from(1); 3]);
    assert_eq!(srv.count("/cacheable/k"), 1);
}
