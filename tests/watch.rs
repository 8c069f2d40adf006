//! `orch run --watch` as a real process: a change to a watched file starts
//! a new run in which only what depends on it re-runs; a change during a
//! run cancels it; a file that turns invalid or goes away is reported and
//! watched on; SIGINT ends the watch.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::project;
use crate::history_store::db;

/// The watching process, killed when the test ends however it ends (a
/// failed assertion must not leave it running).
struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_watch(dir: &Path, home: &Path) -> Watching {
    spawn_watch_as(dir, home, "plain")
}

/// The watch in output mode `mode`, stdout in `watch.out`.
fn spawn_watch_as(dir: &Path, home: &Path, mode: &str) -> Watching {
    let err = std::fs::File::create(dir.join("watch.err")).unwrap();
    let out = std::fs::File::create(dir.join("watch.out")).unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "w.yaml", "--watch", "--output", mode])
        .current_dir(dir)
        .env("ORCH_HOME", home)
        .env("NO_COLOR", "1")
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn orch");
    Watching(child)
}

fn wait_for(what: &str, dir: &Path, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        let err = std::fs::read_to_string(dir.join("watch.err")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn runs_with(home: &Path, status: &str) -> i64 {
    if !home.join("history.db").exists() {
        return 0;
    }
    db(home)
        .query_row(
            "SELECT count(*) FROM runs WHERE status = ?1",
            [status],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

fn count(dir: &Path, line: &str) -> usize {
    std::fs::read_to_string(dir.join("runs.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == line)
        .count()
}

fn watching(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("watch.err"))
        .unwrap_or_default()
        .matches("orch: watching")
        .count()
}

/// SIGINT, then the exit code once it ended.
fn interrupt(child: &mut Watching, dir: &Path) -> Option<i32> {
    let child = &mut child.0;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let mut status = None;
    wait_for("the watch to end", dir, || {
        status = child.try_wait().expect("wait");
        status.is_some()
    });
    status.and_then(|s| s.code())
}

const BUILD: &str = r#"
name: w
steps:
  - id: build
    run: echo build >> runs.txt
    cache: { sources: ["src/*.txt"] }
  - id: test
    needs: [build]
    run: echo test >> runs.txt
    cache: { sources: ["src/*.txt"] }
  - id: other
    run: echo other >> runs.txt
    cache: true
"#;

#[test]
fn a_change_reruns_only_what_depends_on_it_and_sigint_ends_the_watch() {
    let p = project(&[("w.yaml", BUILD), ("src/a.txt", "1")]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_watch(p.path(), home.path());
    wait_for("the first run", p.path(), || {
        runs_with(home.path(), "succeeded") == 1 && watching(p.path()) == 1
    });
    std::fs::write(p.path().join("src/a.txt"), "2").unwrap();
    wait_for("the second run", p.path(), || {
        runs_with(home.path(), "succeeded") == 2 && watching(p.path()) == 2
    });
    assert_eq!(count(p.path(), "build"), 2);
    assert_eq!(count(p.path(), "test"), 2);
    assert_eq!(count(p.path(), "other"), 1, "a cached step hits");
    // A file no glob names starts nothing.
    std::fs::write(p.path().join("src/notes.md"), "x").unwrap();
    assert_eq!(interrupt(&mut child, p.path()), Some(0));
    let total: i64 = db(home.path())
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 2, "each run is a run in the history");
}

const SLOW: &str = r#"
name: w
steps:
  - id: slow
    watch: [trigger]
    run: |
      echo slow >> runs.txt
      test -f release || sleep 30
"#;

#[test]
fn a_change_during_a_run_cancels_it_and_starts_the_next() {
    let p = project(&[("w.yaml", SLOW)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_watch(p.path(), home.path());
    wait_for("the first run's step", p.path(), || {
        count(p.path(), "slow") == 1
    });
    std::fs::write(p.path().join("release"), "").unwrap();
    std::fs::write(p.path().join("trigger"), "").unwrap();
    wait_for("the cancelled run and the next", p.path(), || {
        runs_with(home.path(), "cancelled") == 1 && runs_with(home.path(), "succeeded") == 1
    });
    assert_eq!(count(p.path(), "slow"), 2);
    let err = std::fs::read_to_string(p.path().join("watch.err")).unwrap();
    assert!(err.contains("changed during the run"), "{err}");
    wait_for("the watch to go on", p.path(), || watching(p.path()) == 1);
    assert_eq!(interrupt(&mut child, p.path()), Some(0));
}

fn watch_err(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("watch.err")).unwrap_or_default()
}

const ONE: &str = "name: w\nsteps:\n  - id: a\n    run: echo one >> runs.txt\n";
const TYPO: &str = "name: w\nsteps:\n  - id: a\n    rnu: echo typo >> runs.txt\n";
const TWO: &str = "name: w\nsteps:\n  - id: a\n    run: echo two >> runs.txt\n";
const THREE: &str = "name: w\nsteps:\n  - id: a\n    run: echo three >> runs.txt\n";

#[test]
fn an_invalid_or_deleted_file_is_reported_and_the_watch_goes_on() {
    let p = project(&[("w.yaml", ONE)]);
    let dir = p.path();
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_watch(dir, home.path());
    wait_for("the first run", dir, || {
        runs_with(home.path(), "succeeded") == 1 && watching(dir) == 1
    });

    // A typo: the diagnostic, at its line, and the watch goes on.
    std::fs::write(dir.join("w.yaml"), TYPO).unwrap();
    wait_for("the diagnostic", dir, || watching(dir) == 2);
    let err = watch_err(dir);
    assert!(err.contains("rnu"), "{err}");
    assert!(err.contains("w.yaml:4:5"), "{err}");
    assert!(err.contains("exit 2 so far"), "{err}");
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the watch ended:\n{err}"
    );
    assert_eq!(count(dir, "typo"), 0);

    // Fixed: it runs again.
    std::fs::write(dir.join("w.yaml"), TWO).unwrap();
    wait_for("the run of the fixed file", dir, || {
        runs_with(home.path(), "succeeded") == 2 && watching(dir) == 3
    });
    assert_eq!(count(dir, "two"), 1);

    // Deleted: said so, watched on; back again: it runs.
    std::fs::remove_file(dir.join("w.yaml")).unwrap();
    wait_for("the missing file to be reported", dir, || {
        watching(dir) == 4
    });
    let err = watch_err(dir);
    assert!(err.contains("no such file"), "{err}");
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the watch ended:\n{err}"
    );
    std::fs::write(dir.join("w.yaml"), THREE).unwrap();
    wait_for("the run of the file made again", dir, || {
        runs_with(home.path(), "succeeded") == 3 && watching(dir) == 5
    });
    assert_eq!(count(dir, "three"), 1);
    assert_eq!(
        count(dir, "one") + count(dir, "two") + count(dir, "three"),
        3,
        "one run per change"
    );
    // The last run succeeded: the watch ends with its code.
    assert_eq!(interrupt(&mut child, dir), Some(0));
}

/// `watch:` globs whose directories do not exist yet: their root is the
/// workflow's own directory, watched recursively.
const LATER: &str =
    "name: w\nsteps:\n  - id: a\n    watch: ['later/*.txt']\n    run: echo one >> runs.txt\n";
/// The glob now names a directory that exists, outside the workflow's.
const ELSEWHERE: &str =
    "name: w\nsteps:\n  - id: a\n    watch: ['../src/*.txt']\n    run: echo two >> runs.txt\n";

#[test]
fn the_workflow_stays_watched_when_a_glob_stops_sharing_its_directory() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("flows");
    std::fs::create_dir_all(top.path().join("src")).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w.yaml"), LATER).unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_watch(&dir, home.path());
    wait_for("the first run", &dir, || {
        runs_with(home.path(), "succeeded") == 1 && watching(&dir) == 1
    });
    std::fs::write(dir.join("w.yaml"), ELSEWHERE).unwrap();
    wait_for("the run of the second version", &dir, || {
        runs_with(home.path(), "succeeded") == 2 && watching(&dir) == 2
    });
    std::fs::write(top.path().join("src/a.txt"), "1").unwrap();
    wait_for("the run the source started", &dir, || watching(&dir) == 3);
    let err = watch_err(&dir);
    assert!(
        err.contains("changed: ") && err.contains("src/a.txt"),
        "{err}"
    );
    // The workflow's directory is still watched.
    std::fs::write(dir.join("w.yaml"), THREE).unwrap();
    wait_for("the run of the third version", &dir, || {
        runs_with(home.path(), "succeeded") == 4 && watching(&dir) == 4
    });
    assert_eq!(count(&dir, "three"), 1);
    assert_eq!(interrupt(&mut child, &dir), Some(0));
}

/// The `event` of each JSON line the watch printed so far.
fn json_events(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("watch.out"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn with_output_json_an_invalid_file_is_a_validation_event_in_the_stream() {
    let p = project(&[("w.yaml", ONE)]);
    let dir = p.path();
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_watch_as(dir, home.path(), "json");
    let ended = |dir: &Path| {
        json_events(dir)
            .iter()
            .filter(|e| *e == "orchestration.run.completed")
            .count()
    };
    wait_for("the first run", dir, || {
        ended(dir) == 1 && watching(dir) == 1
    });
    std::fs::write(dir.join("w.yaml"), TYPO).unwrap();
    wait_for("the validation event", dir, || {
        json_events(dir).contains(&"orchestration.validation.failed".to_string())
    });
    let out = std::fs::read_to_string(dir.join("watch.out")).unwrap();
    let failed: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "orchestration.validation.failed")
        .unwrap();
    assert_eq!(failed["workflow"], "w.yaml");
    let typo = failed["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap_or_default().contains("rnu"))
        .unwrap_or_else(|| panic!("{failed}"));
    assert_eq!((&typo["line"], &typo["column"]), (&4.into(), &5.into()));
    std::fs::write(dir.join("w.yaml"), TWO).unwrap();
    wait_for("the run of the fixed file", dir, || ended(dir) == 2);
    // Every line of stdout is an event.
    let out = std::fs::read_to_string(dir.join("watch.out")).unwrap();
    for l in out.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(l).is_ok(), "{l}");
    }
    assert_eq!(interrupt(&mut child, dir), Some(0));
}
