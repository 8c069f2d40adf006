//! Approval steps: waiting (exit 3), approve/reject, resume, `--approve`.

use crate::common::{orch_in, project};
use crate::history_store::{db, only_run, step_status};

const GATED: &str = r#"
name: release
steps:
  - id: build
    run: echo build >> runs.txt
  - id: gate
    needs: [build]
    approval:
      message: "Ship ${{ steps.build.status }} build?"
      timeout: 1h
  - id: ship
    needs: [gate]
    run: 'echo "ship by ${{ steps.gate.approved_by }} - ${{ steps.gate.comment }}" >> runs.txt'
"#;

fn runs(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("runs.txt")).unwrap_or_default()
}

#[test]
fn without_a_terminal_the_run_waits_then_approve_and_resume() {
    let p = project(&[("w.yaml", GATED)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let (run, status) = only_run(home.path());
    assert_eq!(status, "waiting");
    assert!(err.contains(&format!("orch approve {run} gate")), "{err}");
    assert!(err.contains(&format!("orch resume {run}")), "{err}");
    let events = crate::common::events(&out.stdout);
    let requested = events
        .iter()
        .find(|e| e["event"] == "orchestration.approval.requested")
        .expect("approval.requested");
    assert_eq!(requested["approval"]["message"], "Ship succeeded build?");
    assert_eq!(events.last().unwrap()["event"], "orchestration.run.waiting");
    assert_eq!(step_status(home.path(), &run, "gate"), "pending");
    assert_eq!(step_status(home.path(), &run, "ship"), "pending");

    orch_in(p.path(), home.path())
        .args(["approve", "last", "gate", "--comment", "ticket 42"])
        .assert()
        .success();
    let (by, comment): (String, String) = db(home.path())
        .query_row(
            "SELECT decided_by, comment FROM approvals WHERE step_id = 'gate'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!by.is_empty());
    assert_eq!(comment, "ticket 42");
    // Deciding twice is refused.
    orch_in(p.path(), home.path())
        .args(["reject", "last", "gate"])
        .assert()
        .code(2);

    orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .assert()
        .success();
    let r = runs(p.path());
    assert_eq!(r.matches("build").count(), 1, "{r}");
    assert!(r.contains(&format!("ship by {by} - ticket 42")), "{r}");
    assert_eq!(only_run(home.path()).1, "succeeded");
}

#[test]
fn a_rejection_fails_the_step_on_resume() {
    let p = project(&[("w.yaml", GATED)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(3);
    orch_in(p.path(), home.path())
        .args(["reject", "last", "gate", "-m", "freeze"])
        .assert()
        .success();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rejected by"));
    let (run, status) = only_run(home.path());
    assert_eq!(status, "failed");
    assert_eq!(step_status(home.path(), &run, "gate"), "failed");
    assert_eq!(step_status(home.path(), &run, "ship"), "skipped");
    assert!(!runs(p.path()).contains("ship"));
}

#[test]
fn approve_in_advance_for_ci() {
    let p = project(&[("w.yaml", GATED)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--approve", "gate"])
        .assert()
        .success();
    assert!(runs(p.path()).contains("approved in advance"));
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--approve", "all"])
        .assert()
        .success();
    // A name that is no approval step of the workflow is a usage error.
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--approve", "other"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no step `other`"));
}

#[test]
fn a_timed_out_approval_fails_the_step() {
    let p = project(&[(
        "w.yaml",
        "name: t\nsteps:\n  - id: gate\n    approval: { message: ok?, timeout: 1s }\n  - id: after\n    needs: [gate]\n    run: touch after\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(3);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = orch_in(p.path(), home.path())
        .args(["approve", "last", "gate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("timed out"));
    assert!(!p.path().join("after").exists());
}

#[test]
fn an_approval_cannot_fan_out() {
    let p = project(&[(
        "w.yaml",
        "name: t\nsteps:\n  - id: gate\n    for_each: [1, 2]\n    approval: { message: ok? }\n",
    )]);
    let out = orch_in(p.path(), p.path())
        .args(["validate", "w.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use `for_each`"));
}

/// Run orch on a pseudo-terminal (util-linux `script`), typing `answer`
/// after `delay_ms`. `None` when `script` is missing.
fn on_a_terminal(
    dir: &std::path::Path,
    home: &std::path::Path,
    answer: Option<&str>,
    keep_open_s: u32,
) -> Option<(i32, String)> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let orch = assert_cmd::cargo::cargo_bin("orch");
    let typed = match answer {
        Some(a) => format!("sleep 0.5; echo '{a}'; sleep {keep_open_s}"),
        None => format!("sleep {keep_open_s}"),
    };
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "({typed}) | script -qec '{} run w.yaml --output plain' /dev/null",
            orch.display()
        ))
        .current_dir(dir)
        .env("ORCH_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap();
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    ))
}

#[test]
fn on_a_terminal_the_person_is_asked() {
    let p = project(&[("w.yaml", GATED)]);
    let home = tempfile::tempdir().unwrap();
    let Some((code, out)) = on_a_terminal(p.path(), home.path(), Some("yes lgtm"), 0) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Ship succeeded build?"), "{out}");
    assert!(runs(p.path()).contains("- lgtm"), "{}", runs(p.path()));
    let decision: String = db(home.path())
        .query_row("SELECT decision FROM approvals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(decision, "approved");

    let Some((code, out)) = on_a_terminal(p.path(), home.path(), Some("n"), 0) else {
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rejected by"), "{out}");
}

#[test]
fn an_unanswered_prompt_times_out() {
    let p = project(&[(
        "w.yaml",
        "name: t\nsteps:\n  - id: gate\n    approval: { message: ok?, timeout: 1s }\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let Some((code, out)) = on_a_terminal(p.path(), home.path(), None, 3) else {
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("timed out"), "{out}");
}

#[test]
fn a_waiting_approval_is_cancelled_when_another_step_fails() {
    let wf = r#"
name: mixed
steps:
  - id: gate
    approval: { message: "ok?" }
  - id: bad
    run: sleep 0.2; exit 1
  - id: after
    needs: gate
    run: echo never
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    let (run, status) = only_run(home.path());
    assert_eq!(status, "failed");
    assert_eq!(step_status(home.path(), &run, "gate"), "cancelled");
    assert_eq!(step_status(home.path(), &run, "after"), "skipped");
    assert_eq!(step_status(home.path(), &run, "bad"), "failed");
}

/// Run orch on a pseudo-terminal (util-linux `script`) and press Ctrl-C
/// `presses` times once the prompt is shown (or send orch SIGTERM as many
/// times when `sigterm`), keeping the terminal open.
/// The exit code and what the terminal showed; `None` when `script` is
/// missing.
fn ctrl_c_at_the_prompt(
    dir: &std::path::Path,
    home: &std::path::Path,
    presses: usize,
    sigterm: bool,
) -> Option<(i32, String)> {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let orch = assert_cmd::cargo::cargo_bin("orch");
    let mut child = std::process::Command::new("script")
        .arg("-qec")
        .arg(format!(
            "{} run w.yaml --output plain --grace 30s",
            orch.display()
        ))
        .arg("/dev/null")
        .current_dir(dir)
        .env("ORCH_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let text = || shown.lock().unwrap().clone();
    let wait = |what: &str, done: &mut dyn FnMut() -> bool, secs: u64| {
        let end = Instant::now() + Duration::from_secs(secs);
        while !done() {
            assert!(Instant::now() < end, "no {what} in time: {}", text());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait("prompt", &mut || text().contains("approve?"), 60);
    // The terminal's Ctrl-C: the line discipline sends SIGINT to orch.
    let mut stdin = child.stdin.take().unwrap();
    for _ in 0..presses {
        if sigterm {
            let orch = descendant_named(child.id(), "orch").expect("orch under script");
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(orch as i32),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
        } else {
            stdin.write_all(b"\x03").unwrap();
            stdin.flush().unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    // The terminal stays open: only the Ctrl-C may end the prompt.
    let mut status = None;
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait(
            "exit after the signal",
            &mut || {
                status = child.try_wait().unwrap();
                status.is_some()
            },
            8,
        )
    }));
    if let Err(panic) = res {
        let _ = child.kill();
        let _ = child.wait();
        std::panic::resume_unwind(panic);
    }
    drop(stdin);
    reader.join().unwrap();
    Some((status.unwrap().code().unwrap_or(-1), text()))
}

/// The first process named `name` under `pid` (through /proc).
fn descendant_named(pid: u32, name: &str) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .find_map(|c| {
            let comm = std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default();
            if comm.trim() == name {
                Some(c)
            } else {
                descendant_named(c, name)
            }
        })
}

#[test]
fn sigterm_at_the_prompt_cancels_the_run() {
    let p = project(&[("w.yaml", GATED)]);
    let home = tempfile::tempdir().unwrap();
    let Some((code, out)) = ctrl_c_at_the_prompt(p.path(), home.path(), 1, true) else {
        return;
    };
    assert_eq!(code, 130, "{out}");
    let (run, status) = only_run(home.path());
    assert_eq!(status, "cancelled", "{out}");
    assert_eq!(step_status(home.path(), &run, "gate"), "cancelled");
}

#[test]
fn ctrl_c_at_the_prompt_cancels_the_run() {
    let p = project(&[("w.yaml", GATED)]);
    let home = tempfile::tempdir().unwrap();
    let Some((code, out)) = ctrl_c_at_the_prompt(p.path(), home.path(), 1, false) else {
        return;
    };
    assert_eq!(code, 130, "{out}");
    let (run, status) = only_run(home.path());
    assert_eq!(status, "cancelled", "{out}");
    assert_eq!(step_status(home.path(), &run, "gate"), "cancelled");
    assert_eq!(step_status(home.path(), &run, "ship"), "cancelled");
    assert!(!runs(p.path()).contains("ship"));
}

#[test]
fn a_second_ctrl_c_at_the_prompt_stops_at_once() {
    // `stubborn` ignores SIGTERM: only the second Ctrl-C (SIGKILL now)
    // ends it before the 30s grace period.
    let p = project(&[(
        "w.yaml",
        "name: t\nsteps:\n  - id: stubborn\n    run: trap '' TERM; touch started; sleep 60\n  - id: gate\n    approval: { message: ok? }\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let Some((code, out)) = ctrl_c_at_the_prompt(p.path(), home.path(), 2, false) else {
        return;
    };
    assert_eq!(code, 130, "{out}");
    let (run, status) = only_run(home.path());
    assert_eq!(status, "cancelled", "{out}");
    assert_eq!(step_status(home.path(), &run, "gate"), "cancelled");
    assert_eq!(step_status(home.path(), &run, "stubborn"), "cancelled");
}
