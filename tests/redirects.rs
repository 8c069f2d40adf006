//! Redirects of `http` steps against real servers on 127.0.0.1: followed up
//! to 10, credentials dropped across hosts, a loop is `error.kind ==
//! 'redirect'` and not retried, `follow_redirects: false` shows the 3xx.

use orch_testserver::TestServer;
use serde_json::Value as Json;

use crate::common::{events, orch_in, project};

struct Run {
    code: Option<i32>,
    events: Vec<Json>,
    stderr: String,
    /// `orch show last --json`
    shown: Json,
}

fn run(wf: &str) -> Run {
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .output()
        .unwrap();
    let shown = orch_in(home.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        events: events(&out.stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        shown: serde_json::from_slice(&shown.stdout).unwrap_or(Json::Null),
    }
}

/// The last event about `step` (its end).
fn end<'a>(r: &'a Run, step: &str) -> &'a Json {
    r.events
        .iter()
        .rev()
        .find(|e| e["step_id"] == step)
        .unwrap_or_else(|| panic!("no event for {step}: {:?}", r.events))
}

fn outputs<'a>(r: &'a Run, step: &str) -> &'a Json {
    let steps = r.shown["steps"].as_array().expect("steps");
    let s = steps
        .iter()
        .find(|s| s["id"] == step || s["step_id"] == step)
        .unwrap_or_else(|| panic!("no step {step}: {}", r.shown));
    &s["outputs"]
}

#[test]
fn a_redirect_loop_is_its_own_kind_and_is_not_retried_by_default() {
    let srv = TestServer::start();
    let wf = format!(
        r#"
name: loop
defaults:
  retry: {{ max_attempts: 3, base_delay: 10ms }}
steps:
  - id: plain
    http: {{ url: "{a}" }}
    continue_on_error: true
  - id: asked
    http: {{ url: "{b}" }}
    retry: {{ max_attempts: 2, base_delay: 10ms, condition: "${{{{ error.kind == 'redirect' }}}}" }}
    continue_on_error: true
"#,
        a = srv.url("/redirect-loop/a"),
        b = srv.url("/redirect-loop/b"),
    );
    let r = run(&wf);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // One attempt: the first request and the 10 redirects it followed.
    assert_eq!(srv.count("/redirect-loop/a"), 11);
    let plain = end(&r, "plain");
    assert_eq!(plain["status"], "failed", "{plain}");
    let msg = plain["error"].as_str().unwrap();
    assert!(msg.contains("too many redirects"), "{msg}");
    assert!(!msg.contains("error sending request"), "{msg}");
    // A condition sees the kind by its own name and may still retry.
    assert_eq!(srv.count("/redirect-loop/b"), 22);
    assert!(!r
        .events
        .iter()
        .any(|e| e["event"] == "orchestration.step.retrying" && e["step_id"] == "plain"));
}

#[test]
fn redirects_are_followed_and_credentials_stay_on_their_host() {
    let a = TestServer::start();
    let b = TestServer::start();
    let headers = r#"{ Authorization: "Bearer s3cret", Cookie: "c=1", X-Trace: "t-1" }"#;
    let wf = format!(
        r#"
name: follow
steps:
  - id: chain
    http: {{ url: "{chain}" }}
    outputs:
      r: ${{{{ steps.chain.json.redirected }}}}
  - id: same
    http: {{ url: "{same}", headers: {headers} }}
    outputs:
      auth: ${{{{ steps.same.json.headers.authorization }}}}
  - id: cross
    http: {{ url: "{cross}", headers: {headers} }}
"#,
        chain = a.url("/redirect/3"),
        same = a.url("/redirect-to?url=/echo/same"),
        cross = a.url(&format!("/redirect-to?url={}", b.url("/echo/cross"))),
    );
    let r = run(&wf);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(a.count("/redirect/0"), 1);
    assert_eq!(outputs(&r, "chain")["r"], true);
    // Same host and port: the credentials follow.
    assert_eq!(outputs(&r, "same")["auth"], "Bearer s3cret");
    // Another port is another host: they are dropped, other headers are not.
    let got = b
        .requests()
        .into_iter()
        .find(|q| q.path == "/echo/cross")
        .expect("the redirect reached the second server");
    assert_eq!(got.header("authorization"), None, "{:?}", got.headers);
    assert_eq!(got.header("cookie"), None, "{:?}", got.headers);
    assert_eq!(got.header("x-trace"), Some("t-1"), "{:?}", got.headers);
}

#[test]
fn follow_redirects_false_makes_the_3xx_the_answer() {
    let srv = TestServer::start();
    let wf = format!(
        r#"
name: manual
steps:
  - id: see
    http: {{ url: "{url}", follow_redirects: false, expect_status: 302 }}
    outputs:
      to: ${{{{ steps.see.headers.location }}}}
      code: ${{{{ steps.see.http_status }}}}
  - id: unexpected
    http: {{ url: "{url}", follow_redirects: false }}
    retry: {{ max_attempts: 3, base_delay: 10ms }}
    continue_on_error: true
  - id: follows
    http: {{ url: "{url}", follow_redirects: true }}
"#,
        url = srv.url("/redirect/2"),
    );
    let r = run(&wf);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let out = outputs(&r, "see");
    assert_eq!(out["to"], "/redirect/1", "{out}");
    assert_eq!(out["code"], 302, "{out}");
    // A 3xx that was not expected is a status failure, never retried.
    let un = end(&r, "unexpected");
    assert_eq!(un["status"], "failed", "{un}");
    assert_eq!(un["http_status"], 302, "{un}");
    // 1 (see) + 1 (unexpected) + 1 (follows) requests to /redirect/2, and
    // only the step that follows went further.
    assert_eq!(srv.count("/redirect/2"), 3);
    assert_eq!(srv.count("/redirect/1"), 1);
    assert_eq!(srv.count("/redirect/0"), 1);
}

#[test]
fn follow_redirects_must_be_a_boolean() {
    let wf = "name: bad\nsteps:\n  - id: s\n    http: { url: \"http://127.0.0.1:1/\", follow_redirects: sometimes }\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["validate", "w.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("follow_redirects"), "{err}");
    assert!(err.contains("w.yaml:4:"), "{err}");
}
