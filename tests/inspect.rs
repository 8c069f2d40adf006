//! `orch history`, `show`, `logs`, `stats`, `history prune`, `cache clear`
//! on real recorded runs.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{orch_in, project};

/// A succeeding workflow: outputs, an input, a for_each step.
const OK: &str = r#"name: ok
inputs:
  who: { type: string, default: world }
steps:
  - id: hello
    run: echo hello; echo k=v >> $ORCH_OUTPUT
  - id: noisy
    run: echo to-stdout; echo to-stderr >&2
  - id: build
    needs: hello
    for_each: [1, 2, 3]
    run: echo item ${{ item }}
outputs:
  greeting: ${{ steps.hello.outputs.k }}
"#;

/// A failing workflow: `boom` exits 3 twice (one retry).
const BAD: &str = r#"name: bad
steps:
  - id: first
    run: echo one
  - id: boom
    needs: first
    run: echo failing; exit 3
    retry: { max_attempts: 2, base_delay: 1ms }
"#;

/// `maybe` fails the first time it runs in a project, then succeeds.
const FLAKY: &str = r#"name: flaky
steps:
  - id: maybe
    run: 'if [ -f marker ]; then echo again; else touch marker; exit 3; fi'
  - id: after
    needs: maybe
    run: echo after
  - id: fan
    for_each: [1, 2, 3]
    run: echo fan ${{ item }}
"#;

const WAITS: &str = r#"name: waits
steps:
  - id: first
    run: echo one
  - id: gate
    needs: first
    approval: { message: "go?" }
"#;

fn files() -> tempfile::TempDir {
    project(&[
        ("ok.yaml", OK),
        ("bad.yaml", BAD),
        ("flaky.yaml", FLAKY),
        ("waits.yaml", WAITS),
    ])
}

/// Run a workflow, expecting its exit code.
fn run(dir: &Path, home: &Path, file: &str, code: i32) {
    orch_in(dir, home)
        .args(["run", file, "--output", "plain"])
        .assert()
        .code(code);
}

/// Run an orch command that succeeds; its stdout.
fn stdout(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = orch_in(dir, home)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run orch");
    assert!(
        out.status.success(),
        "orch {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 stdout")
}

fn json(dir: &Path, home: &Path, args: &[&str]) -> Value {
    let text = stdout(dir, home, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("orch {args:?}: not JSON: {e}\n{text}"))
}

/// Run an orch command that fails with exit 2; its stderr.
fn fails(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = orch_in(dir, home).args(args).output().expect("run orch");
    assert_eq!(out.status.code(), Some(2), "orch {args:?}");
    assert!(out.stdout.is_empty(), "orch {args:?} printed data");
    String::from_utf8(out.stderr).expect("UTF-8 stderr")
}

fn field<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| &x[key])
        .collect()
}

fn ids(v: &Value) -> Vec<String> {
    field(v, "id")
        .into_iter()
        .map(|x| x.as_str().expect("id").to_string())
        .collect()
}

fn step<'a>(show: &'a Value, id: &str) -> &'a Value {
    show["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {show}"))
}

/// Move a run `days` into the past, as if it had been recorded then.
fn backdate(home: &Path, run_id: &str, days: i64) {
    let db = rusqlite::Connection::open(home.join("history.db")).expect("open db");
    let n = db
        .execute(
            "UPDATE runs SET created_at = created_at - ?2, started_at = started_at - ?2 \
             WHERE id = ?1",
            rusqlite::params![run_id, days * 86_400_000],
        )
        .expect("update");
    assert_eq!(n, 1);
}

#[test]
fn nothing_recorded_yet() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert_eq!(
        json(p.path(), h, &["history", "--json"]),
        Value::Array(vec![])
    );
    assert_eq!(stdout(p.path(), h, &["history"]), "");
    assert_eq!(
        json(p.path(), h, &["stats", "--json"]),
        Value::Array(vec![])
    );
    assert!(fails(p.path(), h, &["show", "last"]).contains("no runs recorded yet"));
    assert!(fails(p.path(), h, &["logs", "last"]).contains("no runs recorded yet"));
    assert!(stdout(p.path(), h, &["history", "prune", "--older-than", "0s"]).contains("0 runs"));
    // Reading commands create nothing.
    assert!(!h.join("history.db").exists());
}

#[test]
fn history_lists_newest_first_and_filters() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "ok.yaml", 0);
    run(p.path(), h, "bad.yaml", 1);
    run(p.path(), h, "ok.yaml", 0);

    let all = json(p.path(), h, &["history", "--json"]);
    assert_eq!(
        field(&all, "workflow"),
        [&Value::from("ok"), &Value::from("bad"), &Value::from("ok")]
    );
    assert_eq!(
        field(&all, "status"),
        [
            &Value::from("succeeded"),
            &Value::from("failed"),
            &Value::from("succeeded")
        ]
    );
    let all_ids = ids(&all);
    let mut sorted = all_ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(all_ids, sorted, "newest (largest ULID) first");
    for r in all.as_array().unwrap() {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = [
            "id",
            "workflow",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "parent_run_id",
        ];
        want.sort();
        assert_eq!(keys, want);
        let started = r["started_at"].as_str().expect("started_at");
        let finished = r["finished_at"].as_str().expect("finished_at");
        assert!(humantime::parse_rfc3339(started).is_ok(), "{started}");
        assert!(humantime::parse_rfc3339(finished).is_ok(), "{finished}");
        assert!(started <= finished);
        assert!(r["duration_ms"].as_u64().is_some());
        assert!(r["parent_run_id"].is_null());
    }

    let ok = json(p.path(), h, &["history", "--json", "--workflow", "ok"]);
    assert_eq!(ids(&ok), [all_ids[0].as_str(), all_ids[2].as_str()]);
    let failed = json(p.path(), h, &["history", "--json", "--status", "failed"]);
    assert_eq!(ids(&failed), [all_ids[1].as_str()]);
    let none = json(
        p.path(),
        h,
        &[
            "history",
            "--json",
            "--workflow",
            "ok",
            "--status",
            "failed",
        ],
    );
    assert_eq!(none, Value::Array(vec![]));
    let one = json(p.path(), h, &["history", "--json", "--limit", "1"]);
    assert_eq!(ids(&one), [all_ids[0].as_str()]);

    backdate(h, &all_ids[2], 3);
    let recent = json(p.path(), h, &["history", "--json", "--since", "1d"]);
    assert_eq!(ids(&recent), all_ids[..2]);
    let week = json(p.path(), h, &["history", "--json", "--since", "7d"]);
    assert_eq!(ids(&week).len(), 3);

    let table = stdout(p.path(), h, &["history"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("ID "), "{table}");
    for col in ["WORKFLOW", "STATUS", "STARTED", "DURATION"] {
        assert!(lines[0].contains(col), "{table}");
    }
    assert!(lines[1].starts_with(&all_ids[0]) && lines[1].contains(" ok "));
    assert!(lines[2].starts_with(&all_ids[1]) && lines[2].contains(" failed "));
}

#[test]
fn show_json_reports_steps_items_attempts_and_outputs() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "ok.yaml", 0);
    run(p.path(), h, "bad.yaml", 1);
    run(p.path(), h, "waits.yaml", 3);
    let runs = ids(&json(p.path(), h, &["history", "--json"]));

    // A unique prefix of the id is enough.
    let ok = json(p.path(), h, &["show", &runs[2][..20], "--json"]);
    assert_eq!(ok["id"], runs[2].as_str());
    assert_eq!(ok["workflow"], "ok");
    assert_eq!(ok["status"], "succeeded");
    assert_eq!(ok["attempt"], 1);
    assert_eq!(ok["inputs"], serde_json::json!({"who": "world"}));
    assert_eq!(ok["outputs"], serde_json::json!({"greeting": "v"}));
    assert!(ok["error"].is_null());
    assert!(ok["file"].as_str().unwrap().ends_with("ok.yaml"));
    assert!(humantime::parse_rfc3339(ok["started_at"].as_str().unwrap()).is_ok());
    assert_eq!(
        ids(&ok["steps"]),
        ["hello", "noisy", "build", "build[0]", "build[1]", "build[2]"]
    );
    let hello = step(&ok, "hello");
    assert_eq!(hello["status"], "succeeded");
    assert_eq!(hello["exit_code"], 0);
    assert_eq!(hello["attempts"], 1);
    assert_eq!(hello["cached"], false);
    assert_eq!(hello["outputs"], serde_json::json!({"k": "v"}));
    assert!(hello["duration_ms"].as_u64().is_some());
    for i in 0..3 {
        let item = step(&ok, &format!("build[{i}]"));
        assert_eq!(item["status"], "succeeded");
        assert_eq!(item["exit_code"], 0);
    }

    let bad = json(p.path(), h, &["show", &runs[1], "--json"]);
    assert_eq!(bad["status"], "failed");
    assert!(bad["error"].as_str().unwrap().contains("boom"));
    assert_eq!(bad["outputs"], serde_json::json!({}));
    let boom = step(&bad, "boom");
    assert_eq!(boom["status"], "failed");
    assert_eq!(boom["exit_code"], 3);
    assert_eq!(boom["attempts"], 2);
    assert!(boom["error"].as_str().unwrap().contains("code 3"));
    assert_eq!(step(&bad, "first")["status"], "succeeded");

    // A step asking for an approval shows as waiting.
    let waits = json(p.path(), h, &["show", "last", "--json"]);
    assert_eq!(waits["id"], runs[0].as_str());
    assert_eq!(waits["status"], "waiting");
    assert_eq!(step(&waits, "gate")["status"], "waiting");

    assert!(fails(p.path(), h, &["show", "zzzz"]).contains("no run `zzzz`"));
}

#[test]
fn show_last_for_people() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    run(p.path(), home.path(), "bad.yaml", 1);
    run(p.path(), home.path(), "ok.yaml", 0);
    let ok = stdout(p.path(), home.path(), &["show", "last"]);
    let runs = ids(&json(p.path(), home.path(), &["history", "--json"]));
    let bad = stdout(p.path(), home.path(), &["show", &runs[1]]);
    // Durations and times vary, and with them the column widths.
    insta::with_settings!({filters => vec![
        (r"\b[0-9a-hjkmnp-tv-z]{26}\b", "[RUN]"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "[TIME]"),
        (r"\b\d+m\d\ds\b|\b\d+(\.\d)?m?s\b", "[DUR]"),
        (r" {2,}", "  "),
    ]}, {
        insta::assert_snapshot!("show_last", ok);
        insta::assert_snapshot!("show_failed", bad);
    });
}

#[test]
fn logs_of_one_step_or_all() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "ok.yaml", 0);

    assert_eq!(stdout(p.path(), h, &["logs", "last", "hello"]), "hello\n");
    assert_eq!(
        stdout(p.path(), h, &["logs", "last", "build[1]"]),
        "item 2\n"
    );
    // stdout and stderr share the log, in the order they came.
    let mut noisy: Vec<String> = stdout(p.path(), h, &["logs", "last", "noisy"])
        .lines()
        .map(str::to_string)
        .collect();
    noisy.sort();
    assert_eq!(noisy, ["to-stderr", "to-stdout"]);
    // A for_each step's log is its items' logs, each under a header.
    assert_eq!(
        stdout(p.path(), h, &["logs", "last", "build"]),
        "== build[0] ==\nitem 1\n== build[1] ==\nitem 2\n== build[2] ==\nitem 3\n"
    );

    let all = stdout(p.path(), h, &["logs", "last"]);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 6, "{all}");
    assert_eq!(lines[0], "[hello] hello");
    assert_eq!(
        lines[3..],
        [
            "[build[0]] item 1",
            "[build[1]] item 2",
            "[build[2]] item 3"
        ]
    );
    let mut middle = lines[1..3].to_vec();
    middle.sort();
    assert_eq!(middle, ["[noisy] to-stderr", "[noisy] to-stdout"]);

    let err = fails(p.path(), h, &["logs", "last", "helo"]);
    assert!(err.contains("no step `helo`"), "{err}");
    assert!(err.contains("did you mean `hello`?"), "{err}");
    let err = fails(p.path(), h, &["logs", "last", "build[7]"]);
    assert!(err.contains("no step `build[7]`"), "{err}");
}

/// `orch ARGS` in the background, stdout piped.
fn spawn_orch(dir: &Path, home: &Path, args: &[&str]) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(args)
        .current_dir(dir)
        .env("ORCH_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("ORCH_HISTORY")
        .env_remove("ORCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orch")
}

/// `orch run FILE` in the background.
fn spawn_run(dir: &Path, home: &Path, file: &str) -> Child {
    spawn_orch(dir, home, &["run", file, "--output", "plain"])
}

/// Wait until `history` shows the newest run as `running`; its id.
fn wait_running(dir: &Path, home: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = json(dir, home, &["history", "--json", "--status", "running"]);
        if let Some(id) = ids(&runs).into_iter().next() {
            return id;
        }
        assert!(Instant::now() < deadline, "the run never showed as running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_follow_until_the_run_ends() {
    // `tick` prints two lines, then waits for the test to create `go`.
    let p = project(&[(
        "tick.yaml",
        r#"name: tick
steps:
  - id: tick
    run: |
      echo line 1; echo line 2
      i=0; while [ ! -f go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
      echo line 3; echo line 4
  - id: tock
    needs: tick
    run: echo done
"#,
    )]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let mut run = spawn_run(p.path(), h, "tick.yaml");
    let id = wait_running(p.path(), h);

    let mut all = spawn_orch(p.path(), h, &["logs", &id, "--follow"]);
    let mut one = spawn_orch(p.path(), h, &["logs", "last", "tick", "-f"]);
    let mut all_out = BufReader::new(all.stdout.take().unwrap());
    let mut one_out = BufReader::new(one.stdout.take().unwrap());
    // Both print what is there while the run is blocked...
    let mut first = String::new();
    all_out.read_line(&mut first).unwrap();
    assert_eq!(first, "[tick] line 1\n");
    let mut first_one = String::new();
    one_out.read_line(&mut first_one).unwrap();
    assert_eq!(first_one, "line 1\n");
    assert!(
        all.try_wait().unwrap().is_none(),
        "stopped while the run runs"
    );
    // ...and the rest once it goes on, until it ends.
    std::fs::write(p.path().join("go"), "").unwrap();
    let mut rest = String::new();
    all_out.read_to_string(&mut rest).unwrap();
    let mut rest_one = String::new();
    one_out.read_to_string(&mut rest_one).unwrap();
    assert!(all.wait().unwrap().success());
    assert!(one.wait().unwrap().success());
    assert!(run.wait().unwrap().success());

    let all = format!("{first}{rest}");
    assert_eq!(
        all,
        "[tick] line 1\n[tick] line 2\n[tick] line 3\n[tick] line 4\n[tock] done\n"
    );
    assert_eq!(
        format!("{first_one}{rest_one}"),
        "line 1\nline 2\nline 3\nline 4\n"
    );
    // Once the run has ended, following prints it all and returns.
    assert_eq!(stdout(p.path(), h, &["logs", &id, "--follow"]), all);
}

#[test]
fn a_killed_run_is_interrupted() {
    let p = project(&[(
        "sleepy.yaml",
        "name: sleepy\nsteps:\n  - id: nap\n    run: 'echo $$ > step.pid; echo napping; exec sleep 30'\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let mut child = spawn_run(p.path(), h, "sleepy.yaml");
    let id = wait_running(p.path(), h);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.path().join("step.pid").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let live = json(p.path(), h, &["history", "--json"]);
    assert_eq!(field(&live, "status"), [&Value::from("running")]);
    assert_eq!(
        json(
            p.path(),
            h,
            &["history", "--json", "--status", "interrupted"]
        ),
        Value::Array(vec![])
    );

    child.kill().expect("SIGKILL orch");
    child.wait().expect("reap orch");
    // The step's process outlives orch under SIGKILL; stop it too.
    if let Ok(pid) = std::fs::read_to_string(p.path().join("step.pid")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    let runs = json(p.path(), h, &["history", "--json"]);
    assert_eq!(ids(&runs), [id.as_str()]);
    assert_eq!(field(&runs, "status"), [&Value::from("interrupted")]);
    assert!(runs[0]["finished_at"].is_null());
    let interrupted = json(
        p.path(),
        h,
        &["history", "--json", "--status", "interrupted"],
    );
    assert_eq!(ids(&interrupted), [id.as_str()]);
    assert_eq!(
        json(p.path(), h, &["history", "--json", "--status", "running"]),
        Value::Array(vec![])
    );
    let show = json(p.path(), h, &["show", "last", "--json"]);
    assert_eq!(show["status"], "interrupted");
    assert_eq!(step(&show, "nap")["status"], "interrupted");
    assert!(stdout(p.path(), h, &["history"]).contains(" interrupted "));
    // Following a dead run prints what it wrote and returns.
    let started = Instant::now();
    assert_eq!(
        stdout(p.path(), h, &["logs", "last", "--follow"]),
        "[nap] napping\n"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn stats_per_step() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "flaky.yaml", 1);
    run(p.path(), h, "flaky.yaml", 0);
    run(p.path(), h, "flaky.yaml", 0);
    run(p.path(), h, "ok.yaml", 0);

    let stats = json(p.path(), h, &["stats", "flaky", "--json"]);
    let rows = stats.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert_eq!(names, ["maybe", "after", "fan"], "file order: {stats}");
    assert!(rows.iter().all(|r| r["workflow"] == "flaky"));
    let maybe = &rows[0];
    assert_eq!(maybe["runs"], 3);
    assert_eq!(maybe["failures"], 1);
    let rate = maybe["failure_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-6, "{rate}");
    let (p50, p95) = (
        maybe["p50_ms"].as_i64().unwrap(),
        maybe["p95_ms"].as_i64().unwrap(),
    );
    assert!(0 <= p50 && p50 <= p95, "{maybe}");
    // Skipped the first time: two runs, no failure.
    assert_eq!(rows[1]["runs"], 2);
    assert_eq!(rows[1]["failures"], 0);
    assert_eq!(rows[1]["failure_rate"], 0.0);
    // for_each items are not counted as runs of their step.
    assert_eq!(rows[2]["runs"], 3);

    let all = json(p.path(), h, &["stats", "--json"]);
    let pairs: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["workflow"].as_str().unwrap().to_string(),
                r["step"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs
            .iter()
            .map(|(w, s)| format!("{w}.{s}"))
            .collect::<Vec<_>>(),
        [
            "flaky.maybe",
            "flaky.after",
            "flaky.fan",
            "ok.hello",
            "ok.noisy",
            "ok.build"
        ]
    );

    let table = stdout(p.path(), h, &["stats", "flaky"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("STEP"), "{table}");
    assert!(
        lines[1].starts_with("maybe") && lines[1].contains("33.3%"),
        "{table}"
    );

    let err = fails(p.path(), h, &["stats", "flakey"]);
    assert!(err.contains("did you mean `flaky`?"), "{err}");
}

#[test]
fn prune_deletes_old_runs_and_their_files() {
    let p = files();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "ok.yaml", 0);
    run(p.path(), h, "bad.yaml", 1);
    let runs = ids(&json(p.path(), h, &["history", "--json"]));
    let (newer, older) = (runs[0].clone(), runs[1].clone());
    for id in [&newer, &older] {
        assert!(h.join("logs").join(id).is_dir());
        assert!(h.join("locks").join(id).is_file());
    }

    let dry = stdout(
        p.path(),
        h,
        &["history", "prune", "--older-than", "0s", "--dry-run"],
    );
    assert_eq!(dry, "would delete 2 runs\n");
    assert_eq!(ids(&json(p.path(), h, &["history", "--json"])).len(), 2);
    assert!(h.join("logs").join(&older).is_dir());
    assert_eq!(
        stdout(p.path(), h, &["history", "prune", "--older-than", "1d"]),
        "deleted 0 runs\n"
    );

    backdate(h, &older, 2);
    let out = stdout(
        p.path(),
        h,
        &["history", "prune", "--older-than", "1d", "-v"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "deleted 1 run", "{out}");
    assert!(
        lines[1].contains(&older) && lines[1].contains(" ok "),
        "{out}"
    );
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        ids(&json(p.path(), h, &["history", "--json"])),
        [newer.as_str()]
    );
    assert!(!h.join("logs").join(&older).exists());
    assert!(!h.join("locks").join(&older).exists());
    assert!(h.join("logs").join(&newer).is_dir());
    assert!(fails(p.path(), h, &["show", &older]).contains("no run"));
    // Its steps went with it: stats no longer know the workflow.
    assert!(fails(p.path(), h, &["stats", "ok"]).contains("no runs of workflow `ok`"));
    assert_eq!(json(p.path(), h, &["stats", "bad", "--json"])[0]["runs"], 1);

    assert_eq!(
        stdout(p.path(), h, &["history", "prune", "--older-than", "0s"]),
        "deleted 1 run\n"
    );
    assert_eq!(
        json(p.path(), h, &["history", "--json"]),
        Value::Array(vec![])
    );
    assert!(!h.join("logs").join(&newer).exists());
    let db = rusqlite::Connection::open(h.join("history.db")).unwrap();
    for table in ["runs", "steps", "attempts", "approvals"] {
        let n: i64 = db
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

#[test]
fn logs_of_a_fan_out_print_every_item_and_a_cached_step_says_so() {
    let p = project(&[(
        "w.yaml",
        "name: l\nsteps:\n  - id: fan\n    for_each: [a, b]\n    run: echo hello ${{ item }}\n  - id: built\n    cache: true\n    run: echo building\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        orch_in(p.path(), home.path())
            .args(["run", "w.yaml"])
            .assert()
            .success();
    }
    let out = orch_in(p.path(), home.path())
        .args(["logs", "last", "fan"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "== fan[0] ==\nhello a\n== fan[1] ==\nhello b\n"
    );
    let out = orch_in(p.path(), home.path())
        .args(["logs", "last", "built"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`built` was cached"));
}

/// `orch stats` counts executions that ran: a failure a resume fixed
/// stays a failed run, cached results are a column of their own (not 0 ms
/// runs), and a step cancelled before it started did not run.
#[test]
fn stats_count_what_ran() {
    let p = project(&[
        (
            "fixes.yaml",
            "name: fixes\nsteps:\n  - id: flip\n    run: 'if [ -f fixed ]; then echo ok; else touch fixed; exit 3; fi'\n",
        ),
        (
            "cached.yaml",
            "name: cached\nsteps:\n  - id: slow\n    cache: true\n    run: sleep 0.3\n",
        ),
        (
            "stopped.yaml",
            "name: stopped\nsteps:\n  - id: long\n    run: touch started; sleep 30\n  - id: late\n    needs: long\n    run: echo never\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "fixes.yaml", 1);
    let resumed = orch_in(p.path(), h)
        .args(["resume", "last", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0));
    for _ in 0..3 {
        run(p.path(), h, "cached.yaml", 0);
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "stopped.yaml", "--output", "plain"])
        .current_dir(p.path())
        .env("ORCH_HOME", h)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.path().join("started").exists() {
        assert!(Instant::now() < deadline, "`long` never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));

    let stats = json(p.path(), h, &["stats", "--json"]);
    let row = |w: &str, s: &str| {
        stats
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["workflow"] == w && r["step"] == s)
            .unwrap_or_else(|| panic!("no {w}.{s} in {stats}"))
            .clone()
    };
    let flip = row("fixes", "flip");
    assert_eq!(
        (flip["runs"].as_i64(), flip["failures"].as_i64()),
        (Some(2), Some(1)),
        "{flip}"
    );
    assert_eq!(flip["failure_rate"], 0.5);
    let slow = row("cached", "slow");
    assert_eq!(
        (slow["runs"].as_i64(), slow["cached"].as_i64()),
        (Some(1), Some(2)),
        "{slow}"
    );
    assert!(slow["p50_ms"].as_i64().unwrap() >= 300, "{slow}");
    let long = row("stopped", "long");
    assert_eq!(
        (long["runs"].as_i64(), long["failures"].as_i64()),
        (Some(1), Some(0)),
        "{long}"
    );
    let late = row("stopped", "late");
    assert_eq!(
        (late["runs"].as_i64(), late["p50_ms"].as_i64()),
        (Some(0), None),
        "{late}"
    );

    let table = stdout(p.path(), h, &["stats", "cached"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains(" CACHED "), "{table}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..5], ["slow", "1", "0", "0.0%", "2"], "{table}");
}

/// `orch show` gives exit codes and HTTP statuses their own columns, and
/// says who approved a step and what they said, in the table and in JSON.
#[test]
fn show_separates_exit_and_http_and_names_the_approver() {
    let srv = orch_testserver::TestServer::start();
    let wf = format!(
        "name: shown\nsteps:\n  - id: sh\n    run: exit 0\n  - id: ping\n    http: {{ url: '{}' }}\n  - id: gate\n    needs: [sh, ping]\n    approval: {{ message: go? }}\n",
        srv.url("/ok")
    );
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    run(p.path(), h, "w.yaml", 3);
    stdout(
        p.path(),
        h,
        &["approve", "last", "gate", "--comment", "looks good"],
    );
    stdout(p.path(), h, &["resume", "last", "--output", "plain"]);
    let by: String = crate::history_store::db(h)
        .query_row("SELECT decided_by FROM approvals", [], |r| r.get(0))
        .unwrap();

    let table = stdout(p.path(), h, &["show", "last"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let header = lines.iter().find(|l| l.first() == Some(&"STEP")).unwrap();
    assert_eq!(
        header,
        &["STEP", "STATUS", "ATTEMPTS", "DURATION", "EXIT", "HTTP", "NOTE"],
        "{table}"
    );
    let row = |id: &str| {
        lines
            .iter()
            .find(|l| l.first() == Some(&id))
            .unwrap()
            .clone()
    };
    assert_eq!(row("sh")[4..6], ["0", "-"], "{table}");
    assert_eq!(row("ping")[4..6], ["-", "200"], "{table}");
    let note = format!("approved by {by}: looks good");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("gate") && l.trim_end().ends_with(&note)),
        "{table}"
    );

    let shown = json(p.path(), h, &["show", "last", "--json"]);
    let step = |id: &str| {
        shown["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(step("ping")["http_status"], 200);
    assert_eq!(step("ping")["exit_code"], Value::Null);
    assert_eq!(
        step("gate")["approval"],
        serde_json::json!({"decision": "approved", "by": by, "comment": "looks good"})
    );
    assert!(step("sh").get("approval").is_none());
}
