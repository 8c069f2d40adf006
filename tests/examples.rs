//! Every workflow shipped in `examples/` and `workflows/` validates, plans,
//! draws and runs. The files are discovered at test time, so a new example is
//! covered without touching this file. A file named `failing*.yaml` is meant
//! to fail: its run must exit 1 and end with `orchestration.run.failed`.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::common::{events, orch, repo_root};

const COMPLETED: &str = "orchestration.run.completed";
const FAILED: &str = "orchestration.run.failed";

/// Paths (relative to the repo root) of every workflow file in `examples/`
/// and `workflows/`, sorted.
fn workflow_files() -> Vec<String> {
    let root = repo_root();
    let mut out = Vec::new();
    for dir in ["examples", "workflows"] {
        let entries =
            std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("cannot read {dir}/: {e}"));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let is_yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            if is_yaml && path.is_file() {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("UTF-8 file name");
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}

fn expected_to_fail(file: &str) -> bool {
    Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("failing"))
}

/// The result of one `orch run … --output json`.
struct Run {
    code: i32,
    events: Vec<Json>,
    stderr: String,
}

impl Run {
    fn names(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["event"].as_str().unwrap_or(""))
            .collect()
    }

    /// Index of the first event of `kind` for `step`.
    fn find(&self, kind: &str, step: &str) -> Option<usize> {
        self.events.iter().position(|e| {
            e["event"] == format!("orchestration.step.{kind}").as_str() && e["step_id"] == step
        })
    }

    fn index(&self, kind: &str, step: &str) -> usize {
        self.find(kind, step)
            .unwrap_or_else(|| panic!("no `{kind}` event for `{step}` in:\n{}", self.dump()))
    }

    fn all(&self, kind: &str, step: &str) -> Vec<&Json> {
        self.events
            .iter()
            .filter(|e| {
                e["event"] == format!("orchestration.step.{kind}").as_str() && e["step_id"] == step
            })
            .collect()
    }

    fn last(&self) -> &Json {
        self.events
            .last()
            .unwrap_or_else(|| panic!("no events; stderr:\n{}", self.stderr))
    }

    fn dump(&self) -> String {
        let lines: Vec<String> = self.events.iter().map(|e| e.to_string()).collect();
        format!("{}\n--- stderr ---\n{}", lines.join("\n"), self.stderr)
    }
}

/// `orch run FILE --output json ARGS…` from the repo root, with TMPDIR
/// pointing at a private directory that must be empty again afterwards: a
/// workflow (or orch itself) must not leave scratch files behind.
fn run_json(file: &str, args: &[&str]) -> Run {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = orch(&repo_root())
        .env("TMPDIR", tmp.path())
        .args(["run", file, "--output", "json"])
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("orch runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        events: events(&out.stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let left: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .expect("read TMPDIR")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(
        left.is_empty(),
        "{file} left files in TMPDIR: {left:?}\n{}",
        run.dump()
    );
    run
}

fn assert_completed(run: &Run, steps: &[&str]) {
    for s in steps {
        run.index("completed", s);
    }
}

fn assert_skipped(run: &Run, steps: &[&str]) {
    for s in steps {
        run.index("skipped", s);
        assert!(
            run.find("started", s).is_none(),
            "`{s}` was skipped but started:\n{}",
            run.dump()
        );
    }
}

#[test]
fn the_documented_examples_exist() {
    let files = workflow_files();
    for f in [
        "examples/diamond.yaml",
        "examples/retry-backoff.yaml",
        "examples/fan-out.yaml",
        "examples/outputs-transforms.yaml",
        "examples/failure-handlers.yaml",
        "examples/inputs.yaml",
        "workflows/hello.yaml",
    ] {
        assert!(
            files.iter().any(|x| x == f),
            "{f} is missing; found {files:?}"
        );
    }
}

#[test]
fn every_workflow_file_validates_plans_and_draws() {
    for file in workflow_files() {
        let out = orch(&repo_root())
            .args(["validate", &file])
            .output()
            .expect("orch runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "`orch validate {file}`:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut commands: Vec<Vec<&str>> = vec![vec!["plan", &file]];
        for format in ["text", "mermaid", "dot"] {
            commands.push(vec!["graph", &file, "--format", format]);
        }
        for args in commands {
            let out = orch(&repo_root()).args(&args).output().expect("orch runs");
            assert_eq!(
                out.status.code(),
                Some(0),
                "`orch {}`:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.stdout.is_empty(),
                "`orch {}` printed nothing",
                args.join(" ")
            );
        }
    }
}

#[test]
fn every_workflow_file_runs() {
    let files = workflow_files();
    assert!(!files.is_empty());
    let mut problems = Vec::new();
    for file in &files {
        // Examples with approval steps are approved in advance, as in CI.
        let run = run_json(file, &["--approve", "all"]);
        let (code, last) = if expected_to_fail(file) {
            (1, FAILED)
        } else {
            (0, COMPLETED)
        };
        if run.code != code {
            problems.push(format!(
                "{file}: exit code {} (expected {code})\n{}",
                run.code,
                run.dump()
            ));
            continue;
        }
        if run.last()["event"] != last {
            problems.push(format!("{file}: last event is not {last}\n{}", run.dump()));
            continue;
        }
        let names = run.names();
        if names.first() != Some(&"orchestration.run.created")
            || !names.contains(&"orchestration.run.started")
        {
            problems.push(format!(
                "{file}: the run did not start properly\n{}",
                run.dump()
            ));
        }
        let ids: Vec<&Json> = run.events.iter().map(|e| &e["run_id"]).collect();
        if ids.iter().any(|id| *id != ids[0]) {
            problems.push(format!("{file}: events carry different run ids"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn release_gate_waits_for_a_person_and_caches_its_build() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = orch(&repo_root())
            .env("ORCH_HOME", home.path())
            .args(["run", "examples/release-gate.yaml", "--output", "json"])
            .args(args)
            .output()
            .expect("orch runs");
        (out.status.code(), events(&out.stdout))
    };
    let (code, evs) = run(&[]);
    assert_eq!(code, Some(3), "without a terminal the run waits");
    assert_eq!(evs.last().unwrap()["event"], "orchestration.run.waiting");
    let (code, evs) = run(&["--approve", "approve"]);
    assert_eq!(code, Some(0));
    assert!(
        evs.iter()
            .any(|e| e["event"] == "orchestration.step.cached" && e["step_id"] == "build"),
        "the second run restores the build from the cache"
    );
}

#[test]
fn diamond_links_after_both_compiles() {
    let run = run_json("examples/diamond.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let prepared = run.index("completed", "prepare");
    for compile in ["compile-a", "compile-b"] {
        assert!(run.index("started", compile) > prepared, "{}", run.dump());
    }
    let link = run.index("started", "link");
    assert!(link > run.index("completed", "compile-a"), "{}", run.dump());
    assert!(link > run.index("completed", "compile-b"), "{}", run.dump());
    assert!(run.index("started", "cleanup") > run.index("completed", "link"));
    assert_completed(
        &run,
        &["prepare", "compile-a", "compile-b", "link", "cleanup"],
    );
    assert!(run.stderr.contains("[link] DELTA"), "{}", run.stderr);
}

#[test]
fn retry_backoff_succeeds_on_the_third_attempt() {
    let run = run_json("examples/retry-backoff.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let retries = run.all("retrying", "flaky");
    assert_eq!(retries.len(), 2, "{}", run.dump());
    // Exponential from 50ms, factor 2, full jitter: at most 50ms, then 100ms.
    for (r, (attempt, cap)) in retries.iter().zip([(2, 50), (3, 100)]) {
        assert_eq!(r["attempt"], attempt, "{r}");
        assert_eq!(r["max_attempts"], 3, "{r}");
        assert_eq!(r["exit_code"], 75, "{r}");
        let delay = r["delay_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("no delay_ms: {r}"));
        assert!(delay <= cap, "delay {delay}ms over {cap}ms: {r}");
    }
    let done = &run.events[run.index("completed", "flaky")];
    assert_eq!(done["attempt"], 3, "{done}");
    assert!(run.find("failed", "flaky").is_none(), "{}", run.dump());
    assert!(
        run.stderr.contains("flaky succeeded on attempt 3"),
        "{}",
        run.stderr
    );
}

#[test]
fn fan_out_runs_each_region_at_most_two_at_a_time() {
    let run = run_json("examples/fan-out.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    for k in 0..4 {
        let id = format!("deploy[{k}]");
        assert_eq!(run.all("started", &id).len(), 1, "{id}:\n{}", run.dump());
        run.index("completed", &id);
    }
    assert!(run.find("started", "deploy[4]").is_none());
    // Items are started by the engine and ended after they finish, so the
    // event order never shows more running items than there really were.
    let mut running = 0i32;
    let mut peak = 0;
    for e in &run.events {
        let item = e["step_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("deploy["));
        match e["event"].as_str() {
            Some("orchestration.step.started") if item => running += 1,
            Some("orchestration.step.completed" | "orchestration.step.failed") if item => {
                running -= 1
            }
            _ => {}
        }
        peak = peak.max(running);
    }
    assert!(
        peak <= 2,
        "max_parallel 2, but {peak} items ran at once:\n{}",
        run.dump()
    );
    assert!(run.index("started", "summary") > run.index("completed", "deploy"));
    assert!(run.stderr.contains("deployed 4 regions"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("https://sa-east.example.invalid/v1.2.3"),
        "{}",
        run.stderr
    );
}

#[test]
fn fan_out_takes_regions_from_an_input() {
    let run = run_json(
        "examples/fan-out.yaml",
        &["-i", r#"regions=["north","south"]"#],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    run.index("completed", "deploy[1]");
    assert!(run.find("started", "deploy[2]").is_none(), "{}", run.dump());
    assert!(run.stderr.contains("deployed 2 regions"), "{}", run.stderr);
}

#[test]
fn fan_out_over_no_regions_still_succeeds() {
    let run = run_json("examples/fan-out.yaml", &["-i", "regions=[]"]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.find("started", "deploy[0]").is_none(), "{}", run.dump());
    assert_completed(&run, &["deploy", "summary", "show"]);
    assert!(run.stderr.contains("deployed 0 regions"), "{}", run.stderr);
}

#[test]
fn outputs_and_transforms_flow_between_steps() {
    let run = run_json("examples/outputs-transforms.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_completed(&run, &["measure", "stats", "check"]);
    assert!(
        run.stderr.contains("[check] 9 words on 3 lines"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#""words_per_line":3"#),
        "{}",
        run.stderr
    );
}

#[test]
fn failure_handlers_run_and_the_run_still_succeeds() {
    let run = run_json("examples/failure-handlers.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let lint = &run.events[run.index("failed", "lint")];
    assert_eq!(lint["exit_code"], 3, "{lint}");
    assert_completed(
        &run,
        &["test", "report-lint", "package", "notify", "tidy-up"],
    );
    assert_skipped(&run, &["page-someone"]);
    assert!(run.index("started", "tidy-up") > run.index("completed", "notify"));
    assert!(
        run.stderr.contains("lint=failed package=succeeded"),
        "{}",
        run.stderr
    );
    assert_eq!(run.last()["event"], COMPLETED);
}

#[test]
fn failing_runs_on_failure_then_finally() {
    let run = run_json("examples/failing.yaml", &[]);
    assert_eq!(run.code, 1, "{}", run.dump());
    let deploy = &run.events[run.index("failed", "deploy")];
    assert_eq!(deploy["exit_code"], 4, "{deploy}");
    assert_skipped(&run, &["verify"]);
    assert_completed(&run, &["setup", "rollback", "alert", "cleanup"]);
    let rollback = run.index("started", "rollback");
    assert!(rollback > run.index("failed", "deploy"));
    assert!(run.index("started", "alert") > run.index("completed", "rollback"));
    assert!(run.index("started", "cleanup") > run.index("completed", "alert"));
    let last = run.last();
    assert_eq!(last["event"], FAILED, "{last}");
    assert!(
        last["error"].as_str().is_some_and(|e| e.contains("deploy")),
        "{last}"
    );
    assert!(
        run.stderr
            .contains("deploy failed (exit code 4), rolling back"),
        "{}",
        run.stderr
    );
}

#[test]
fn inputs_defaults_pick_the_dry_run() {
    let run = run_json("examples/inputs.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_completed(&run, &["show", "plan", "dry-run"]);
    assert_skipped(&run, &["deploy", "production-checks"]);
    assert!(
        run.stderr.contains("would start 2 replicas in staging"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#"features:    ["search","billing"]"#),
        "{}",
        run.stderr
    );
}

#[test]
fn inputs_given_on_the_command_line_change_the_path() {
    let args = [
        "-i",
        "environment=prod",
        "-i",
        "replicas=5",
        "-i",
        "dry_run=false",
    ];
    let run = run_json("examples/inputs.yaml", &args);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_completed(&run, &["show", "plan", "deploy", "production-checks"]);
    assert_skipped(&run, &["dry-run"]);
    assert!(
        run.stderr.contains("starting 7 replicas in prod"),
        "{}",
        run.stderr
    );
}

#[test]
fn inputs_outside_the_enum_are_refused_before_running() {
    let out = orch(&repo_root())
        .args([
            "run",
            "examples/inputs.yaml",
            "--output",
            "json",
            "-i",
            "environment=qa",
        ])
        .output()
        .expect("orch runs");
    assert_eq!(out.status.code(), Some(2));
    // Nothing ran: the one event says why.
    let evs = crate::common::events(&out.stdout);
    assert_eq!(evs.len(), 1, "nothing may run: {evs:?}");
    assert_eq!(evs[0]["event"], "orchestration.validation.failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("must be one of: dev, staging, prod"),
        "{stderr}"
    );
}

#[test]
fn timeouts_retry_a_hanging_attempt() {
    let run = run_json("examples/timeouts.yaml", &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let retries = run.all("retrying", "fetch");
    assert_eq!(retries.len(), 1, "{}", run.dump());
    let err = retries[0]["error"].as_str().unwrap_or_default();
    assert!(err.contains("timed out"), "{}", retries[0]);
    assert_eq!(run.events[run.index("completed", "fetch")]["attempt"], 2);
    // The hanging attempt sleeps 5s; the timeout must have cut it short.
    let ms = run.last()["duration_ms"].as_u64().expect("duration_ms");
    assert!(ms < 4000, "run took {ms}ms");
}

#[test]
fn hello_runs_by_name_from_the_repo_root() {
    let out = orch(&repo_root())
        .args(["run", "hello", "--output", "plain"])
        .output()
        .expect("orch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("hello, world!"), "{all}");

    let run = run_json("hello", &["-i", "who=tests"]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_completed(&run, &["greet", "done"]);
    assert!(
        run.stderr.contains("said 'hello, tests' in run "),
        "{}",
        run.stderr
    );
}

/// Run from a copy of the examples in an empty project: nothing may be left
/// in the project directory afterwards.
#[test]
fn examples_leave_nothing_in_the_project_dir() {
    let project = tempfile::tempdir().expect("tempdir");
    let files = workflow_files();
    for f in &files {
        let to = project.path().join(f);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo_root().join(f), &to).expect("copy");
    }
    let before = listing(project.path());
    for f in &files {
        let out = orch(project.path())
            .args(["run", f, "--output", "json", "--approve", "all"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("orch runs");
        let code = if expected_to_fail(f) { 1 } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{f}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(listing(project.path()), before);
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// `examples/services/` (orchestration.yaml + workflows/) against a test
/// server: the services' URLs are pointed at it, credentials come from
/// `ORCH_SECRET_*`.
mod services_example {
    use std::path::Path;

    use orch_testserver::TestServer;

    use crate::common::{events, orch_in};

    fn copy_example(srv: &TestServer, down: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let src = crate::common::repo_root().join("examples/services");
        // A port nobody listens on stands for a service that is down.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut files = vec![std::path::PathBuf::from("orchestration.yaml")];
        for e in std::fs::read_dir(src.join("workflows")).unwrap() {
            files.push(Path::new("workflows").join(e.unwrap().file_name()));
        }
        for f in files {
            let mut text = std::fs::read_to_string(src.join(&f)).unwrap();
            for (port, name) in [("8081", "summarizer"), ("8082", "backup")] {
                let target = if down.contains(&name) {
                    format!("http://127.0.0.1:{closed}")
                } else {
                    srv.url(&format!("/echo/{name}"))
                };
                text = text.replace(&format!("http://localhost:{port}"), &target);
            }
            let to = dir.path().join(&f);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, text).unwrap();
        }
        dir
    }

    fn run(
        dir: &Path,
        home: &Path,
        args: &[&str],
    ) -> (Option<i32>, Vec<serde_json::Value>, String) {
        let out = orch_in(dir, home)
            .args(["run", "summarize", "--output", "json"])
            .args(args)
            .env("ORCH_SECRET_SUMMARIZER_TOKEN", "example-token")
            .env("ORCH_SECRET_BACKUP_KEY", "example-backup-key")
            .output()
            .unwrap();
        (
            out.status.code(),
            events(&out.stdout),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn the_summarizer_answers_with_its_credential() {
        let srv = TestServer::start();
        let dir = copy_example(&srv, &[]);
        let home = tempfile::tempdir().unwrap();
        let (code, evs, err) = run(dir.path(), home.path(), &[]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(evs.last().unwrap()["event"], "orchestration.run.completed");
        let req = srv
            .requests()
            .into_iter()
            .find(|r| r.path == "/echo/summarizer/v1/summarize")
            .expect("summarizer called");
        assert_eq!(req.header("authorization"), Some("Bearer example-token"));
        assert_eq!(req.query, "lang=en");
        assert!(dir.path().join("logs/orchestration.log").is_file());
        orch_in(dir.path(), home.path())
            .args(["services", "check"])
            .assert()
            .success();
    }

    #[test]
    fn the_backup_takes_over_and_prod_needs_an_approval() {
        let srv = TestServer::start();
        let dir = copy_example(&srv, &["summarizer"]);
        let home = tempfile::tempdir().unwrap();
        let (code, _, err) = run(dir.path(), home.path(), &[]);
        assert_eq!(code, Some(0), "{err}");
        let req = srv
            .requests()
            .into_iter()
            .find(|r| r.path == "/echo/backup/summarize")
            .expect("backup called");
        assert_eq!(req.header("x-api-key"), Some("example-backup-key"));
        // In prod a person decides first, and the backup is not allowed.
        let (code, _, _) = run(dir.path(), home.path(), &["-i", "env=prod"]);
        assert_eq!(code, Some(3));
        let (code, evs, _) = run(
            dir.path(),
            home.path(),
            &["-i", "env=prod", "--approve", "all"],
        );
        assert_eq!(code, Some(1));
        let failed = evs
            .iter()
            .find(|e| e["event"] == "orchestration.step.failed" && e["step_id"] == "summarize")
            .expect("summarize failed");
        assert!(failed.get("http_status").is_none(), "{failed}");
        assert_eq!(srv.count("/echo/backup/summarize"), 1);
    }
}
