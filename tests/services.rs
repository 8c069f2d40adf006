//! `orch services` and `orch services check` against a local test server.

use std::time::{Duration, Instant};

use orch_testserver::TestServer;
use serde_json::{json, Value};

use crate::common::{orch, project};

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Five services: healthy, 503, connection refused, too slow, no check.
fn mixed_config(server: &TestServer) -> String {
    format!(
        "\
orchestration:
  services:
    - id: up
      base_url: {base}
      auth: {{ type: bearer, credential: up-token }}
      health_check: {{ path: /health }}
    - id: sick
      base_url: {base}/
      health_check: {{ path: /unhealthy, timeout: 2s }}
    - id: gone
      base_url: http://127.0.0.1:{closed}
      health_check: {{ path: /health, timeout: 2s }}
    - id: sluggish
      base_url: {base}
      health_check: {{ path: \"/slow?ms=3000\", timeout: 200ms }}
    - id: unchecked
      base_url: {base}
",
        base = server.base_url(),
        closed = closed_port(),
    )
}

#[test]
fn check_reports_every_service_and_fails_when_one_is_unhealthy() {
    let server = TestServer::start();
    let dir = project(&[("orchestration.yaml", &mixed_config(&server))]);
    let out = orch(dir.path())
        .args(["services", "check"])
        .output()
        .expect("run orch");
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{text}\nstderr:\n{err}"
    );

    let line = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no line for {id} in:\n{text}"))
            .to_string()
    };
    assert!(text.starts_with("SERVICE"), "{text}");
    assert!(line("up").contains("healthy") && line("up").contains("200 OK"));
    assert!(line("sick").contains("unhealthy"));
    assert!(line("sick").contains("503 Service Unavailable"));
    assert!(line("gone").contains("unhealthy"));
    assert!(
        line("gone").contains("connection refused"),
        "{}",
        line("gone")
    );
    assert!(line("sluggish").contains("unhealthy"));
    assert!(
        line("sluggish").contains("timed out after 200ms"),
        "{}",
        line("sluggish")
    );
    assert!(line("unchecked").contains("no check"));
    assert!(
        err.contains("1 healthy, 3 unhealthy, 1 without a health check"),
        "{err}"
    );

    insta::with_settings!({filters => vec![(r"\d+ms\n", "Nms\n")]}, {
        insta::assert_snapshot!(text, @r"
        SERVICE    STATUS     HTTP / ERROR             LATENCY
        up         healthy    200 OK                   Nms
        sick       unhealthy  503 Service Unavailable  Nms
        gone       unhealthy  connection refused       Nms
        sluggish   unhealthy  timed out after 200ms    Nms
        unchecked  no check   -                        -
        ");
    });

    // The health check sends no credentials and hits each path once.
    for r in server.requests() {
        assert_eq!(r.method, "GET");
        assert_eq!(r.header("authorization"), None, "{r:?}");
    }
    assert_eq!(server.count("/health"), 1);
    assert_eq!(server.count("/unhealthy"), 1);
    assert_eq!(server.count("/slow"), 1);
}

#[test]
fn check_json_shape() {
    let server = TestServer::start();
    let dir = project(&[("orchestration.yaml", &mixed_config(&server))]);
    let out = orch(dir.path())
        .args(["services", "check", "--json"])
        .output()
        .expect("run orch");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let rows = v.as_array().expect("an array");
    assert_eq!(rows.len(), 5);
    for r in rows {
        let mut keys: Vec<&str> = r
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["error", "healthy", "id", "latency_ms", "status", "url"],
            "{r}"
        );
    }
    let by_id = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {v}"))
            .clone()
    };
    let up = by_id("up");
    assert_eq!(up["url"], server.url("/health"));
    assert_eq!(up["healthy"], true);
    assert_eq!(up["status"], 200);
    assert_eq!(up["error"], Value::Null);
    assert!(up["latency_ms"].is_u64());

    let sick = by_id("sick");
    assert_eq!(
        (&sick["healthy"], &sick["status"]),
        (&json!(false), &json!(503))
    );
    // `base_url` ends in `/`: still one slash.
    assert_eq!(sick["url"], server.url("/unhealthy"));

    let gone = by_id("gone");
    assert_eq!(gone["healthy"], false);
    assert_eq!(gone["status"], Value::Null);
    assert_eq!(gone["error"], "connection refused");

    let slow = by_id("sluggish");
    assert_eq!(slow["healthy"], false);
    assert_eq!(slow["error"], "timed out after 200ms");
    let waited = slow["latency_ms"].as_u64().expect("latency");
    assert!((200..2000).contains(&waited), "{waited}");

    assert_eq!(
        by_id("unchecked"),
        json!({"id": "unchecked", "url": null, "healthy": null, "status": null,
               "error": null, "latency_ms": null})
    );
}

#[test]
fn all_healthy_exits_0_and_checks_run_concurrently() {
    let server = TestServer::start();
    let config = format!(
        "\
orchestration:
  services:
    - {{ id: a, base_url: {b}, health_check: {{ path: \"/slow?ms=400\" }} }}
    - {{ id: b, base_url: {b}, health_check: {{ path: \"/slow?ms=400\" }} }}
    - {{ id: c, base_url: {b}, health_check: {{ path: \"/slow?ms=400\" }} }}
    - {{ id: d, base_url: {b} }}
",
        b = server.base_url()
    );
    let dir = project(&[("orchestration.yaml", &config)]);
    let started = Instant::now();
    let out = orch(dir.path())
        .args(["services", "check"])
        .output()
        .expect("run orch");
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(server.count("/slow"), 3);
    assert!(
        took < Duration::from_millis(1200),
        "3 checks of 400ms each took {took:?}: not concurrent"
    );
    // Their requests all arrived before the first could have been answered.
    let reqs = server.requests();
    let spread = reqs[2].at.duration_since(reqs[0].at);
    assert!(spread < Duration::from_millis(300), "{spread:?}");
    assert!(stderr(&out).contains("3 healthy, 0 unhealthy, 1 without a health check"));

    // -q: the table only.
    let out = orch(dir.path())
        .args(["-q", "services", "check"])
        .output()
        .expect("run orch");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
}

const REGISTRY: &str = "\
orchestration:
  services:
    - id: summarizer
      name: Summarizer agent
      base_url: http://localhost:8081
      auth: { type: bearer, credential: summarizer-token }
      capabilities: [summarize]
      priority: 1
      timeout: 30s
      rate_limit: { requests: 10, per: 1s }
      circuit_breaker: { failure_threshold: 5, reset_timeout: 30s }
      health_check: { path: /health, interval: 60s, timeout: 2s }
      endpoints:
        - { id: summarize, method: POST, path: /v1/summarize,
            parameters: [ { name: text, in: body, required: true }, { name: lang, in: query } ] }
        - { id: status, method: GET, path: '/v1/jobs/{id}',
            parameters: [ { name: id, in: path, required: true } ] }
    - id: backup
      base_url: https://me:hunter2@backup.example.com/api
      auth: { type: api_key, header: X-Api-Key, credential: backup-key }
      capabilities: [summarize, translate]
      priority: 2
";

#[test]
fn lists_the_registry() {
    let dir = project(&[("orchestration.yaml", REGISTRY)]);
    let out = orch(dir.path())
        .args(["services"])
        .output()
        .expect("run orch");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("hunter2"), "{text}");
    insta::assert_snapshot!(text, @r"
    summarizer  Summarizer agent
      base_url      http://localhost:8081
      capabilities  summarize
      priority      1
      auth          bearer, credential `summarizer-token`
      timeout       30s
      rate limit    10 per 1s
      breaker       opens after 5 failures, half-open after 30s
      health check  GET /health every 1m, timeout 2s
      endpoints     summarize  POST /v1/summarize  text*, lang
                    status     GET /v1/jobs/{id}   id*

    backup
      base_url      https://me:***@backup.example.com/api
      capabilities  summarize, translate
      priority      2
      auth          api_key in header `X-Api-Key`, credential `backup-key`
      timeout       -
      rate limit    none
      breaker       none
      health check  none
      endpoints     none

    (* required parameter)
    ");
}

#[test]
fn lists_the_registry_as_json() {
    let dir = project(&[("orchestration.yaml", REGISTRY)]);
    let out = orch(dir.path())
        .args(["services", "--json"])
        .output()
        .expect("run orch");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        v[0],
        json!({
            "id": "summarizer",
            "name": "Summarizer agent",
            "base_url": "http://localhost:8081",
            "capabilities": ["summarize"],
            "priority": 1,
            "auth": {"type": "bearer", "credential": "summarizer-token"},
            "timeout_ms": 30000,
            "rate_limit": {"requests": 10, "per_ms": 1000},
            "circuit_breaker": {"failure_threshold": 5, "reset_timeout_ms": 30000},
            "health_check": {"path": "/health", "interval_ms": 60000, "timeout_ms": 2000},
            "endpoints": [
                {"id": "summarize", "method": "POST", "path": "/v1/summarize", "parameters": [
                    {"name": "text", "in": "body", "required": true},
                    {"name": "lang", "in": "query", "required": false}]},
                {"id": "status", "method": "GET", "path": "/v1/jobs/{id}", "parameters": [
                    {"name": "id", "in": "path", "required": true}]}
            ]
        })
    );
    assert_eq!(v[1]["id"], "backup");
    assert_eq!(v[1]["name"], Value::Null);
    assert_eq!(v[1]["base_url"], "https://me:***@backup.example.com/api");
    assert_eq!(
        v[1]["auth"],
        json!({"type": "api_key", "credential": "backup-key", "header": "X-Api-Key"})
    );
    assert_eq!(v[1]["health_check"], Value::Null);
    assert_eq!(v[1]["timeout_ms"], Value::Null);
    assert_eq!(v[1]["endpoints"], json!([]));
}

#[test]
fn no_services() {
    for files in [
        vec![],
        vec![(
            "orchestration.yaml",
            "orchestration:\n  pools: { gpu: 1 }\n",
        )],
    ] {
        let dir = project(&files);
        for args in [vec!["services"], vec!["services", "check"]] {
            let out = orch(dir.path()).args(&args).output().expect("run orch");
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
            assert_eq!(stdout(&out), "");
            assert!(stderr(&out).contains("no "), "{}", stderr(&out));
            let out = orch(dir.path())
                .args(&args)
                .arg("--json")
                .output()
                .expect("run orch");
            assert_eq!(out.status.code(), Some(0));
            assert_eq!(stdout(&out), "[]\n");
        }
    }
}

#[test]
fn an_invalid_config_exits_2() {
    let dir = project(&[(
        "orchestration.yaml",
        "orchestration:\n  services:\n    - { id: x }\n",
    )]);
    orch(dir.path()).args(["services"]).assert().code(2);
    orch(dir.path())
        .args(["services", "check"])
        .assert()
        .code(2);
}
