//! The history database itself: durability under kill -9, concurrent
//! writers, corrupt and foreign files, permissions, a full disk.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{orch_in, project};

const KILLABLE: &str = r#"
name: killable
steps:
  - id: a
    run: |
      echo a >> runs.txt
      echo "v=from-a" >> $ORCH_OUTPUT
      touch a-done
      test -f slow-a && sleep 30 || true
  - id: b
    needs: [a]
    run: |
      echo b >> runs.txt
      touch b-started
      test -f slow-b && sleep 30 || true
  - id: c
    needs: [b]
    run: |
      echo "c ${{ steps.a.outputs.v }}" >> runs.txt
      touch c-started
      test -f slow-c && sleep 30 || true
"#;

pub(crate) fn db(home: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(home.join("history.db")).expect("open history.db")
}

pub(crate) fn step_status(home: &Path, run: &str, step: &str) -> String {
    db(home)
        .query_row(
            "SELECT status FROM steps WHERE run_id = ?1 AND step_id = ?2",
            [run, step],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("step {step} of {run}: {e}"))
}

pub(crate) fn only_run(home: &Path) -> (String, String) {
    db(home)
        .query_row("SELECT id, status FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("exactly one run")
}

/// Start `orch run` as the leader of its own process group.
fn spawn_run(dir: &Path, home: &Path, file: &str) -> std::process::Child {
    spawn_orch(dir, home, &["run", file, "--output", "plain"])
}

/// Start orch with `args` as the leader of its own process group.
fn spawn_orch(dir: &Path, home: &Path, args: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(args)
        .current_dir(dir)
        .env("ORCH_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn orch")
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILL orch's whole process group (not the steps: each step has a group
/// of its own and is left running, as after a real crash).
fn kill_group(child: &mut std::process::Child) {
    let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = child.wait();
}

/// A diagnostic as one line: miette wraps long messages with `│`.
fn flat(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn count(text: &str, line: &str) -> usize {
    text.lines().filter(|l| *l == line).count()
}

/// After a kill -9 at `point`, the run is interrupted; `orch resume` finishes
/// it without re-running what had finished, with outputs restored.
fn kill_then_resume(slow: &str, wait_marker: &str, finished: &[&str]) {
    let p = project(&[("w.yaml", KILLABLE), (slow, "")]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_run(p.path(), home.path(), "w.yaml");
    wait_for(wait_marker, || p.path().join(wait_marker).exists());
    // What finished must already be on disk when the next step starts.
    let (run, status) = only_run(home.path());
    kill_group(&mut child);
    assert_eq!(status, "running");
    for s in finished {
        assert_eq!(step_status(home.path(), &run, s), "succeeded", "step {s}");
    }
    std::fs::remove_file(p.path().join(slow)).unwrap();

    let history = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain"])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&history.get_output().stderr).to_string();
    assert!(out.contains(&format!("resuming run {run}")), "{out}");
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    for s in finished {
        assert_eq!(count(&runs, s), 1, "{s} ran again after resume:\n{runs}");
    }
    assert_eq!(
        runs.lines().last(),
        Some("c from-a"),
        "c must see a's output:\n{runs}"
    );
    let (same, status) = only_run(home.path());
    assert_eq!(same, run, "resume continues the same run record");
    assert_eq!(status, "succeeded");
    for s in ["a", "b", "c"] {
        assert_eq!(step_status(home.path(), &run, s), "succeeded");
    }
}

#[test]
fn kill_9_before_any_step_finished() {
    kill_then_resume("slow-a", "a-done", &[]);
}

#[test]
fn kill_9_during_a_step() {
    kill_then_resume("slow-b", "b-started", &["a"]);
}

#[test]
fn kill_9_right_after_a_step_finished() {
    // c starts only once b's success is committed: kill as soon as it starts.
    kill_then_resume("slow-c", "c-started", &["a", "b"]);
}

#[test]
fn a_live_run_cannot_be_resumed() {
    let p = project(&[("w.yaml", KILLABLE), ("slow-b", "")]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_run(p.path(), home.path(), "w.yaml");
    wait_for("b-started", || p.path().join("b-started").exists());
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    kill_group(&mut child);
    assert!(err.contains("still running"), "{err}");
}

#[test]
fn concurrent_processes_lose_no_runs() {
    let p = project(&[(
        "w.yaml",
        "name: busy\nsteps:\n  - id: one\n    run: echo 1\n  - id: two\n    needs: [one]\n    run: echo 2\n  - id: three\n    needs: [one]\n    run: echo 3\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let dir = p.path().to_path_buf();
            let home = home.path().to_path_buf();
            std::thread::spawn(move || {
                for _ in 0..15 {
                    let out = orch_in(&dir, &home)
                        .args(["run", "w.yaml", "--output", "plain", "-q"])
                        .output()
                        .unwrap();
                    let err = String::from_utf8_lossy(&out.stderr).to_string();
                    assert!(out.status.success(), "{err}");
                    assert!(!err.contains("locked"), "{err}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let c = db(home.path());
    let runs: i64 = c
        .query_row(
            "SELECT count(*) FROM runs WHERE status = 'succeeded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(runs, 90);
    let steps: i64 = c
        .query_row(
            "SELECT count(*) FROM steps WHERE status = 'succeeded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(steps, 270);
}

fn assert_refused(home: &Path, expect: &str) {
    let p = project(&[("w.yaml", "name: w\nsteps:\n  - id: s\n    run: touch ran\n")]);
    let before = std::fs::read(home.join("history.db")).unwrap();
    let out = orch_in(p.path(), home)
        .args(["run", "w.yaml"])
        .assert()
        .code(2);
    let err = flat(&out.get_output().stderr);
    assert!(err.contains(expect), "expected {expect:?} in:\n{err}");
    assert!(
        err.contains("history.db"),
        "the message names the file:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!p.path().join("ran").exists(), "nothing may run");
    let after = std::fs::read(home.join("history.db")).unwrap();
    assert!(before == after, "the file must be left untouched");
}

#[test]
fn a_corrupt_database_is_refused_untouched() {
    let home = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(home.path().join("history.db"), junk).unwrap();
    assert_refused(home.path(), "not an SQLite database");
}

#[test]
fn a_foreign_database_is_refused_untouched() {
    let home = tempfile::tempdir().unwrap();
    let c = db(home.path());
    c.execute_batch("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');")
        .unwrap();
    drop(c);
    assert_refused(home.path(), "not an orch history database");
}

#[test]
fn a_database_from_a_newer_orch_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let p = project(&[("w.yaml", "name: w\nsteps:\n  - id: s\n    run: 'true'\n")]);
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .success();
    db(home.path())
        .pragma_update(None, "user_version", 999)
        .unwrap();
    assert_refused(home.path(), "newer orch");
}

#[test]
fn a_truncated_database_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let p = project(&[("w.yaml", "name: w\nsteps:\n  - id: s\n    run: 'true'\n")]);
    for _ in 0..3 {
        orch_in(p.path(), home.path())
            .args(["run", "w.yaml"])
            .assert()
            .success();
    }
    let path = home.path().join("history.db");
    let bytes = std::fs::read(&path).unwrap();
    // Keep the header, lose the rest: pages the schema points to are gone.
    let mut cut = bytes[..100].to_vec();
    cut.extend(std::iter::repeat_n(0xAAu8, 4096 - 100));
    std::fs::write(&path, cut).unwrap();
    // And the write-ahead log, which would still hold the pages (closing
    // connections leave it in place).
    for side in ["history.db-wal", "history.db-shm"] {
        let _ = std::fs::remove_file(home.path().join(side));
    }
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(2);
    let err = flat(&out.get_output().stderr);
    assert!(err.contains("history.db"), "{err}");
    assert!(
        err.contains("corrupt") || err.contains("not an SQLite"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unusable_orch_home_is_a_clear_error() {
    let p = project(&[
        ("w.yaml", "name: w\nsteps:\n  - id: s\n    run: touch ran\n"),
        ("not-a-dir", "a file"),
    ]);
    let home = p.path().join("not-a-dir").join("orch");
    let out = orch_in(p.path(), &home)
        .args(["run", "w.yaml"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("cannot create"), "{err}");
    assert!(err.contains("not-a-dir"), "{err}");
    assert!(!p.path().join("ran").exists());
}

/// Mount a filesystem for a test; `false` (with a note) where not allowed.
fn mount(args: &[&str]) -> bool {
    let ok = Command::new("mount")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "skipped: cannot mount ({}) — needs root with CAP_SYS_ADMIN",
            args.join(" ")
        );
    }
    ok
}

fn umount(dir: &Path) {
    let _ = Command::new("umount").arg(dir).status();
}

#[test]
fn a_read_only_orch_home_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let p = project(&[("w.yaml", "name: w\nsteps:\n  - id: s\n    run: touch ran\n")]);
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .success();
    std::fs::remove_file(p.path().join("ran")).unwrap();
    let dir = home.path().to_str().unwrap();
    if !mount(&["--bind", dir, dir]) {
        return;
    }
    if !mount(&["-o", "remount,ro,bind", dir]) {
        umount(home.path());
        return;
    }
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .output()
        .unwrap();
    umount(home.path());
    let err = flat(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("history.db") || err.contains(dir), "{err}");
    assert!(
        err.contains("read-only") || err.contains("Read-only"),
        "{err}"
    );
    assert!(!p.path().join("ran").exists());
}

#[test]
fn a_full_disk_is_reported_not_a_panic() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_str().unwrap();
    if !mount(&["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir]) {
        return;
    }
    let p = project(&[(
        "w.yaml",
        "name: w\nsteps:\n  - id: chatty\n    run: head -c 2000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n  - id: after\n    needs: [chatty]\n    run: echo after\n",
    )]);
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .output()
        .unwrap();
    umount(home.path());
    let err = flat(&out.stderr);
    // The steps ran; only their record is incomplete: not "nothing ran" (2).
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("No space left") || err.contains("disk is full"),
        "{err}"
    );
    assert!(err.contains(dir), "names the path: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let home = home.path().join("h");
    let p = project(&[("w.yaml", "name: w\nsteps:\n  - id: s\n    run: echo hi\n")]);
    orch_in(p.path(), &home)
        .args(["run", "w.yaml"])
        .assert()
        .success();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("logs")), 0o700);
    assert_eq!(mode(&home.join("history.db")), 0o600);
    let run = std::fs::read_dir(home.join("logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&run.join("s.log")), 0o600);
    assert_eq!(std::fs::read_to_string(run.join("s.log")).unwrap(), "hi\n");
}

#[test]
fn thousands_of_step_logs_fit_in_a_small_descriptor_limit() {
    // Each step's log is closed when the step ends: 600 steps that print
    // run under a limit of 64 open files.
    let mut wf = String::from("name: many-logs\nsteps:\n");
    for i in 0..600 {
        wf.push_str(&format!("  - id: s{i}\n    transform: {{ n: {i} }}\n"));
        wf.push_str(&format!("  - id: p{i}\n    run: echo line-{i}\n"));
    }
    let p = project(&[("w.yaml", &wf)]);
    let home = tempfile::tempdir().unwrap();
    let orch = assert_cmd::cargo::cargo_bin("orch");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" run w.yaml -j 8 --output plain")
        .arg(&orch)
        .current_dir(p.path())
        .env("ORCH_HOME", home.path())
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = std::fs::read_dir(home.path().join("logs")).unwrap().count();
    assert_eq!(logs, 1);
    let (run, _) = only_run(home.path());
    let log = std::fs::read_to_string(home.path().join(format!("logs/{run}/p599.log"))).unwrap();
    assert_eq!(log, "line-599\n");
}

/// Many first runs at once on a brand-new `ORCH_HOME`: creating the file,
/// switching it to WAL and migrating race; every run must succeed and be
/// recorded.
#[test]
fn simultaneous_first_runs_on_a_fresh_home_all_succeed() {
    let p = project(&[(
        "w.yaml",
        "name: fresh\nsteps:\n  - id: one\n    run: echo 1\n",
    )]);
    const PROCESSES: usize = 8;
    for _round in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("orch");
        // A barrier: each child blocks opening the FIFO until the test
        // opens its other end, so that all of them start at once.
        let fifo = tmp.path().join("go");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new("sh")
                    .args([
                        "-c",
                        "read _ < \"$1\"; exec \"$2\" run w.yaml --output plain -q",
                    ])
                    .arg("sh")
                    .arg(&fifo)
                    .arg(assert_cmd::cargo::cargo_bin("orch"))
                    .current_dir(p.path())
                    .env("ORCH_HOME", &home)
                    .env("NO_COLOR", "1")
                    .env_remove("CI")
                    .env_remove("ORCH_HISTORY")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn orch")
            })
            .collect();
        // Every child is blocked on the FIFO once none is left to start.
        std::thread::sleep(Duration::from_millis(300));
        drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
        let failures: Vec<String> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .filter(|o| !o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
            .collect();
        assert!(
            failures.is_empty(),
            "{} failed: {failures:#?}",
            failures.len()
        );
        let runs: i64 = db(&home)
            .query_row(
                "SELECT count(*) FROM runs WHERE status = 'succeeded'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(runs, PROCESSES as i64);
    }
}

/// A kill -9 during `resume --from` of a succeeded run leaves a run that is
/// interrupted, not succeeded: its kept steps keep their results, the step
/// that was running is not shown finished, and a plain resume finishes it.
#[test]
fn kill_9_during_a_rerun_of_a_succeeded_run() {
    let p = project(&[("w.yaml", KILLABLE)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .success();
    let (run, _) = only_run(home.path());
    std::fs::remove_file(p.path().join("b-started")).unwrap();
    std::fs::write(p.path().join("slow-b"), "").unwrap();
    let mut child = spawn_orch(
        p.path(),
        home.path(),
        &["resume", "last", "--from", "b", "--output", "plain"],
    );
    wait_for("b-started", || p.path().join("b-started").exists());
    wait_for("b recorded running", || {
        step_status(home.path(), &run, "b") == "running"
    });
    kill_group(&mut child);
    let (same, status) = only_run(home.path());
    assert_eq!((same.as_str(), status.as_str()), (run.as_str(), "running"));
    assert_eq!(step_status(home.path(), &run, "a"), "succeeded");
    assert_eq!(step_status(home.path(), &run, "c"), "pending");
    let shown = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["status"], "interrupted", "{v}");
    assert_eq!(v["run_attempts"].as_array().map(Vec::len), Some(2), "{v}");

    std::fs::remove_file(p.path().join("slow-b")).unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain"])
        .assert()
        .success();
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(count(&runs, "a"), 1, "{runs}");
    assert_eq!(count(&runs, "b"), 3, "{runs}");
    assert_eq!(count(&runs, "c from-a"), 2, "{runs}");
    assert_eq!(only_run(home.path()).1, "succeeded");
}
