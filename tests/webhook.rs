//! The progress webhook: every event POSTed as JSON, never slowing or
//! failing the run; what could not be delivered is counted.

use std::time::{Duration, Instant};

use orch_testserver::TestServer;
use serde_json::Value as Json;

use crate::common::{events, orch_in, project};

const WF: &str = r#"
name: hooked
steps:
  - id: a
    run: echo one
  - id: b
    needs: a
    run: echo two
"#;

#[test]
fn every_event_is_posted_in_order() {
    let srv = TestServer::start();
    let p = project(&[("w.yaml", WF)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .env(
            "ORCHESTRATION_PROGRESS_WEBHOOK_URL",
            srv.url("/echo/hook?token=abc"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed = events(&out.stdout);
    let posted: Vec<Json> = srv
        .requests()
        .iter()
        .filter(|r| r.path == "/echo/hook")
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.header("content-type"), Some("application/json"));
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect();
    assert_eq!(posted, printed);
    assert!(posted.len() >= 6);
    // Nothing to report when everything arrived.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("webhook"));
}

#[test]
fn telemetry_webhook_url_from_the_config() {
    let srv = TestServer::start();
    let cfg = format!(
        "orchestration:\n  telemetry:\n    webhook_url: {}\n",
        srv.url("/echo/cfg-hook")
    );
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", WF)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .success();
    let n = srv.count("/echo/cfg-hook");
    assert!(n >= 6, "{n} events posted");
}

#[test]
fn an_unreachable_webhook_neither_fails_nor_stalls_the_run() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = project(&[("w.yaml", WF)]);
    let home = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .env(
            "ORCHESTRATION_PROGRESS_WEBHOOK_URL",
            format!("http://127.0.0.1:{port}/hook?token=s3cr3t"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("progress events could not be delivered to the webhook at http://127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn a_hanging_webhook_does_not_slow_the_steps() {
    let srv = TestServer::start();
    let p = project(&[("w.yaml", WF)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .env(
            "ORCHESTRATION_PROGRESS_WEBHOOK_URL",
            srv.url("/slow?ms=20000"),
        )
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let evs = events(&out.stdout);
    let ended = evs.last().unwrap();
    assert_eq!(ended["event"], "orchestration.run.completed");
    // The steps ran at full speed; only the end waited (briefly) for delivery.
    assert!(ended["duration_ms"].as_u64().unwrap() < 2000, "{ended}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not be delivered"), "{err}");
}
