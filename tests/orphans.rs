//! What a step's processes do when orch itself is killed (`kill -9` of the
//! orch process alone): its group keeps running until `orch resume` stops
//! it, before the step runs again. And the kernel's limits on a step's environment.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{orch, orch_in, project};
use crate::history_store::{db, only_run, step_status};

/// Start `orch run` in a process group of its own (so that killing it
/// touches nothing else).
fn spawn_run(dir: &Path, home: &Path) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "w.yaml", "--output", "plain"])
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
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Running: it exists and is not a zombie waiting for a reaper.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit(')')
                .next()
                .and_then(|s| s.trim().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

/// A pid the step wrote, once it is all there.
fn read_pid(dir: &Path, name: &str) -> i32 {
    let read = || {
        let text = std::fs::read_to_string(dir.join(name)).ok()?;
        text.ends_with('\n').then(|| text.trim().parse().ok())?
    };
    wait_for(name, || read().is_some());
    read().unwrap()
}

/// The recorded process group of the step's running attempt, once written.
fn recorded_pgid(home: &Path, step: &str) -> Option<i32> {
    db(home)
        .query_row(
            "SELECT pgid FROM attempts WHERE step_id = ?1 AND status = 'running'",
            [step],
            |r| r.get::<_, Option<i32>>(0),
        )
        .ok()
        .flatten()
}

/// SIGKILL to orch only: not its group, not the steps.
fn kill_orch(child: &mut std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = child.wait();
}

/// The first time, the step leaves a writer in the background (same
/// group) and waits; run again, it fails if anything still writes.
const TICKING: &str = r#"
name: ticking
steps:
  - id: slow
    run: |
      if [ -f resumed ]; then
        n1=$(wc -l < ticks.txt); sleep 0.5; n2=$(wc -l < ticks.txt)
        if [ "$n1" != "$n2" ]; then echo "leftover still writing: $n1 -> $n2" >&2; exit 1; fi
        echo rerun >> runs.txt
        exit 0
      fi
      echo first >> runs.txt
      ( while true; do echo tick >> ticks.txt; sleep 0.05; done ) &
      echo $! > writer.pid
      echo $$ > shell.pid
      wait
"#;

#[test]
fn resume_stops_what_a_killed_orch_left_running_before_the_step_runs_again() {
    let p = project(&[("w.yaml", TICKING)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_run(p.path(), home.path());
    wait_for("the step's pids", || p.path().join("shell.pid").exists());
    wait_for("the recorded process group", || {
        recorded_pgid(home.path(), "slow").is_some()
    });
    let shell = read_pid(p.path(), "shell.pid");
    let writer = read_pid(p.path(), "writer.pid");
    assert_eq!(recorded_pgid(home.path(), "slow"), Some(shell));
    kill_orch(&mut child);

    // The step's processes outlive orch.
    assert!(
        alive(shell) && alive(writer),
        "the step's processes are gone already"
    );
    let ticks = || std::fs::metadata(p.path().join("ticks.txt")).map_or(0, |m| m.len());
    let before = ticks();
    wait_for("the leftover writer to go on writing", || ticks() > before);

    std::fs::write(p.path().join("resumed"), "").unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain", "--grace", "2s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "stopping the leftover processes of step `slow` (process group {shell}) \
             from the interrupted run"
        )),
        "{err}"
    );
    assert!(
        !alive(writer) && !alive(shell),
        "the leftover processes {shell} or {writer} survived resume"
    );
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(runs, "first\nrerun\n");
    let (run, status) = only_run(home.path());
    assert_eq!(status, "succeeded");
    assert_eq!(step_status(home.path(), &run, "slow"), "succeeded");

    // Dealt with: a later resume of the run has nothing to stop.
    let again = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(!err.contains("stopping"), "{err}");
}

#[test]
fn resume_stops_the_leftovers_of_a_child_runs_step() {
    let parent = "name: parent\nsteps:\n  - { id: sub, workflow: child.yaml }\n";
    let child_wf = TICKING.replace("name: ticking", "name: child");
    let p = project(&[("w.yaml", parent), ("child.yaml", &child_wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_run(p.path(), home.path());
    wait_for("the step's pids", || p.path().join("shell.pid").exists());
    wait_for("the recorded process group", || {
        recorded_pgid(home.path(), "slow").is_some()
    });
    let shell = read_pid(p.path(), "shell.pid");
    let writer = read_pid(p.path(), "writer.pid");
    kill_orch(&mut child);
    assert!(
        alive(shell) && alive(writer),
        "the step's processes are gone already"
    );

    std::fs::write(p.path().join("resumed"), "").unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    let child_run: String = db(home.path())
        .query_row(
            "SELECT id FROM runs WHERE parent_run_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        err.contains(&format!(
            "stopping the leftover processes of step `slow` of child run {child_run} \
             (process group {shell}) from the interrupted run"
        )),
        "{err}"
    );
    assert!(
        !alive(writer),
        "the leftover writer {writer} survived resume"
    );
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(runs, "first\nrerun\n");
}

#[test]
fn resume_stops_the_leftovers_of_an_interrupted_compensation() {
    let wf = r#"
name: saga
steps:
  - id: charge
    run: "true"
    compensate:
      run: |
        if [ -f resumed ]; then
          n1=$(wc -l < ticks.txt); sleep 0.5; n2=$(wc -l < ticks.txt)
          if [ "$n1" != "$n2" ]; then echo "leftover still writing" >&2; exit 1; fi
          echo undone >> runs.txt
          exit 0
        fi
        ( while true; do echo tick >> ticks.txt; sleep 0.05; done ) &
        echo $! > writer.pid
        echo $$ > shell.pid
        wait
  - id: boom
    needs: charge
    run: exit 1
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_run(p.path(), home.path());
    wait_for("the compensation's pids", || {
        p.path().join("shell.pid").exists()
    });
    wait_for("the recorded process group", || {
        db(home.path())
            .query_row(
                "SELECT pgid FROM compensations WHERE step_id = 'charge'",
                [],
                |r| r.get::<_, Option<i32>>(0),
            )
            .ok()
            .flatten()
            .is_some()
    });
    let shell = read_pid(p.path(), "shell.pid");
    let writer = read_pid(p.path(), "writer.pid");
    kill_orch(&mut child);
    assert!(
        alive(shell) && alive(writer),
        "the step's processes are gone already"
    );

    std::fs::write(p.path().join("resumed"), "").unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--output", "plain"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    // The run failed (`boom`); its compensation is what resumes.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "stopping the leftover processes of the compensation of step `charge` \
             (process group {shell}) from the interrupted run"
        )),
        "{err}"
    );
    assert!(
        !alive(writer),
        "the leftover writer {writer} survived resume"
    );
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    assert_eq!(runs, "undone\n");
}

/// The leader ignores SIGTERM, so it outlives orch; its recorded start
/// stamp is then made wrong, as if the id now belonged to another group.
const STUBBORN: &str = r#"
name: stubborn
steps:
  - id: hold
    run: |
      if [ -f resumed ]; then exit 0; fi
      trap '' TERM
      echo $$ > shell.pid
      while true; do sleep 0.1; done
"#;

#[test]
fn resume_leaves_alone_a_group_whose_leader_started_at_another_time() {
    let p = project(&[("w.yaml", STUBBORN)]);
    let home = tempfile::tempdir().unwrap();
    let mut child = spawn_run(p.path(), home.path());
    wait_for("the step's pid", || p.path().join("shell.pid").exists());
    wait_for("the recorded process group", || {
        recorded_pgid(home.path(), "hold").is_some()
    });
    let shell = read_pid(p.path(), "shell.pid");
    kill_orch(&mut child);
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(shell), "the leader ignores SIGTERM");
    let c = db(home.path());
    let stamp: String = c
        .query_row(
            "SELECT pgid_start FROM attempts WHERE step_id = 'hold'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (boot, ticks) = stamp.rsplit_once(':').unwrap();
    let wrong = format!("{boot}:{}", ticks.parse::<u64>().unwrap() + 1);
    c.execute(
        "UPDATE attempts SET pgid_start = ?1 WHERE step_id = 'hold'",
        [&wrong],
    )
    .unwrap();
    drop(c);

    std::fs::write(p.path().join("resumed"), "").unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--grace", "1s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let still = alive(shell);
    let group = nix::unistd::Pid::from_raw(shell);
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("stopping"), "{err}");
    assert!(still, "a group that is not the recorded one was signalled");
}

#[test]
fn an_environment_variable_over_the_limit_is_named_with_its_size() {
    let wf = r#"name: bigenv
steps:
  - id: make
    run: head -c 1048576 /dev/zero | tr '\0' x
  - id: use
    needs: [make]
    env:
      BIG: ${{ steps.make.stdout }}
    run: echo ${#BIG}
"#;
    let p = project(&[("w.yaml", wf)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains(
            "environment variable `BIG` is 1048581 bytes (as NAME=value), over the operating \
             system's limit of 131072 bytes for one variable"
        ),
        "{all}"
    );
    assert!(all.contains("ORCH_OUTPUT"), "{all}");
    assert!(!all.contains("os error 7"), "{all}");
}

#[test]
fn an_environment_too_large_in_total_gives_its_size() {
    // 60 variables of 120,000 bytes: each under the limit for one, together
    // over what Linux takes for all (at most 6 MiB, a quarter of the stack).
    let mut wf = String::from(
        "name: wideenv\nsteps:\n  - id: make\n    run: head -c 120000 /dev/zero | tr '\\0' x\n  \
         - id: use\n    needs: [make]\n    env:\n",
    );
    for i in 0..60 {
        wf.push_str(&format!("      V{i}: ${{{{ steps.make.stdout }}}}\n"));
    }
    wf.push_str("    run: echo never\n");
    let p = project(&[("w.yaml", &wf)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("the environment plus the arguments are too large"),
        "{all}"
    );
    assert!(all.contains("of environment"), "{all}");
    assert!(!all.contains("never"), "{all}");
}
