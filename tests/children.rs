//! `workflow:` steps: a child run of its own in the history, linked to its
//! parent, its outputs as the step's; failure, Ctrl-C and `orch show`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::{events, orch_in, project, repo_root};

fn json_of(dir: &Path, home: &Path, args: &[&str]) -> Json {
    let out = orch_in(dir, home).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The JSON events of a run of `file` (from the repo root) that succeeds.
fn run_example(home: &std::path::Path, file: &str) -> Vec<Json> {
    let out = orch_in(&repo_root(), home)
        .args(["run", file, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
}

#[test]
fn the_sub_workflows_example_runs_one_child_per_region() {
    let home = tempfile::tempdir().unwrap();
    let root = repo_root();
    let evs = run_example(home.path(), "examples/sub-workflows/release.yaml");
    let last = evs.last().unwrap();
    assert_eq!(last["event"], "orchestration.run.completed");
    assert_eq!(last["outputs"]["deployed"], 3);
    assert!(last["outputs"]["first_url"]
        .as_str()
        .unwrap()
        .starts_with("https://eu.example.com/releases/1.4."));
    let parent = last["run_id"].as_str().unwrap().to_string();

    // The child's steps are in the parent's stream, under the step that ran
    // them, with the child's own run id.
    let nested: Vec<&Json> = evs
        .iter()
        .filter(|e| e["step_id"] == "deploy[1]/upload")
        .collect();
    assert!(!nested.is_empty(), "no nested events");
    assert!(nested.iter().all(|e| e["run_id"] != parent.as_str()));

    let runs = json_of(&root, home.path(), &["history", "--json"]);
    let children: Vec<&Json> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["parent_run_id"] == parent.as_str())
        .collect();
    assert_eq!(children.len(), 3, "{runs:#}");
    assert!(children
        .iter()
        .all(|c| c["workflow"] == "deploy-region" && c["status"] == "succeeded"));
    let top = json_of(&root, home.path(), &["history", "--json", "--no-children"]);
    assert_eq!(top.as_array().unwrap().len(), 1);
    assert_eq!(top[0]["id"], parent.as_str());

    // `last` is the parent, not its newest child; it lists every child.
    let shown = json_of(&root, home.path(), &["show", "last", "--json"]);
    assert_eq!(shown["id"], parent.as_str());
    let child_ids: Vec<&str> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["child_run_id"].as_str())
        .collect();
    assert_eq!(child_ids.len(), 3);
    for c in &children {
        assert!(child_ids.contains(&c["id"].as_str().unwrap()));
    }
    let text = orch_in(&root, home.path())
        .args(["show", child_ids[0]])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("parent    {parent}")), "{text}");
    let text = orch_in(&root, home.path())
        .args(["show", "last"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("CHILD RUN") && text.contains(child_ids[0]),
        "{text}"
    );
}

const FAILING_CHILD: &str = "name: child\ninputs:\n  code: { type: number, default: 3 }\nsteps:\n  - id: fail\n    run: exit ${{ inputs.code }}\n";

#[test]
fn a_failing_child_fails_its_step_and_the_parent() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - id: sub\n    workflow: lib/child.yaml\n    with: { code: 4 }\n  - id: after\n    needs: sub\n    run: touch after-ran\n",
        ),
        ("lib/child.yaml", FAILING_CHILD),
    ]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "parent.yaml", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let evs = events(&out.stdout);
    let failed = evs
        .iter()
        .find(|e| e["event"] == "orchestration.step.failed" && e["step_id"] == "sub")
        .expect("sub failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("failed") && error.contains("step `fail` failed"),
        "{error}"
    );
    assert!(evs
        .iter()
        .any(|e| e["event"] == "orchestration.step.skipped" && e["step_id"] == "after"));
    assert!(!p.path().join("after-ran").exists());
    let runs = json_of(p.path(), home.path(), &["history", "--json"]);
    let statuses: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["workflow"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(statuses.contains(&("child", "failed")), "{statuses:?}");
    assert!(statuses.contains(&("parent", "failed")), "{statuses:?}");
}

#[test]
fn validate_checks_the_child_and_its_inputs() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - id: sub\n    workflow: lib/child.yaml\n    with: { cod: 4 }\n",
        ),
        ("lib/child.yaml", FAILING_CHILD),
    ]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["validate", "parent.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("workflow `child` has no input `cod`"), "{err}");
    assert!(err.contains("parent.yaml:5:13"), "{err}");
    assert!(err.contains("did you mean `code`?"), "{err}");
}

#[test]
fn ctrl_c_reaches_the_steps_of_a_child_run() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - id: sub\n    workflow: child.yaml\n",
        ),
        (
            "child.yaml",
            "name: child\nsteps:\n  - id: long\n    run: 'sleep 30 & echo $! > bg.pid; wait'\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "parent.yaml", "--output", "plain", "--grace", "2s"])
        .current_dir(p.path())
        .env("ORCH_HOME", home.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = p.path().join("bg.pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(st) = run.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = (0..100).any(|_| {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if alive {
            std::thread::sleep(Duration::from_millis(20));
        }
        !alive
    });
    assert!(gone, "the child's step {pid} survived the cancel");
    let runs = json_of(p.path(), home.path(), &["history", "--json"]);
    for r in runs.as_array().unwrap() {
        assert_eq!(r["status"], "cancelled", "{r}");
    }
    assert_eq!(runs.as_array().unwrap().len(), 2);
}

#[test]
fn child_steps_count_against_the_parents_concurrency() {
    // Two children at once, each with two independent steps: at `-j 2` for
    // the whole tree, never more than two of the four run at a time.
    let step = |id: &str| {
        format!(
            "  - id: {id}\n    run: 'echo \"start $(date +%s%N)\" >> \"$T\"; sleep 0.3; echo \"end $(date +%s%N)\" >> \"$T\"'\n"
        )
    };
    let child = format!(
        "name: child\nenv: {{ T: \"${{{{ env.TIMELINE }}}}\" }}\nsteps:\n{}{}",
        step("a"),
        step("b")
    );
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - { id: one, workflow: child.yaml }\n  - { id: two, workflow: child.yaml }\n",
        ),
        ("child.yaml", &child),
    ]);
    let home = tempfile::tempdir().unwrap();
    let timeline = p.path().join("timeline");
    orch_in(p.path(), home.path())
        .args(["run", "parent.yaml", "-j", "2", "--output", "plain"])
        .env("TIMELINE", &timeline)
        .assert()
        .success();
    let mut marks: Vec<(u128, i32)> = std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .map(|l| {
            let (what, t) = l.split_once(' ').unwrap();
            (t.parse().unwrap(), if what == "start" { 1 } else { -1 })
        })
        .collect();
    assert_eq!(marks.len(), 8, "four steps ran");
    // Ends before starts at the same instant.
    marks.sort();
    let mut running = 0;
    let mut most = 0;
    for (_, d) in marks {
        running += d;
        most = most.max(running);
    }
    assert_eq!(most, 2, "at most -j steps of the whole tree at once");
}

const RESUMABLE_CHILD: &str = "name: child\nsteps:\n  - id: a\n    run: echo a >> runs.txt\n  - id: b\n    needs: a\n    run: 'test -f fixed || { echo $$ > b.pid; sleep ${SLOW:-0}; exit 1; }'\n";

fn children_of(dir: &Path, home: &Path, parent: &str) -> Vec<Json> {
    json_of(dir, home, &["history", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["parent_run_id"] == parent)
        .cloned()
        .collect()
}

#[test]
fn resuming_the_parent_continues_the_same_child_run() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - { id: sub, workflow: child.yaml }\n  - { id: after, needs: sub, run: 'true' }\n",
        ),
        ("child.yaml", RESUMABLE_CHILD),
    ]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "parent.yaml"])
        .assert()
        .code(1);
    let parent = json_of(p.path(), home.path(), &["show", "last", "--json"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = children_of(p.path(), home.path(), &parent);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["status"], "failed");
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .assert()
        .success();
    let after = children_of(p.path(), home.path(), &parent);
    assert_eq!(after.len(), 1, "no second child: {after:#?}");
    assert_eq!(after[0]["id"], before[0]["id"]);
    assert_eq!(after[0]["status"], "succeeded");
    let child = json_of(
        p.path(),
        home.path(),
        &["show", after[0]["id"].as_str().unwrap(), "--json"],
    );
    assert_eq!(child["attempt"], 2);
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(runs.lines().count(), 1, "`a` finished and was kept");
}

#[test]
fn kill_9_inside_a_child_then_resume_loses_nothing_finished() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - { id: sub, workflow: child.yaml }\n",
        ),
        ("child.yaml", RESUMABLE_CHILD),
    ]);
    let home = tempfile::tempdir().unwrap();
    let mut run = std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "parent.yaml", "--output", "plain"])
        .current_dir(p.path())
        .env("ORCH_HOME", home.path())
        .env("SLOW", "30")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `a` finished (and is on disk) once `b` has started.
    let pid_file = p.path().join("b.pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    run.kill().unwrap();
    run.wait().unwrap();
    // orch died with the step's process group still running: stop it.
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .assert()
        .success();
    let top = json_of(
        p.path(),
        home.path(),
        &["history", "--json", "--no-children"],
    );
    let parent = top[0]["id"].as_str().unwrap().to_string();
    assert_eq!(top[0]["status"], "succeeded");
    let children = children_of(p.path(), home.path(), &parent);
    assert_eq!(
        children.len(),
        1,
        "the killed child was continued: {children:#?}"
    );
    assert_eq!(children[0]["status"], "succeeded");
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(runs.lines().count(), 1, "`a` is not run again");
}

#[test]
fn a_child_run_is_undone_at_its_steps_place_in_the_parents_saga() {
    let p = project(&[
        (
            "parent.yaml",
            "name: trip\nsteps:\n  - id: reserve\n    run: echo reserve >> log\n    compensate: { run: echo undo-reserve >> log }\n  - { id: sub, needs: reserve, workflow: child.yaml }\n  - { id: pay, needs: sub, run: 'sleep 0.1; exit 1' }\n  - id: late\n    needs: reserve\n    run: sleep 0.05; echo late >> log\n    compensate: { run: echo undo-late >> log }\n",
        ),
        (
            "child.yaml",
            "name: booking\nsteps:\n  - id: book\n    run: echo book >> log\n    compensate: { run: echo undo-book >> log }\n  - id: seat\n    needs: book\n    run: echo seat >> log\n    compensate: { run: echo undo-seat >> log }\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "parent.yaml"])
        .assert()
        .code(1);
    let log = std::fs::read_to_string(p.path().join("log")).unwrap();
    let undone: Vec<&str> = log.lines().filter(|l| l.starts_with("undo-")).collect();
    // `late` finished after the child did: undone first; then the child's
    // own steps in their reverse order; `reserve` (first to finish) last.
    let finished: Vec<&str> = log.lines().filter(|l| !l.starts_with("undo-")).collect();
    let late_after_child =
        finished.iter().position(|l| *l == "late") > finished.iter().position(|l| *l == "seat");
    let expected: Vec<&str> = if late_after_child {
        vec!["undo-late", "undo-seat", "undo-book", "undo-reserve"]
    } else {
        vec!["undo-seat", "undo-book", "undo-late", "undo-reserve"]
    };
    assert_eq!(undone, expected, "{log}");
    let shown = json_of(p.path(), home.path(), &["show", "last", "--json"]);
    let sub = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "sub")
        .unwrap();
    assert_eq!(sub["status"], "compensated");
}

#[test]
fn resume_reruns_only_the_items_of_a_fan_out_that_did_not_succeed() {
    // `run` items and `workflow:` items alike: b fails until `fixed` exists.
    let p = project(&[
        (
            "w.yaml",
            "name: fe\nsteps:\n  - id: shell\n    for_each: [a, b, c]\n    run: 'echo ${{ item }} >> ran; test \"${{ item }}\" != b || test -f fixed'\n  - id: sub\n    for_each: [a, b, c]\n    workflow: child.yaml\n    with: { name: \"${{ item }}\" }\n",
        ),
        (
            "child.yaml",
            "name: child\ninputs:\n  name: { type: string }\nsteps:\n  - id: s\n    run: 'echo child-${{ inputs.name }} >> ran; test \"${{ inputs.name }}\" != b || test -f fixed'\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(1);
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .assert()
        .success();
    let ran = std::fs::read_to_string(p.path().join("ran")).unwrap();
    let count = |what: &str| ran.lines().filter(|l| *l == what).count();
    for (item, times) in [("a", 1), ("b", 2), ("c", 1)] {
        assert_eq!(count(item), times, "run item {item}: {ran}");
        assert_eq!(
            count(&format!("child-{item}")),
            times,
            "child {item}: {ran}"
        );
    }
    let shown = json_of(p.path(), home.path(), &["show", "last", "--json"]);
    assert_eq!(shown["status"], "succeeded");
    let parent = shown["id"].as_str().unwrap().to_string();
    // Three children in all: b's was continued, a's and c's kept.
    assert_eq!(children_of(p.path(), home.path(), &parent).len(), 3);
}

#[test]
fn a_secret_of_the_child_is_masked_in_the_parents_output() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - { id: sub, workflow: child.yaml }\n",
        ),
        (
            "child.yaml",
            "name: child\nsteps:\n  - id: leak\n    env: { T: \"${{ secrets.canary }}\" }\n    run: echo \"token is $T\"\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "parent.yaml", "--output", "plain"])
        .env("ORCH_SECRET_CANARY", "c4nary-Secret-9137")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[sub/leak] token is ***"), "{stdout}");
    assert!(!stdout.contains("c4nary-Secret-9137"), "{stdout}");
    let logs = walk_text(&home.path().join("logs"));
    assert!(!logs.contains("c4nary-Secret-9137"));
    assert!(logs.contains("token is ***"), "{logs}");
}

/// Every file below `dir`, concatenated.
fn walk_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&walk_text(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(&p).unwrap_or_default(),
            ));
        }
    }
    out
}

#[test]
fn a_cached_workflow_step_is_keyed_by_the_child_file_and_its_inputs() {
    let p = project(&[
        (
            "parent.yaml",
            "name: parent\nsteps:\n  - id: sub\n    cache: true\n    workflow: child.yaml\n    with: { n: 1 }\n",
        ),
        (
            "child.yaml",
            "name: child\ninputs:\n  n: { type: number }\nsteps:\n  - id: s\n    run: echo ran >> runs.txt\n",
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let run = || {
        orch_in(p.path(), home.path())
            .args(["run", "parent.yaml", "--output", "json"])
            .output()
            .unwrap()
    };
    let runs = || {
        std::fs::read_to_string(p.path().join("runs.txt"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    run();
    let second = run();
    assert_eq!(runs(), 1, "the second run is a cache hit");
    assert!(String::from_utf8_lossy(&second.stdout).contains("orchestration.step.cached"));
    // Another child file is another key.
    std::fs::write(
        p.path().join("child.yaml"),
        "name: child\ninputs:\n  n: { type: number }\nsteps:\n  - id: s\n    run: echo ran >> runs.txt\n  - { id: t, run: 'true' }\n",
    )
    .unwrap();
    run();
    assert_eq!(runs(), 2, "a changed child file misses");
}

#[test]
fn workflow_files_nest_at_most_sixteen_deep() {
    let files: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("c{i}.yaml"),
                format!(
                    "name: c{i}\nsteps:\n  - {{ id: next, workflow: c{}.yaml }}\n",
                    i + 1
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = project(&refs);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["validate", "c0.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nest deeper than 16 files"), "{err}");
    assert!(
        err.contains("c15.yaml"),
        "the 16th file names the 17th: {err}"
    );
}

#[test]
fn the_rollout_example_runs_a_canary_then_each_region() {
    let home = tempfile::tempdir().unwrap();
    let root = repo_root();
    let evs = run_example(home.path(), "examples/sub-workflows/rollout.yaml");
    let last = evs.last().unwrap();
    assert_eq!(last["event"], "orchestration.run.completed");
    let version = last["outputs"]["version"].as_str().unwrap();
    assert!(version.starts_with("2.0."), "{last:#}");
    assert_eq!(
        last["outputs"]["canary_url"],
        format!("https://canary.example.com/releases/{version}")
    );
    let parent = last["run_id"].as_str().unwrap().to_string();
    let runs = json_of(&root, home.path(), &["history", "--json"]);
    let children = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["parent_run_id"] == parent.as_str())
        .count();
    assert_eq!(children, 3, "the canary and two regions: {runs:#}");
}
