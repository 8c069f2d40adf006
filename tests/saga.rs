//! Saga compensation: real runs, a real history file. Completed steps with
//! `compensate:` are undone in reverse order of completion when the run
//! fails or is cancelled, one at a time; a failing compensation does not
//! stop the others; a `kill -9` during compensation is finished by resume.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::{events, orch_in, project, repo_root};

/// Three parallel steps whose completion order (b, c, a) is not the file
/// order, then a step that fails. Each compensation appends to undone.txt.
const PARALLEL: &str = r#"
name: saga
steps:
  - id: a
    run: sleep 0.6; echo a done
    compensate:
      run: echo "undo a ${{ steps.a.status }}" >> undone.txt
  - id: b
    run: sleep 0.05; echo "v=from-b" >> "$ORCH_OUTPUT"
    compensate:
      run: echo "undo b ${{ steps.b.outputs.v }}" >> undone.txt
  - id: c
    run: sleep 0.3
    compensate:
      run: echo "undo c" | tee -a undone.txt
  - id: plain
    run: "true"
  - id: last
    needs: [a, b, c, plain]
    run: exit ${{ inputs.code }}
inputs:
  code: { type: number, default: 1 }
on_failure:
  - id: alert
    run: echo alert >> undone.txt
finally:
  - id: fin
    run: echo "fin a=${{ steps.a.status }}" >> undone.txt
"#;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn lines(dir: &Path, name: &str) -> Vec<String> {
    read(dir, name).lines().map(str::to_string).collect()
}

fn run_json(dir: &Path, home: &Path, file: &str, args: &[&str]) -> (i32, Vec<Json>) {
    let out = orch_in(dir, home)
        .args(["run", file, "--output", "json"])
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), events(&out.stdout))
}

fn of<'a>(evs: &'a [Json], name: &str) -> Vec<&'a str> {
    evs.iter()
        .filter(|e| e["event"] == name)
        .filter_map(|e| e["step_id"].as_str())
        .collect()
}

#[test]
fn completed_steps_are_undone_in_reverse_order_of_completion() {
    let p = project(&[("w.yaml", PARALLEL)]);
    let home = tempfile::tempdir().unwrap();
    let (code, evs) = run_json(p.path(), home.path(), "w.yaml", &[]);
    assert_eq!(code, 1);
    // Finished b, c, a: undone a, c, b; after on_failure, before finally.
    assert_eq!(
        lines(p.path(), "undone.txt"),
        [
            "alert",
            "undo a succeeded",
            "undo c",
            "undo b from-b",
            "fin a=compensated"
        ]
    );
    assert_eq!(
        of(&evs, "orchestration.compensation.started"),
        ["a", "c", "b"]
    );
    assert_eq!(
        of(&evs, "orchestration.compensation.completed"),
        ["a", "c", "b"]
    );
    assert_eq!(of(&evs, "orchestration.step.compensated"), ["a", "c", "b"]);
    let last = evs.last().unwrap();
    assert_eq!(last["event"], "orchestration.run.failed");
    assert_eq!(last["error"], "step `last` failed");

    // History: statuses, the compensation rows, and their logs.
    let show = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let run: Json = serde_json::from_slice(&show.stdout).unwrap();
    let step = |id: &str| {
        run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    for id in ["a", "b", "c"] {
        assert_eq!(step(id)["status"], "compensated", "{run:#}");
        assert_eq!(step(id)["compensation"]["status"], "succeeded");
        assert_eq!(step(id)["compensation"]["attempts"], 1);
    }
    assert_eq!(step("plain")["status"], "succeeded");
    assert!(step("plain").get("compensation").is_none());
    assert!(step("last").get("compensation").is_none());
    let text = orch_in(p.path(), home.path())
        .args(["show", "last"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.matches("↶ compensate  succeeded").count(), 3, "{text}");

    orch_in(p.path(), home.path())
        .args(["logs", "last", "plain", "--compensation"])
        .assert()
        .code(2);
    // A compensation's output is its own log, not the step's.
    let c = orch_in(p.path(), home.path())
        .args(["logs", "last", "c", "--compensation"])
        .output()
        .unwrap();
    assert!(c.status.success());
    assert_eq!(String::from_utf8_lossy(&c.stdout), "undo c\n");
    let c = orch_in(p.path(), home.path())
        .args(["logs", "last", "c"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&c.stdout), "");
}

#[test]
fn nothing_is_undone_when_the_run_succeeds() {
    let p = project(&[("w.yaml", PARALLEL)]);
    let home = tempfile::tempdir().unwrap();
    let (code, evs) = run_json(p.path(), home.path(), "w.yaml", &["-i", "code=0"]);
    assert_eq!(code, 0);
    assert_eq!(lines(p.path(), "undone.txt"), ["fin a=succeeded"]);
    assert!(of(&evs, "orchestration.compensation.started").is_empty());
    assert!(of(&evs, "orchestration.step.compensated").is_empty());
}

#[test]
fn a_failing_compensation_is_reported_and_the_others_still_run() {
    let wf = r#"
name: saga
steps:
  - id: a
    run: "true"
    compensate:
      run: echo "undo a" >> undone.txt
  - id: b
    needs: a
    run: "true"
    compensate:
      run: echo "undo b" >> undone.txt; echo "no refund" >&2; exit 3
      retry: { max_attempts: 2 }
  - id: c
    needs: b
    run: exit 1
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let (code, evs) = run_json(p.path(), home.path(), "w.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        lines(p.path(), "undone.txt"),
        ["undo b", "undo b", "undo a"]
    );
    assert_eq!(of(&evs, "orchestration.compensation.failed"), ["b"]);
    assert_eq!(of(&evs, "orchestration.step.compensated"), ["a"]);
    let last = evs.last().unwrap();
    assert_eq!(last["event"], "orchestration.run.failed");
    assert_eq!(
        last["error"],
        "step `c` failed; compensation of `b` failed: exited with code 3"
    );
    let show = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let run: Json = serde_json::from_slice(&show.stdout).unwrap();
    let b = &run["steps"][1];
    assert_eq!(b["status"], "succeeded");
    assert_eq!(b["compensation"]["status"], "failed");
    assert_eq!(b["compensation"]["attempts"], 2);
    assert_eq!(b["compensation"]["error"], "exited with code 3");

    // The summary in plain output names it too.
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("compensation of `b` failed: exited with code 3"),
        "{text}"
    );
}

#[test]
fn for_each_items_are_undone_one_by_one() {
    let wf = r#"
name: saga
steps:
  - id: fan
    for_each: [6, 1, 3]
    max_parallel: 3
    run: sleep 0.${{ item }}
    compensate:
      run: echo "undo ${{ index }}=${{ item }}" >> undone.txt
  - id: boom
    needs: fan
    run: exit 1
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let (code, evs) = run_json(p.path(), home.path(), "w.yaml", &[]);
    assert_eq!(code, 1);
    // Items finished 1, 2, 0: undone 0, 2, 1.
    assert_eq!(
        lines(p.path(), "undone.txt"),
        ["undo 0=6", "undo 2=3", "undo 1=1"]
    );
    assert_eq!(
        of(&evs, "orchestration.step.compensated"),
        ["fan[0]", "fan[2]", "fan[1]", "fan"]
    );
}

/// Start `orch run w.yaml` as the leader of its own process group and wait
/// until `marker` exists.
fn spawn_until(dir: &Path, home: &Path, marker: &str) -> std::process::Child {
    let child = Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "w.yaml", "--output", "plain", "--grace", "2s"])
        .current_dir(dir)
        .env("ORCH_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join(marker).exists() {
        assert!(Instant::now() < deadline, "timed out waiting for {marker}");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn wait_code(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

#[test]
fn ctrl_c_undoes_what_completed_then_runs_finally() {
    let wf = r#"
name: saga
steps:
  - id: booked
    run: "true"
    compensate:
      run: sleep 0.3; echo "undo booked" >> undone.txt
  - id: long
    needs: booked
    run: touch long-started; sleep 30
    compensate:
      run: echo "undo long" >> undone.txt
finally:
  - id: fin
    run: echo fin >> undone.txt
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_until(p.path(), home.path(), "long-started");
    signal(&child, nix::sys::signal::Signal::SIGINT);
    assert_eq!(wait_code(&mut child, Duration::from_secs(15)), Some(130));
    // `long` was cancelled, not completed: only `booked` is undone.
    assert_eq!(lines(p.path(), "undone.txt"), ["undo booked", "fin"]);
    let show = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let run: Json = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["steps"][0]["status"], "compensated");
    assert_eq!(run["steps"][1]["status"], "cancelled");
}

#[test]
fn a_second_ctrl_c_stops_the_compensations() {
    let wf = r#"
name: saga
steps:
  - id: first
    run: "true"
    compensate:
      run: echo "undo first" >> undone.txt
  - id: second
    needs: first
    run: "true"
    compensate:
      run: touch undoing; sleep 30; echo "undo second" >> undone.txt
  - id: long
    needs: second
    run: touch long-started; sleep 30
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_until(p.path(), home.path(), "long-started");
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !p.path().join("undoing").exists() {
        assert!(Instant::now() < deadline, "the compensation did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let started = Instant::now();
    assert_eq!(wait_code(&mut child, Duration::from_secs(10)), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(read(p.path(), "undone.txt"), "");
}

#[test]
fn kill_9_during_compensation_then_resume_finishes_the_rest_once() {
    let wf = r#"
name: saga
steps:
  - id: a
    run: "true"
    compensate:
      run: echo "undo a" >> undone.txt
  - id: b
    needs: a
    run: "true"
    compensate:
      run: echo "undo b" >> undone.txt; touch b-undoing; test -f slow && sleep 30 || true
  - id: c
    needs: b
    run: "true"
    compensate:
      run: echo "undo c" >> undone.txt
  - id: d
    needs: c
    run: echo d >> ran.txt; exit 1
finally:
  - id: fin
    run: echo fin >> undone.txt
"#;
    let p = project(&[("w.yaml", wf), ("slow", "")]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_until(p.path(), home.path(), "b-undoing");
    let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = child.wait();
    std::fs::remove_file(p.path().join("slow")).unwrap();
    assert_eq!(lines(p.path(), "undone.txt"), ["undo c", "undo b"]);

    let shown = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let run: Json = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(run["status"], "interrupted");
    assert_eq!(run["steps"][1]["compensation"]["status"], "interrupted");
    assert_eq!(run["steps"][2]["status"], "compensated");

    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "json"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let evs = events(&out.stdout);
    // The interrupted one runs again, the finished one does not, no step
    // runs again; then `finally`.
    assert_eq!(
        lines(p.path(), "undone.txt"),
        ["undo c", "undo b", "undo b", "undo a", "fin"]
    );
    assert_eq!(lines(p.path(), "ran.txt"), ["d"]);
    assert_eq!(of(&evs, "orchestration.step.compensated"), ["b", "a"]);
    assert_eq!(evs.last().unwrap()["event"], "orchestration.run.failed");

    let shown = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let run: Json = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(run["status"], "failed");
    for i in 0..3 {
        assert_eq!(run["steps"][i]["status"], "compensated", "{run:#}");
        assert_eq!(run["steps"][i]["compensation"]["status"], "succeeded");
    }
    assert_eq!(run["steps"][3]["status"], "failed");
    assert_eq!(run["steps"][4]["status"], "succeeded");

    // Undone: nothing is left to resume.
    let again = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("its compensations all ran"));
}

#[test]
fn the_saga_example_undoes_the_booking_in_reverse_order_of_completion() {
    let home = tempfile::tempdir().unwrap();
    let (code, evs) = run_json(&repo_root(), home.path(), "examples/failing-saga.yaml", &[]);
    assert_eq!(code, 1);
    // The room is reserved before the seat: undone after it.
    assert_eq!(
        of(&evs, "orchestration.step.compensated"),
        ["charge", "reserve-seat", "reserve-room"]
    );
    let receipt = evs
        .iter()
        .position(|e| e["event"] == "orchestration.step.completed" && e["step_id"] == "receipt")
        .unwrap();
    let alert = evs
        .iter()
        .position(|e| e["event"] == "orchestration.step.completed" && e["step_id"] == "alert")
        .unwrap();
    let first_undo = evs
        .iter()
        .position(|e| e["event"] == "orchestration.compensation.started")
        .unwrap();
    assert!(alert < first_undo && first_undo < receipt);
}
