//! `orch metrics`, its `--serve` scrape target and the Pushgateway push of
//! `telemetry.metrics_endpoint`, checked with real consumers: the Python
//! Prometheus client's parser and a real Pushgateway. Both are required
//! under `CI=true` (`.ci/run` installs them); elsewhere a test without
//! them says so and skips.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orch_testserver::TestServer;
use serde_json::Value;

use crate::common::{orch_in, project};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Required in CI; elsewhere `None` after saying why.
fn missing(what: &str) -> Option<()> {
    assert!(
        !in_ci(),
        "{what} is required under CI=true (.ci/run installs it)"
    );
    eprintln!("skipped: {what} is not installed");
    None
}

/// One sample as the Python client's parser reads it.
#[derive(Debug, Clone)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: serde_json::Map<String, Value>,
    value: f64,
}

const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append({"family": f.name, "type": f.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

/// The exposition parsed by `prometheus_client`; a parse error fails the test.
fn parse(text: &str) -> Option<Vec<Sample>> {
    let have = Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        return missing("python3 with prometheus_client").map(|_| Vec::new());
    }
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| Sample {
                family: s["family"].as_str().unwrap().into(),
                kind: s["type"].as_str().unwrap().into(),
                name: s["name"].as_str().unwrap().into(),
                labels: s["labels"].as_object().unwrap().clone(),
                value: s["value"].as_f64().unwrap(),
            })
            .collect(),
    )
}

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn config(server: &TestServer, extra: &str) -> String {
    format!(
        "orchestration:\n  services:\n    - id: api\n      base_url: {}\n      endpoints:\n        - {{ id: ok, method: GET, path: /ok }}\n{extra}",
        server.base_url()
    )
}

fn workflow(server: &TestServer, name: &str) -> String {
    format!(
        "\
name: {name}
steps:
  - {{ id: build, run: \"echo built\", cache: true }}
  - id: fan
    for_each: [1, 2, 3]
    run: \"echo item\"
  - {{ id: web, http: {{ url: \"{ok}\" }} }}
  - {{ id: svc, call: {{ service: api, endpoint: ok }} }}
  - id: miss
    http: {{ url: \"{missing}\" }}
    retry: {{ max_attempts: 2, base_delay_ms: 1 }}
    continue_on_error: true
",
        ok = server.url("/ok"),
        missing = server.url("/status/404"),
    )
}

fn run(dir: &Path, home: &Path, file: &str) -> std::process::Output {
    orch_in(dir, home)
        .args(["run", file, "--output", "plain"])
        .output()
        .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn metrics_count_runs_steps_attempts_cache_hits_and_http_answers() {
    let server = TestServer::start();
    let dir = project(&[
        ("orchestration.yaml", &config(&server, "")),
        ("m.yaml", &workflow(&server, "m")),
        (
            "other.yaml",
            "name: other\nsteps:\n  - { id: boom, run: \"exit 3\" }\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for _ in 0..2 {
        let out = run(dir.path(), h, "m.yaml");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(run(dir.path(), h, "other.yaml").status.code(), Some(1));

    let out = orch_in(dir.path(), h).arg("metrics").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exposition = text(&out.stdout);
    assert!(
        exposition.contains("# TYPE orchestration_run_duration_seconds histogram\n"),
        "{exposition}"
    );
    assert!(!exposition.contains("run_id"), "{exposition}");
    let Some(s) = parse(&exposition) else { return };

    let v = |name: &str, labels: &[(&str, &str)]| value(&s, name, labels);
    let m = [("workflow", "m")];
    assert_eq!(
        v(
            "orchestration_runs_total",
            &[("workflow", "m"), ("status", "succeeded")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "orchestration_runs_total",
            &[("workflow", "other"), ("status", "failed")]
        ),
        Some(1.0)
    );
    assert_eq!(v("orchestration_run_duration_seconds_count", &m), Some(2.0));
    assert_eq!(
        v(
            "orchestration_run_duration_seconds_bucket",
            &[("workflow", "m"), ("le", "+Inf")]
        ),
        Some(2.0)
    );
    let fam = s
        .iter()
        .find(|x| x.name == "orchestration_run_duration_seconds_count")
        .unwrap();
    assert_eq!(
        (fam.family.as_str(), fam.kind.as_str()),
        ("orchestration_run_duration_seconds", "histogram")
    );
    // The cached step: run once, a hit the second time.
    let build = |status| [("workflow", "m"), ("step", "build"), ("status", status)];
    assert_eq!(
        v("orchestration_steps_total", &build("succeeded")),
        Some(1.0)
    );
    assert_eq!(v("orchestration_steps_total", &build("cached")), Some(1.0));
    assert_eq!(
        v(
            "orchestration_cache_hits_total",
            &[("workflow", "m"), ("step", "build")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "orchestration_step_duration_seconds_count",
            &[("workflow", "m"), ("step", "build")]
        ),
        Some(1.0)
    );
    // A for_each step counts once per run; its items' attempts all count.
    let fan = [("workflow", "m"), ("step", "fan")];
    assert_eq!(
        v(
            "orchestration_steps_total",
            &[("workflow", "m"), ("step", "fan"), ("status", "succeeded")]
        ),
        Some(2.0)
    );
    assert_eq!(v("orchestration_step_attempts_total", &fan), Some(6.0));
    // A 404 is not retried: one attempt per run.
    assert_eq!(
        v(
            "orchestration_step_attempts_total",
            &[("workflow", "m"), ("step", "miss")]
        ),
        Some(2.0)
    );
    // HTTP answers: the call step by its service, http steps without one.
    assert_eq!(
        v(
            "orchestration_http_requests_total",
            &[("service", "api"), ("code", "200")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "orchestration_http_requests_total",
            &[("service", ""), ("code", "200")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "orchestration_http_requests_total",
            &[("service", ""), ("code", "404")]
        ),
        Some(2.0)
    );
    // No run ids among the labels.
    assert!(s
        .iter()
        .all(|x| x.labels.keys().all(
            |k| ["workflow", "step", "status", "service", "code", "le"].contains(&k.as_str())
        )));

    // Filtered to one workflow.
    let out = orch_in(dir.path(), h)
        .args(["metrics", "--workflow", "other", "--since", "1h"])
        .output()
        .unwrap();
    let only = parse(&text(&out.stdout)).unwrap();
    assert!(only
        .iter()
        .filter_map(|x| x.labels.get("workflow"))
        .all(|w| w == "other"));
    assert_eq!(
        value(&only, "orchestration_runs_total", &[("status", "failed")]),
        Some(1.0)
    );
}

#[test]
fn metrics_of_an_empty_history_parse_and_create_nothing() {
    let dir = project(&[]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(dir.path(), home.path())
        .arg("metrics")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!home.path().join("history.db").exists());
    if let Some(s) = parse(&text(&out.stdout)) {
        assert!(s.is_empty(), "{s:?}");
    }
}

/// A GET over a plain TCP connection (HTTP/1.0: no chunked body): status
/// code, head and body.
fn get(addr: &str, path: &str) -> (u16, String, String) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    c.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head.to_string(), body.to_string())
}

/// Ends the child when the test does, passing or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_scrapes_from_the_current_history_and_stops_on_ctrl_c() {
    let dir = project(&[(
        "ok.yaml",
        "name: ok\nsteps:\n  - { id: a, run: \"true\" }\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert!(run(dir.path(), h, "ok.yaml").status.success());
    let mut child = Killed(
        Command::new(assert_cmd::cargo::cargo_bin("orch"))
            .current_dir(dir.path())
            .env("ORCH_HOME", h)
            .env_remove("ORCH_HISTORY")
            .args(["metrics", "--serve", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let (code, head, body) = get(&addr, "/metrics");
    assert_eq!(code, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let runs = |body: &str| {
        parse(body).map(|s| {
            value(
                &s,
                "orchestration_runs_total",
                &[("workflow", "ok"), ("status", "succeeded")],
            )
        })
    };
    if let Some(n) = runs(&body) {
        assert_eq!(n, Some(1.0), "{body}");
    }
    // Each scrape reads the history again.
    assert!(run(dir.path(), h, "ok.yaml").status.success());
    let (_, _, body) = get(&addr, "/metrics?x=1");
    assert!(
        body.contains("orchestration_runs_total{workflow=\"ok\",status=\"succeeded\"} 2\n"),
        "{body}"
    );
    if let Some(n) = runs(&body) {
        assert_eq!(n, Some(2.0));
    }
    assert_eq!(get(&addr, "/").0, 404);
    assert_eq!(get(&addr, "/metrics/extra").0, 404);

    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still serving");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `prometheus-pushgateway` (or an upstream `pushgateway`).
fn pushgateway_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["prometheus-pushgateway", "pushgateway"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// A Pushgateway on a free 127.0.0.1 port, without persistence; ready.
fn start_pushgateway() -> Option<(Killed, String)> {
    let Some(bin) = pushgateway_binary() else {
        return missing("prometheus-pushgateway").map(|_| unreachable!());
    };
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Killed(
        Command::new(bin)
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    loop {
        if TcpStream::connect(&addr).is_ok() && get(&addr, "/-/ready").0 == 200 {
            return Some((child, addr));
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the Pushgateway did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_run_pushes_its_metrics_to_a_pushgateway() {
    let Some((_gw, gw)) = start_pushgateway() else {
        return;
    };
    let server = TestServer::start();
    let telemetry = format!("  telemetry:\n    metrics_endpoint: http://{gw}/metrics\n");
    let dir = project(&[
        ("orchestration.yaml", &config(&server, &telemetry)),
        ("m.yaml", &workflow(&server, "pushed")),
    ]);
    let home = tempfile::tempdir().unwrap();
    let out = run(dir.path(), home.path(), "m.yaml");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );

    let (code, _, body) = get(&gw, "/metrics");
    assert_eq!(code, 200);
    let Some(s) = parse(&body) else { return };
    let group = [("job", "orch"), ("workflow", "pushed")];
    let with = |more: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        group.iter().chain(more).copied().collect()
    };
    assert_eq!(
        value(
            &s,
            "orchestration_runs_total",
            &with(&[("status", "succeeded")])
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(
            &s,
            "orchestration_step_attempts_total",
            &with(&[("step", "fan")])
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &s,
            "orchestration_http_requests_total",
            &with(&[("service", "api"), ("code", "200")])
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "orchestration_run_duration_seconds_count", &with(&[])),
        Some(1.0)
    );

    // A second run replaces the group: it holds that run, not a sum.
    let out = run(dir.path(), home.path(), "m.yaml");
    assert_eq!(out.status.code(), Some(0));
    let s = parse(&get(&gw, "/metrics").2).unwrap();
    assert_eq!(
        value(
            &s,
            "orchestration_steps_total",
            &with(&[("step", "build"), ("status", "cached")])
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "orchestration_runs_total",
            &with(&[("status", "succeeded")])
        ),
        Some(1.0)
    );

    // The `metrics` middleware turned off: nothing is pushed.
    let off = format!("  middleware:\n    - {{ id: metrics, enabled: false }}\n{telemetry}");
    std::fs::write(dir.path().join("orchestration.yaml"), config(&server, &off)).unwrap();
    std::fs::write(dir.path().join("q.yaml"), workflow(&server, "quiet")).unwrap();
    assert_eq!(
        run(dir.path(), home.path(), "q.yaml").status.code(),
        Some(0)
    );
    let body = get(&gw, "/metrics").2;
    assert!(!body.contains("workflow=\"quiet\""), "{body}");
}

#[test]
fn an_unreachable_or_silent_metrics_endpoint_costs_at_most_the_deadline() {
    // Nothing listens on one; the other accepts and never answers.
    let closed = free_port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let wf = "name: quick\nsteps:\n  - { id: a, run: \"true\" }\n";
    // The same run without an endpoint: what the push may add to.
    let plain = project(&[("q.yaml", wf)]);
    let plain_home = tempfile::tempdir().unwrap();
    let start = Instant::now();
    assert!(run(plain.path(), plain_home.path(), "q.yaml")
        .status
        .success());
    let baseline = start.elapsed();
    for endpoint in [
        format!("http://127.0.0.1:{closed}"),
        format!("http://{silent_addr}"),
    ] {
        let cfg = format!("orchestration:\n  telemetry:\n    metrics_endpoint: {endpoint}\n");
        let dir = project(&[("orchestration.yaml", &cfg), ("q.yaml", wf)]);
        let home = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let out = run(dir.path(), home.path(), "q.yaml");
        let took = start.elapsed();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(
            err.contains("warning: the run's metrics could not be pushed"),
            "{err}"
        );
        assert!(err.contains(&endpoint), "{err}");
        // The deadline is 2 s, plus a little for the process.
        assert!(
            took.saturating_sub(baseline) < Duration::from_millis(2600),
            "{endpoint}: {took:?} against {baseline:?} without"
        );
    }
    drop(silent);
}

#[test]
fn the_summary_is_printed_before_a_slow_metrics_push_ends() {
    // Accepts and never answers: the push takes its whole deadline.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = format!(
        "orchestration:\n  telemetry:\n    metrics_endpoint: http://{}\n",
        silent.local_addr().unwrap()
    );
    let dir = project(&[
        ("orchestration.yaml", &cfg),
        (
            "q.yaml",
            "name: quick\nsteps:\n  - { id: a, run: \"true\" }\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    // stdout and stderr into one file, in the order they were written.
    let both = dir.path().join("both.txt");
    let f = std::fs::File::create(&both).unwrap();
    let st = Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "q.yaml", "--output", "plain"])
        .current_dir(dir.path())
        .env("ORCH_HOME", home.path())
        .env("NO_COLOR", "1")
        .env_remove("ORCH_HISTORY")
        .env_remove("ORCH_CONFIG")
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let out = std::fs::read_to_string(&both).unwrap();
    let summary = out.find("run succeeded").unwrap_or_else(|| panic!("{out}"));
    let warning = out
        .find("warning: the run's metrics could not be pushed")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(summary < warning, "{out}");
    drop(silent);
}

#[test]
fn an_open_circuit_breaker_is_a_gauge_of_its_service() {
    let cfg = format!(
        "\
orchestration:
  services:
    - id: down
      base_url: http://127.0.0.1:{}
      circuit_breaker: {{ failure_threshold: 1, reset_timeout: 10m }}
      endpoints:
        - {{ id: e, method: GET, path: /x }}
",
        free_port()
    );
    let wf = "name: b\nsteps:\n  - { id: c, call: { service: down, endpoint: e }, retry: { max_attempts: 1 } }\n";
    let dir = project(&[("orchestration.yaml", &cfg), ("b.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    assert_eq!(
        run(dir.path(), home.path(), "b.yaml").status.code(),
        Some(1)
    );
    let out = orch_in(dir.path(), home.path())
        .arg("metrics")
        .output()
        .unwrap();
    let body = text(&out.stdout);
    assert!(
        body.contains("# TYPE orchestration_circuit_breaker_open gauge\norchestration_circuit_breaker_open{service=\"down\"} 1\n"),
        "{body}"
    );
    if let Some(s) = parse(&body) {
        let g = s
            .iter()
            .find(|x| x.name == "orchestration_circuit_breaker_open")
            .unwrap();
        assert_eq!((g.kind.as_str(), g.value), ("gauge", 1.0));
    }
}
