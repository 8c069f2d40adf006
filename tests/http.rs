//! `http` and `call` steps against a real server on 127.0.0.1: retry
//! classification, Retry-After, timeouts, resets, fallback by capability,
//! circuit breakers, rate limits, auth, required parameters, traceparent,
//! policies.

use std::path::Path;
use std::time::{Duration, Instant};

use orch_testserver::TestServer;
use serde_json::Value as Json;

use crate::common::{events, orch_in, project};

struct Run {
    code: Option<i32>,
    events: Vec<Json>,
    stderr: String,
    took: Duration,
}

fn run(dir: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let t = Instant::now();
    let mut c = orch_in(dir, home);
    c.args(["run", "w.yaml", "--output", "json"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Run {
        code: out.status.code(),
        events: events(&out.stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: t.elapsed(),
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

fn outputs(home: &Path) -> Json {
    let out = orch_in(home, home)
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn request_carries_method_headers_query_body_and_traceparent() {
    let srv = TestServer::start();
    let wf = format!(
        r#"
name: req
steps:
  - id: post
    http:
      url: {url}
      method: post
      headers: {{ X-Build: "${{{{ 40 + 2 }}}}" }}
      query: {{ page: 2, q: "a b" }}
      json: {{ n: 1, list: [1, 2] }}
    outputs:
      method: ${{{{ steps.post.json.method }}}}
      seen: ${{{{ steps.post.json.json.list[1] }}}}
  - id: form
    http: {{ url: {url}, method: PUT, form: {{ a: "1", b: "x y" }} }}
  - id: text
    http: {{ url: {text} }}
    outputs:
      body: ${{{{ steps.text.body }}}}
      code: ${{{{ steps.text.http_status }}}}
"#,
        url = srv.url("/echo"),
        text = srv.url("/text")
    );
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let reqs = srv.requests();
    let post = reqs.iter().find(|q| q.method == "POST").expect("POST seen");
    assert_eq!(post.header("x-build"), Some("42"));
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert!(post.query.contains("page=2"), "{}", post.query);
    assert!(post.query.contains("q=a+b"), "{}", post.query);
    let body: Json = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body, serde_json::json!({"n": 1, "list": [1, 2]}));
    let put = reqs.iter().find(|q| q.method == "PUT").expect("PUT seen");
    assert_eq!(put.body_str(), "a=1&b=x+y");
    assert_eq!(
        put.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );

    // W3C trace context: one trace per run, one span per attempt.
    let tps: Vec<&str> = reqs
        .iter()
        .map(|q| q.header("traceparent").expect("traceparent"))
        .collect();
    for tp in &tps {
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1].len(), 32);
        assert!(parts[1].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(parts[2].len(), 16);
        assert_eq!(parts[3], "01");
    }
    let trace = |tp: &str| tp.split('-').nth(1).unwrap().to_string();
    assert!(tps.iter().all(|t| trace(t) == trace(tps[0])));
    let spans: std::collections::HashSet<_> =
        tps.iter().map(|t| t.split('-').nth(2).unwrap()).collect();
    assert_eq!(spans.len(), tps.len());
    // The trace id is the run id (a ULID) in hex.
    let run_id = r.events[0]["run_id"].as_str().unwrap();
    let ulid: u128 = ulid_to_u128(run_id);
    assert_eq!(trace(tps[0]), format!("{ulid:032x}"));

    let show = outputs(home.path());
    let step = |id: &str| {
        show["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(step("post")["outputs"]["method"], "POST");
    assert_eq!(step("post")["outputs"]["seen"], 2);
    assert_eq!(step("post")["http_status"], 200);
    assert_eq!(step("text")["outputs"]["body"], "hello");
    assert_eq!(step("text")["outputs"]["code"], 200);
}

fn ulid_to_u128(s: &str) -> u128 {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    s.to_ascii_uppercase().chars().fold(0u128, |acc, c| {
        (acc << 5) | ALPHABET.find(c).expect("ULID character") as u128
    })
}

#[test]
fn default_retry_classification() {
    let srv = TestServer::start();
    let wf = format!(
        r#"
name: classify
defaults:
  retry: {{ max_attempts: 3, base_delay: 10ms }}
steps:
  - id: flaky
    http: {{ url: "{flaky}" }}
  - id: notfound
    http: {{ url: "{nf}" }}
    continue_on_error: true
  - id: conflict
    http: {{ url: "{conflict}" }}
    continue_on_error: true
  - id: unavailable
    http: {{ url: "{unavailable}" }}
    continue_on_error: true
  - id: timeout408
    http: {{ url: "{s408}" }}
    continue_on_error: true
  - id: reset
    http: {{ url: "{reset}" }}
    continue_on_error: true
  - id: expected
    http: {{ url: "{nf}", expect_status: [404] }}
"#,
        flaky = srv.url("/flaky/a?fail=2&code=502"),
        nf = srv.url("/status/404"),
        conflict = srv.url("/status/409"),
        unavailable = srv.url("/status/503"),
        s408 = srv.url("/status/408"),
        reset = srv.url("/reset"),
    );
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // 5xx retried until it succeeds.
    assert_eq!(srv.count("/flaky/a"), 3);
    assert_eq!(end(&r, "flaky")["status"], "succeeded");
    // Other 4xx are never retried; 404 is counted twice: once failing, once expected.
    assert_eq!(srv.count("/status/404"), 2);
    assert_eq!(srv.count("/status/409"), 1);
    // 503, 408 and a reset connection use every attempt.
    assert_eq!(srv.count("/status/503"), 3);
    assert_eq!(srv.count("/status/408"), 3);
    assert_eq!(srv.count("/reset"), 3);
    assert_eq!(end(&r, "expected")["status"], "succeeded");
    let nf = end(&r, "notfound");
    assert_eq!(nf["status"], "failed");
    assert_eq!(nf["http_status"], 404);
    assert!(nf["error"].as_str().unwrap().contains("HTTP 404"), "{nf}");
    let reset = end(&r, "reset");
    assert!(reset.get("http_status").is_none(), "{reset}");
    let retrying: Vec<&Json> = r
        .events
        .iter()
        .filter(|e| e["event"] == "orchestration.step.retrying" && e["step_id"] == "unavailable")
        .collect();
    assert_eq!(retrying.len(), 2);
}

#[test]
fn orchestration_retry_applies_to_http_steps_and_a_condition_decides() {
    let srv = TestServer::start();
    let cfg =
        "orchestration:\n  retry: { max_attempts: 2, delay_strategy: fixed, base_delay_ms: 10 }\n";
    let wf = format!(
        r#"
name: cond
steps:
  - id: by_config
    http: {{ url: "{u503}" }}
    continue_on_error: true
  - id: by_condition
    http: {{ url: "{u404}" }}
    retry:
      max_attempts: 4
      base_delay: 10ms
      condition: ${{{{ error.kind == 'http_status' && error.status == 404 && error.attempt < 3 }}}}
    continue_on_error: true
  - id: script
    run: exit 1
    continue_on_error: true
"#,
        u503 = srv.url("/status/503"),
        u404 = srv.url("/status/404"),
    );
    let p = project(&[("orchestration.yaml", cfg), ("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(srv.count("/status/503"), 2);
    assert_eq!(srv.count("/status/404"), 3);
    // `run` steps are not retried by orchestration.retry.
    assert_eq!(end(&r, "script")["attempt"], 1);
}

#[test]
fn retry_after_is_honoured_up_to_max_delay() {
    let srv = TestServer::start();
    let wf = format!(
        r#"
name: ra
steps:
  - id: honoured
    http: {{ url: "{a}" }}
    retry: {{ max_attempts: 2, base_delay: 10ms, max_delay: 5s }}
  - id: capped
    http: {{ url: "{b}" }}
    retry: {{ max_attempts: 2, base_delay: 10ms, max_delay: 300ms }}
"#,
        a = srv.url("/retry-after/a?secs=1"),
        b = srv.url("/retry-after/b?secs=30"),
    );
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let gap = |path: &str| {
        let at: Vec<Instant> = srv
            .requests()
            .iter()
            .filter(|q| q.path == path)
            .map(|q| q.at)
            .collect();
        assert_eq!(at.len(), 2, "{path}");
        at[1] - at[0]
    };
    let a = gap("/retry-after/a");
    assert!(a >= Duration::from_millis(900), "waited only {a:?}");
    let b = gap("/retry-after/b");
    assert!(
        b >= Duration::from_millis(250) && b < Duration::from_secs(5),
        "{b:?}"
    );
    let retry = r
        .events
        .iter()
        .find(|e| e["event"] == "orchestration.step.retrying" && e["step_id"] == "honoured")
        .unwrap();
    assert_eq!(retry["delay_ms"], 1000);
    assert_eq!(retry["http_status"], 429);
}

#[test]
fn a_slow_answer_times_out_and_counts_as_an_attempt() {
    let srv = TestServer::start();
    let wf = format!(
        r#"
name: slow
steps:
  - id: slow
    http: {{ url: "{u}" }}
    timeout: 200ms
    retry: {{ max_attempts: 2, base_delay: 10ms, condition: "${{{{ error.kind == 'timeout' }}}}" }}
"#,
        u = srv.url("/slow?ms=3000"),
    );
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(1));
    assert_eq!(srv.count("/slow"), 2);
    let e = end(&r, "slow");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 200ms"),
        "{e}"
    );
    assert!(r.took < Duration::from_secs(3), "{:?}", r.took);
}

fn services_config(srv: &TestServer, fallback: bool, extra: &str) -> String {
    format!(
        r#"orchestration:
  retry: {{ max_attempts: 2, base_delay_ms: 10 }}
  policies:
    fallback_on_error: {fallback}
  services:
    - id: primary
      base_url: {base}
      capabilities: [summarize]
      priority: 1
      endpoints:
        - {{ id: summarize, method: POST, path: /status/503,
            parameters: [ {{ name: text, in: body, required: true }} ] }}
    - id: secondary
      base_url: {base}
      capabilities: [summarize]
      priority: 2
      endpoints:
        - {{ id: summarize, method: POST, path: /echo/secondary,
            parameters: [ {{ name: text, in: body, required: true }} ] }}
{extra}"#,
        base = srv.base_url()
    )
}

const CALL: &str = r#"
name: call
steps:
  - id: sum
    call: { capability: summarize, endpoint: summarize, with: { text: "hello" } }
    outputs:
      who: ${{ steps.sum.service }}
      path: ${{ steps.sum.json.path }}
"#;

#[test]
fn capability_falls_over_to_the_next_service() {
    let srv = TestServer::start();
    let p = project(&[
        ("orchestration.yaml", &services_config(&srv, true, "")),
        ("w.yaml", CALL),
    ]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // The primary got its retries, then the secondary answered.
    assert_eq!(srv.count("/status/503"), 2);
    assert_eq!(srv.count("/echo/secondary"), 1);
    let echoed = srv
        .requests()
        .into_iter()
        .find(|q| q.path == "/echo/secondary")
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Json>(&echoed.body).unwrap(),
        serde_json::json!({"text": "hello"})
    );
    let show = outputs(home.path());
    let sum = &show["steps"][0];
    assert_eq!(sum["outputs"]["who"], "secondary");
    assert_eq!(sum["outputs"]["path"], "/echo/secondary");
    assert_eq!(sum["attempts"], 3);
}

#[test]
fn without_fallback_the_first_service_decides() {
    let srv = TestServer::start();
    let p = project(&[
        ("orchestration.yaml", &services_config(&srv, false, "")),
        ("w.yaml", CALL),
    ]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(1));
    assert_eq!(srv.count("/status/503"), 2);
    assert_eq!(srv.count("/echo/secondary"), 0);
    assert_eq!(end(&r, "sum")["http_status"], 503);
}

#[test]
fn circuit_breaker_opens_after_the_threshold_and_stays_open_for_the_next_run() {
    let srv = TestServer::start();
    let cfg = format!(
        r#"orchestration:
  services:
    - id: flaky
      base_url: {base}
      circuit_breaker: {{ failure_threshold: 3, reset_timeout: 1m }}
      endpoints:
        - {{ id: get, path: /status/500 }}
"#,
        base = srv.base_url()
    );
    let mut wf = String::from("name: breaker\nsteps:\n");
    for i in 0..6 {
        wf.push_str(&format!(
            "  - id: c{i}\n    call: {{ service: flaky, endpoint: get }}\n    retry: {{ max_attempts: 1 }}\n    continue_on_error: true\n"
        ));
        if i > 0 {
            wf.push_str(&format!("    needs: c{}\n", i - 1));
        }
    }
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // Exactly failure_threshold requests reached the server.
    assert_eq!(srv.count("/status/500"), 3);
    let e = end(&r, "c5");
    assert!(
        e["error"].as_str().unwrap().contains("circuit breaker"),
        "{e}"
    );
    // The next run remembers: nothing reaches the server.
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(srv.count("/status/500"), 3);
}

#[test]
fn rate_limit_is_shared_by_the_steps_of_a_run() {
    let srv = TestServer::start();
    let cfg = format!(
        r#"orchestration:
  services:
    - id: limited
      base_url: {base}
      rate_limit: {{ requests: 2, per: 1s }}
      endpoints:
        - {{ id: ok, path: /ok }}
"#,
        base = srv.base_url()
    );
    let mut wf = String::from("name: limited\nsteps:\n");
    for i in 0..6 {
        wf.push_str(&format!(
            "  - id: c{i}\n    call: {{ service: limited, endpoint: ok }}\n"
        ));
    }
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &["-j", "6"], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let mut at: Vec<Instant> = srv.requests().iter().map(|q| q.at).collect();
    at.sort();
    assert_eq!(at.len(), 6);
    // Two at once, then two per second: the sixth comes about 2 s after the first.
    let spread = at[5] - at[0];
    assert!(
        spread >= Duration::from_millis(1800) && spread < Duration::from_secs(10),
        "{spread:?}"
    );
    assert!(at[1] - at[0] < Duration::from_millis(500));
}

#[test]
fn auth_headers_come_from_credentials() {
    let srv = TestServer::start();
    let cfg = format!(
        r#"orchestration:
  services:
    - id: bearer
      base_url: {base}
      auth: {{ type: bearer, credential: tok-a }}
      endpoints: [ {{ id: e, path: /echo/bearer }} ]
    - id: basic
      base_url: {base}
      auth: {{ type: basic, credential: tok-b }}
      endpoints: [ {{ id: e, path: /echo/basic }} ]
    - id: key
      base_url: {base}
      auth: {{ type: api_key, header: X-Api-Key, credential: tok-c }}
      endpoints: [ {{ id: e, path: /echo/key }} ]
"#,
        base = srv.base_url()
    );
    let wf = r#"
name: auth
steps:
  - { id: a, call: { service: bearer, endpoint: e } }
  - { id: b, call: { service: basic, endpoint: e } }
  - { id: c, call: { service: key, endpoint: e } }
"#;
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(
        p.path(),
        home.path(),
        &[],
        &[
            ("ORCH_SECRET_TOK_A", "bearer-value-1"),
            ("ORCH_SECRET_TOK_B", "alice:pw-value-2"),
            ("ORCH_SECRET_TOK_C", "key-value-3"),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let seen = |path: &str, h: &str| {
        srv.requests()
            .into_iter()
            .find(|q| q.path == path)
            .and_then(|q| q.header(h).map(str::to_string))
    };
    assert_eq!(
        seen("/echo/bearer", "authorization").as_deref(),
        Some("Bearer bearer-value-1")
    );
    assert_eq!(
        seen("/echo/basic", "authorization").as_deref(),
        Some("Basic YWxpY2U6cHctdmFsdWUtMg==")
    );
    assert_eq!(
        seen("/echo/key", "x-api-key").as_deref(),
        Some("key-value-3")
    );
    // The echoed headers are in the results, masked.
    let all = r.events.iter().map(|e| e.to_string()).collect::<String>();
    for v in ["bearer-value-1", "pw-value-2", "key-value-3"] {
        assert!(!all.contains(v), "{v} leaked into events");
    }
}

#[test]
fn a_missing_credential_fails_the_step_and_names_the_variable() {
    let srv = TestServer::start();
    let cfg = format!(
        "orchestration:\n  services:\n    - id: s\n      base_url: {}\n      auth: {{ type: bearer, credential: absent-token }}\n      endpoints: [ {{ id: e, path: /ok }} ]\n",
        srv.base_url()
    );
    let wf = "name: m\nsteps:\n  - { id: a, call: { service: s, endpoint: e } }\n";
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    // No keyring reachable: the message still names the variable, fast.
    let r = run(
        p.path(),
        home.path(),
        &[],
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(r.code, Some(1));
    let e = end(&r, "a");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("ORCH_SECRET_ABSENT_TOKEN"),
        "{e}"
    );
    assert_eq!(srv.count("/ok"), 0);
    assert!(r.took < Duration::from_secs(10), "{:?}", r.took);
}

#[test]
fn validate_checks_calls_against_the_registry() {
    let cfg = r#"orchestration:
  services:
    - id: summarizer
      base_url: http://127.0.0.1:9
      capabilities: [summarize]
      endpoints:
        - { id: summarize, method: POST, path: /v1/summarize,
            parameters: [ { name: text, in: body, required: true }, { name: lang, in: query } ] }
"#;
    let wf = r#"name: bad
steps:
  - id: a
    call: { service: summariser, endpoint: summarize }
  - id: b
    call: { capability: summarise, endpoint: summarize }
  - id: c
    call: { service: summarizer, endpoint: sumarize }
  - id: d
    call: { service: summarizer, endpoint: summarize, with: { langg: en } }
"#;
    let p = project(&[("orchestration.yaml", cfg), ("w.yaml", wf)]);
    let out = orch_in(p.path(), p.path())
        .args(["validate", "w.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "unknown service `summariser`",
        "did you mean `summarizer`?",
        "no service has capability `summarise`",
        "did you mean `summarize`?",
        "service `summarizer` has no endpoint `sumarize`",
        "needs parameter `text`",
        "has no parameter `langg`",
        "did you mean `lang`?",
        "w.yaml:4:",
        "w.yaml:10:",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn policies_deny_and_require_approval() {
    let srv = TestServer::start();
    let cfg = format!(
        r#"orchestration:
  policies:
    rules:
      - id: no-prod-writes
        when: ${{{{ step.service == 'prod-db' && inputs.env == 'prod' }}}}
        action: deny
        message: Writes to the prod database are frozen
      - id: review-deploys
        when: ${{{{ step.id == 'deploy' }}}}
        action: require_approval
        message: Deploys need a second pair of eyes
  services:
    - id: prod-db
      base_url: {base}
      endpoints: [ {{ id: write, method: POST, path: /echo/db }} ]
"#,
        base = srv.base_url()
    );
    let wf = format!(
        r#"
name: pol
inputs:
  env: {{ type: string, default: dev }}
steps:
  - id: write
    call: {{ service: prod-db, endpoint: write }}
  - id: deploy
    needs: write
    http: {{ url: "{u}" }}
"#,
        u = srv.url("/echo/deploy")
    );
    let p = project(&[("orchestration.yaml", &cfg), ("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();

    let r = run(p.path(), home.path(), &["-i", "env=prod"], &[]);
    assert_eq!(r.code, Some(1));
    let e = end(&r, "write");
    assert!(
        e["error"].as_str().unwrap().contains(
            "denied by policy rule `no-prod-writes`: Writes to the prod database are frozen"
        ),
        "{e}"
    );
    assert_eq!(srv.count("/echo/db"), 0);

    // In dev the write runs; the deploy waits for an approval, unsent.
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(3), "{}", r.stderr);
    assert_eq!(srv.count("/echo/db"), 1);
    assert_eq!(srv.count("/echo/deploy"), 0);
    let asked = r
        .events
        .iter()
        .find(|e| e["event"] == "orchestration.approval.requested")
        .unwrap();
    assert_eq!(
        asked["approval"]["message"],
        "Deploys need a second pair of eyes"
    );
    orch_in(p.path(), home.path())
        .args(["approve", "last", "deploy"])
        .assert()
        .success();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(srv.count("/echo/deploy"), 1);
    assert_eq!(srv.count("/echo/db"), 1);
}

/// Two services of one capability, each with a credential of its own.
fn credentialed_config(srv: &TestServer) -> String {
    format!(
        r#"orchestration:
  policies:
    fallback_on_error: true
  services:
    - id: primary
      base_url: {base}
      auth: {{ type: bearer, credential: primary-token }}
      capabilities: [summarize]
      priority: 1
      endpoints:
        - {{ id: summarize, method: POST, path: /echo/primary,
            parameters: [ {{ name: text, in: body, required: true }} ] }}
    - id: secondary
      base_url: {base}
      auth: {{ type: bearer, credential: secondary-token }}
      capabilities: [summarize]
      priority: 2
      endpoints:
        - {{ id: summarize, method: POST, path: /echo/secondary,
            parameters: [ {{ name: text, in: body, required: true }} ] }}
"#,
        base = srv.base_url()
    )
}

#[test]
fn a_service_whose_credential_is_missing_is_skipped_not_fatal() {
    let srv = TestServer::start();
    let p = project(&[
        ("orchestration.yaml", &credentialed_config(&srv)),
        ("w.yaml", CALL),
    ]);
    let home = tempfile::tempdir().unwrap();
    // Only the backup's credential: the primary is skipped, no request to it.
    let r = run(
        p.path(),
        home.path(),
        &[],
        &[("ORCH_SECRET_SECONDARY_TOKEN", "sec-token-123")],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(srv.count("/echo/primary"), 0);
    assert_eq!(srv.count("/echo/secondary"), 1);
    // Only the primary's: a missing backup credential does not fail it.
    let r = run(
        p.path(),
        home.path(),
        &[],
        &[("ORCH_SECRET_PRIMARY_TOKEN", "pri-token-456")],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(srv.count("/echo/primary"), 1);
    // Neither: the step fails naming what to set.
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(1));
    let error = end(&r, "sum")["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("ORCH_SECRET_PRIMARY_TOKEN")
            && error.contains("ORCH_SECRET_SECONDARY_TOKEN"),
        "{error}"
    );
}

#[test]
fn a_compressed_response_is_decoded() {
    let srv = TestServer::start();
    let wf = format!(
        "name: z\nsteps:\n  - id: get\n    http: {{ url: \"{}/gzip\" }}\n    outputs:\n      c: ${{{{ steps.get.json.compressed }}}}\n",
        srv.base_url()
    );
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let r = run(p.path(), home.path(), &[], &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let asked = srv
        .requests()
        .into_iter()
        .find(|q| q.path == "/gzip")
        .unwrap();
    let accept = asked
        .headers
        .iter()
        .find(|(n, _)| n == "accept-encoding")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(accept.contains("gzip"), "{accept}");
    assert_eq!(outputs(home.path())["steps"][0]["outputs"]["c"], true);
}
