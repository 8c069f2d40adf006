//! `orch run` end to end: real processes, real files, real signals.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{events, orch, project};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Lines `start <id> <ns>` / `end <id> <ns>` written by steps.
fn timeline(dir: &Path) -> Vec<(String, String, u128)> {
    read(dir, "timeline")
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            Some((
                p.next()?.to_string(),
                p.next()?.to_string(),
                p.next()?.parse().ok()?,
            ))
        })
        .collect()
}

fn at(t: &[(String, String, u128)], what: &str, id: &str) -> u128 {
    t.iter()
        .find(|(w, i, _)| w == what && i == id)
        .map(|x| x.2)
        .unwrap_or_else(|| panic!("no {what} of {id} in {t:?}"))
}

const TIMED: &str = r#"echo "start $ORCH_STEP_ID $(date +%s%N)" >> timeline; sleep 0.3; echo "end $ORCH_STEP_ID $(date +%s%N)" >> timeline"#;

#[test]
fn diamond_runs_in_dependency_order_with_overlap() {
    let wf = format!(
        "name: diamond\nsteps:\n  - id: a\n    run: '{t}'\n  - id: b\n    needs: a\n    run: '{t}'\n  - id: c\n    needs: [a]\n    run: '{t}'\n  - id: d\n    needs: [b, c]\n    run: '{t}'\n",
        t = TIMED
    );
    let p = project(&[("w.yaml", &wf)]);
    orch(p.path())
        .args(["run", "w.yaml", "-j", "4", "--output", "plain"])
        .assert()
        .success();
    let t = timeline(p.path());
    assert!(at(&t, "start", "b") >= at(&t, "end", "a"));
    assert!(at(&t, "start", "c") >= at(&t, "end", "a"));
    // b and c ran at the same time.
    assert!(at(&t, "start", "c") < at(&t, "end", "b"));
    assert!(at(&t, "start", "b") < at(&t, "end", "c"));
    assert!(at(&t, "start", "d") >= at(&t, "end", "b").max(at(&t, "end", "c")));
}

fn max_overlap(t: &[(String, String, u128)]) -> usize {
    let mut points: Vec<(u128, i32)> = t
        .iter()
        .map(|(w, _, ns)| (*ns, if w == "start" { 1 } else { -1 }))
        .collect();
    // Ends sort before starts at the same instant.
    points.sort();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in points {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}

fn wide(n: usize) -> String {
    let mut s = String::from("name: wide\nsteps:\n");
    for i in 0..n {
        s.push_str(&format!("  - id: s{i}\n    run: '{TIMED}'\n"));
    }
    s
}

#[test]
fn concurrency_cap_is_respected() {
    let p = project(&[("w.yaml", &wide(6))]);
    orch(p.path())
        .args(["run", "w.yaml", "-j", "2"])
        .assert()
        .success();
    let t = timeline(p.path());
    assert_eq!(t.len(), 12);
    assert!(max_overlap(&t) <= 2, "{t:?}");
}

#[test]
fn concurrency_from_environment_and_hard_cap() {
    let p = project(&[("w.yaml", &wide(4))]);
    orch(p.path())
        .args(["run", "w.yaml", "-j", "4"])
        .env("ORCHESTRATION_MAX_CONCURRENCY", "1")
        .assert()
        .success();
    assert_eq!(max_overlap(&timeline(p.path())), 1);
}

#[test]
fn retries_until_success_with_events() {
    let wf = r#"name: flaky
steps:
  - id: flaky
    run: '[ "$ORCH_ATTEMPT" -ge 3 ] || exit 7'
    retry: { max_attempts: 3, delay_strategy: exponential, base_delay: 10ms, jitter: true }
"#;
    let p = project(&[("w.yaml", wf)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "json"])
        .assert()
        .success();
    let ev = events(&out.get_output().stdout);
    let retrying: Vec<_> = ev
        .iter()
        .filter(|e| e["event"] == "orchestration.step.retrying")
        .collect();
    assert_eq!(retrying.len(), 2);
    assert_eq!(retrying[0]["attempt"], 2);
    assert_eq!(retrying[1]["attempt"], 3);
    assert!(retrying[0]["error"].as_str().unwrap().contains("code 7"));
    let done = ev
        .iter()
        .find(|e| e["event"] == "orchestration.step.completed")
        .unwrap();
    assert_eq!(done["attempt"], 3);
}

#[test]
fn retries_exhausted_fail_the_run() {
    let wf = "name: f\nsteps:\n  - id: s\n    run: exit 3\n    retry: { max_attempts: 2, base_delay: 1ms }\n";
    let p = project(&[("w.yaml", wf)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "json"])
        .assert()
        .code(1);
    let ev = events(&out.get_output().stdout);
    let failed = ev
        .iter()
        .find(|e| e["event"] == "orchestration.step.failed")
        .unwrap();
    assert_eq!(failed["attempt"], 2);
    assert_eq!(failed["exit_code"], 3);
    assert_eq!(ev.last().unwrap()["event"], "orchestration.run.failed");
}

#[test]
fn retry_condition_decides() {
    // Exit 75 is retried, exit 1 is not.
    let wf = r#"name: f
steps:
  - id: s
    run: 'echo x >> attempts; [ "$ORCH_ATTEMPT" -ge 2 ] && exit 1; exit 75'
    retry: { max_attempts: 5, base_delay: 1ms, condition: "${{ error.exit_code == 75 }}" }
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path()).args(["run", "w.yaml"]).assert().code(1);
    assert_eq!(read(p.path(), "attempts").lines().count(), 2);
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let wf = r#"name: t
steps:
  - id: slow
    run: 'sleep 30 & echo $! > bg.pid; sleep 30'
    timeout: 300ms
"#;
    let p = project(&[("w.yaml", wf)]);
    let started = Instant::now();
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "json", "--grace", "1s"])
        .assert()
        .code(1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let ev = events(&out.get_output().stdout);
    let failed = ev
        .iter()
        .find(|e| e["event"] == "orchestration.step.failed")
        .unwrap();
    assert!(
        failed["error"].as_str().unwrap().contains("timed out"),
        "{failed}"
    );
    let pid: i32 = read(p.path(), "bg.pid")
        .trim()
        .parse()
        .expect("background pid");
    // The background child was in the step's process group: it is gone.
    assert!(dies_soon(pid), "background child {pid} survived");
}

/// A process is gone when it no longer exists or is a zombie waiting for a
/// reaper (containers often have none).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn dies_soon(pid: i32) -> bool {
    (0..100).any(|_| {
        if alive(pid) {
            std::thread::sleep(Duration::from_millis(20));
            false
        } else {
            true
        }
    })
}

#[test]
fn timeout_is_retryable_as_error_kind() {
    let wf = r#"name: t
steps:
  - id: slow
    run: '[ "$ORCH_ATTEMPT" = 2 ] || sleep 5'
    timeout: 200ms
    retry: { max_attempts: 2, base_delay: 1ms, condition: "${{ error.kind == 'timeout' }}" }
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path())
        .args(["run", "w.yaml", "--grace", "1s"])
        .assert()
        .success();
}

#[test]
fn sigint_cancels_runs_finally_and_exits_130() {
    let wf = r#"name: c
steps:
  - id: long
    run: 'touch started; sleep 30 & echo $! > bg.pid; wait'
  - id: after
    needs: long
    run: touch after-ran
finally:
  - id: cleanup
    run: touch cleaned-up
"#;
    let p = project(&[("w.yaml", wf)]);
    let mut child = spawn_until(p.path(), "2s", "bg.pid");
    std::thread::sleep(Duration::from_millis(100));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(15));
    assert_eq!(status, Some(130));
    assert!(p.path().join("cleaned-up").exists(), "finally did not run");
    assert!(
        !p.path().join("after-ran").exists(),
        "a step started after cancel"
    );
    let pid: i32 = read(p.path(), "bg.pid").trim().parse().unwrap();
    assert!(dies_soon(pid), "background child {pid} survived the cancel");
}

#[test]
fn second_sigint_stops_at_once() {
    let wf = r#"name: c
steps:
  - id: stubborn
    run: 'trap "" TERM; touch started; sleep 30'
finally:
  - id: cleanup
    run: touch cleaned-up
"#;
    let p = project(&[("w.yaml", wf)]);
    let mut child = spawn_until(p.path(), "60s", "started");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let started = Instant::now();
    let status = wait_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status, Some(130));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!p.path().join("cleaned-up").exists());
}

/// Start `orch run w.yaml` in the background and wait until the step has
/// created `marker`, so a signal lands while it runs.
fn spawn_until(dir: &Path, grace: &str, marker: &str) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("orch"))
        .args(["run", "w.yaml", "--output", "plain", "--grace", grace])
        .current_dir(dir)
        .env("ORCH_HOME", crate::common::shared_home())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join(marker).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn wait_timeout(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
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

#[test]
fn exit_codes() {
    let p = project(&[
        ("ok.yaml", "name: ok\nsteps: [{id: a, run: 'true'}]\n"),
        ("fail.yaml", "name: f\nsteps: [{id: a, run: 'exit 4'}]\n"),
        ("bad.yaml", "name: b\nsteps: [{id: a}]\n"),
    ]);
    orch(p.path()).args(["run", "ok.yaml"]).assert().code(0);
    orch(p.path()).args(["run", "fail.yaml"]).assert().code(1);
    orch(p.path()).args(["run", "bad.yaml"]).assert().code(2);
    orch(p.path())
        .args(["run", "missing.yaml"])
        .assert()
        .code(2);
    orch(p.path())
        .args(["run", "ok.yaml", "-j", "0"])
        .assert()
        .code(2);
}

#[test]
fn json_stream_is_pure_and_complete() {
    let wf = "name: j\nsteps:\n  - id: a\n    run: echo to-stdout; echo to-stderr >&2\n  - id: b\n    needs: a\n    if: \"false\"\n    run: 'true'\n";
    let p = project(&[("w.yaml", wf)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "json"])
        .assert()
        .success();
    let ev = events(&out.get_output().stdout);
    let names: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "orchestration.run.created",
            "orchestration.run.started",
            "orchestration.step.started",
            "orchestration.step.completed",
            "orchestration.step.skipped",
            "orchestration.run.completed"
        ]
    );
    for e in &ev {
        assert!(e["run_id"].is_string() && e["workflow"] == "j" && e["time"].is_string());
    }
    assert_eq!(ev[3]["status"], "succeeded");
    assert!(ev[3]["duration_ms"].is_u64());
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("[a] to-stdout") && stderr.contains("[a] to-stderr"));
}

#[test]
fn plain_output_prefixes_step_lines() {
    let p = project(&[(
        "w.yaml",
        "name: p\nsteps: [{id: hello, run: 'echo hi there'}]\n",
    )]);
    orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .success()
        .stdout(predicates::str::contains("[hello] hi there"))
        .stdout(predicates::str::contains("hello ✓ succeeded"));
}

#[test]
fn github_actions_groups_and_annotations() {
    let p = project(&[(
        "w.yaml",
        "name: p\nsteps: [{id: hello, run: 'echo hi; exit 2'}]\n",
    )]);
    orch(p.path())
        .args(["run", "w.yaml"])
        .env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "::group::hello\n[hello] hi\n::endgroup::",
        ))
        .stdout(predicates::str::contains(
            "::error title=step hello failed::exited with code 2",
        ));
}

#[test]
fn outputs_heredoc_transforms_and_workflow_outputs() {
    let wf = r#"name: o
steps:
  - id: produce
    run: |
      echo "version=1.2.3" >> "$ORCH_OUTPUT"
      { echo "notes<<EOF"; echo "line one"; echo "line two"; echo "EOF"; } >> "$ORCH_OUTPUT"
      echo printed
  - id: shape
    needs: produce
    transform:
      major: ${{ int(steps.produce.outputs.version.split('.')[0]) }}
      lines: ${{ size(steps.produce.outputs.notes.split('\n')) }}
      out: ${{ steps.produce.stdout }}
  - id: check
    needs: shape
    run: test "${{ steps.shape.outputs.major }}-${{ steps.shape.outputs.lines }}-${{ steps.shape.outputs.out }}" = "1-2-printed"
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path()).args(["run", "w.yaml"]).assert().success();
}

#[test]
fn missing_output_key_names_the_keys_that_exist() {
    let wf = r#"name: o
steps:
  - id: a
    run: echo "real=1" >> "$ORCH_OUTPUT"
  - id: b
    needs: a
    run: echo ${{ steps.a.outputs.wrong }}
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("no key `wrong`"))
        .stdout(predicates::str::contains("real"));
}

#[test]
fn for_each_items_and_max_parallel() {
    let wf = r#"name: fe
inputs:
  regions: { type: list, default: [eu, us, ap, sa] }
steps:
  - id: deploy
    for_each: ${{ inputs.regions }}
    max_parallel: 2
    run: 'echo "start $ORCH_STEP_ID-${{ index }} $(date +%s%N)" >> timeline; sleep 0.2; echo "region=${{ item }}" >> "$ORCH_OUTPUT"; echo "end $ORCH_STEP_ID-${{ index }} $(date +%s%N)" >> timeline'
  - id: after
    needs: deploy
    run: test "${{ steps.deploy.items[3].outputs.region }}" = sa
"#;
    let p = project(&[("w.yaml", wf)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "json", "-j", "8"])
        .assert()
        .success();
    let ev = events(&out.get_output().stdout);
    for i in 0..4 {
        let id = format!("deploy[{i}]");
        assert!(ev
            .iter()
            .any(|e| e["step_id"] == id.as_str() && e["event"] == "orchestration.step.completed"));
    }
    assert!(max_overlap(&timeline(p.path())) <= 2);
}

#[test]
fn failure_handling_sections() {
    let wf = r#"name: fh
steps:
  - id: ok
    run: 'true'
  - id: soft
    run: exit 1
    continue_on_error: true
  - id: after-soft
    needs: soft
    run: test "${{ steps.soft.status }}" = failed && touch after-soft
  - id: hard
    needs: after-soft
    run: exit 2
  - id: never
    needs: hard
    run: touch never
  - id: on-fail
    needs: hard
    if: failure()
    run: touch if-failure
on_failure:
  - id: alert
    run: touch alerted
finally:
  - id: cleanup
    run: touch cleaned
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path()).args(["run", "w.yaml"]).assert().code(1);
    for f in ["after-soft", "if-failure", "alerted", "cleaned"] {
        assert!(p.path().join(f).exists(), "{f} missing");
    }
    assert!(!p.path().join("never").exists());
}

#[test]
fn on_failure_skipped_when_run_succeeds() {
    let wf = "name: s\nsteps: [{id: a, run: 'true'}]\non_failure: [{id: alert, run: touch alerted}]\nfinally: [{id: f, run: touch finally}]\n";
    let p = project(&[("w.yaml", wf)]);
    orch(p.path()).args(["run", "w.yaml"]).assert().success();
    assert!(!p.path().join("alerted").exists());
    assert!(p.path().join("finally").exists());
}

#[test]
fn workflow_timeout_fails_the_run() {
    let wf = "name: t\ntimeout: 300ms\nsteps: [{id: a, run: sleep 20}]\nfinally: [{id: f, run: touch finally}]\n";
    let p = project(&[("w.yaml", wf)]);
    let started = Instant::now();
    orch(p.path())
        .args(["run", "w.yaml", "--grace", "1s", "--output", "plain"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("timed out"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(p.path().join("finally").exists());
}

#[test]
fn inputs_are_type_checked_before_anything_runs() {
    let wf = r#"name: i
inputs:
  n: { type: number, required: true }
  env: { type: string, default: staging, enum: [staging, prod] }
steps:
  - id: a
    run: touch ran
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path())
        .args(["run", "w.yaml", "-i", "n=abc"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("expected a number"));
    orch(p.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("`n` is required"));
    orch(p.path())
        .args(["run", "w.yaml", "-i", "n=1", "-i", "env=dev"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("must be one of"));
    orch(p.path())
        .args(["run", "w.yaml", "-i", "n=1", "-i", "evn=prod"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("did you mean `env`"));
    assert!(!p.path().join("ran").exists());
    std::fs::write(p.path().join("in.json"), r#"{"n": 2, "env": "prod"}"#).unwrap();
    orch(p.path())
        .args(["run", "w.yaml", "--input-file", "in.json"])
        .assert()
        .success();
    assert!(p.path().join("ran").exists());
}

#[test]
fn typed_expression_values_and_conditions() {
    let wf = r#"name: t
inputs:
  env: { type: string, default: staging }
  dry_run: { type: boolean, default: false }
steps:
  - id: prod-only
    if: ${{ inputs.env == 'prod' && !inputs.dry_run }}
    run: touch prod
  - id: always-here
    if: inputs.env != 'prod'
    run: touch staging
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path()).args(["run", "w.yaml"]).assert().success();
    assert!(!p.path().join("prod").exists());
    assert!(p.path().join("staging").exists());
    orch(p.path())
        .args(["run", "w.yaml", "-i", "env=prod"])
        .assert()
        .success();
    assert!(p.path().join("prod").exists());
}

#[test]
fn run_by_name_from_a_subdirectory() {
    let p = project(&[
        (
            "orchestration.yaml",
            "orchestration:\n  policies: { max_parallel_tasks: 2 }\n",
        ),
        (
            "workflows/build.yaml",
            "name: build\nsteps: [{id: a, run: 'pwd > where'}]\n",
        ),
        ("sub/deeper/.keep", ""),
    ]);
    orch(&p.path().join("sub/deeper"))
        .args(["run", "build"])
        .assert()
        .success();
    // Steps run in the project directory (beside orchestration.yaml).
    let where_ = read(p.path(), "where");
    assert_eq!(
        std::fs::canonicalize(where_.trim()).unwrap(),
        std::fs::canonicalize(p.path()).unwrap()
    );
    orch(&p.path().join("sub"))
        .args(["run", "biuld"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("did you mean `build`"));
}

#[test]
fn telemetry_log_file_gets_every_event() {
    let p = project(&[
        (
            "orchestration.yaml",
            "orchestration:\n  telemetry: { log_to_file: true, log_file_path: logs/orchestration.log }\n",
        ),
        ("w.yaml", "name: t\nsteps: [{id: a, run: 'true'}, {id: b, run: 'true'}]\n"),
    ]);
    orch(p.path()).args(["run", "w.yaml"]).assert().success();
    let log = read(p.path(), "logs/orchestration.log");
    let ev = events(log.as_bytes());
    assert_eq!(ev.len(), 2 + 2 * 2 + 1);
    assert_eq!(ev.last().unwrap()["event"], "orchestration.run.completed");
}

#[test]
fn stdout_keeps_only_the_last_mebibyte() {
    let wf = r#"name: big
steps:
  - id: big
    run: 'head -c 3000000 /dev/zero | tr "\0" "x"; echo; echo END'
  - id: check
    needs: big
    transform:
      n: ${{ size(steps.big.stdout) }}
      tail: ${{ steps.big.stdout.endsWith('END') }}
  - id: assert
    needs: check
    run: test ${{ steps.check.outputs.n }} -le 1048576 && test ${{ steps.check.outputs.tail }} = true
"#;
    let p = project(&[("w.yaml", wf)]);
    orch(p.path())
        .args(["run", "w.yaml", "--output", "json"])
        .assert()
        .success();
}

#[test]
fn env_and_working_dir() {
    let wf = r#"name: e
env:
  GREETING: hello
  TARGET: ${{ inputs.who }}
inputs:
  who: { type: string, default: world }
steps:
  - id: a
    working_dir: sub
    env: { EXTRA: "${{ env.GREETING }}!" }
    run: echo "$GREETING $TARGET $EXTRA $ORCH_WORKFLOW $ORCH_STEP_ID" > out.txt
"#;
    let p = project(&[("w.yaml", wf), ("sub/.keep", "")]);
    orch(p.path()).args(["run", "w.yaml"]).assert().success();
    assert_eq!(
        read(p.path(), "sub/out.txt").trim(),
        "hello world hello! e a"
    );
}

#[test]
fn dry_run_runs_nothing() {
    let p = project(&[("w.yaml", "name: d\nsteps: [{id: a, run: touch ran}]\n")]);
    orch(p.path())
        .args(["run", "w.yaml", "--dry-run"])
        .assert()
        .success()
        .stdout(predicates::str::contains("1. a"));
    assert!(!p.path().join("ran").exists());
}

#[test]
fn after_a_failure_waiting_steps_do_not_start() {
    // One slot: `boom` runs first (priority) and fails; `later` was ready but
    // waiting for the slot, so it must not start.
    let wf = "name: f\nsteps:\n  - {id: boom, priority: 9, run: exit 1}\n  - {id: later, run: touch later}\n  - {id: rescue, needs: boom, if: failure(), run: touch rescued}\n";
    let p = project(&[("w.yaml", wf)]);
    orch(p.path())
        .args(["run", "w.yaml", "-j", "1"])
        .assert()
        .code(1);
    assert!(!p.path().join("later").exists());
    assert!(p.path().join("rescued").exists());
}

#[test]
fn finally_step_needing_a_failed_main_step_is_skipped_unless_always() {
    let wf = "name: f\nsteps:\n  - {id: main, run: exit 1}\nfinally:\n  - {id: report, needs: main, run: touch report}\n  - {id: always-report, needs: main, if: always(), run: touch always}\n";
    let p = project(&[("w.yaml", wf)]);
    orch(p.path()).args(["run", "w.yaml"]).assert().code(1);
    assert!(!p.path().join("report").exists());
    assert!(p.path().join("always").exists());
}

#[test]
fn spec_orchestration_yaml_loads_unchanged_and_pools_serialise() {
    let dir = crate::common::repo_root().join("tests/fixtures/config");
    orch(&dir).args(["validate", "pooled"]).assert().success();
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("timeline");
    orch(&dir)
        .args(["run", "pooled", "-j", "4", "--output", "json"])
        .env("OUT", &out)
        .assert()
        .success();
    let t = timeline(scratch.path());
    // One GPU: the two steps never overlap although four slots are free.
    assert_eq!(max_overlap(&t), 1, "{t:?}");
    // The telemetry log from the config was written beside it.
    let log = dir.join("logs/orchestration.log");
    assert!(log.exists());
    let _ = std::fs::remove_dir_all(dir.join("logs"));
}

#[test]
fn unknown_pool_is_a_validation_error() {
    let p = project(&[
        ("orchestration.yaml", "orchestration:\n  pools: { gpu: 1 }\n"),
        ("w.yaml", "name: w\nsteps:\n  - {id: a, resources: {gpu: 2}, run: 'true'}\n  - {id: b, resources: {gppu: 1}, run: 'true'}\n"),
    ]);
    orch(p.path())
        .args(["validate", "w.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("did you mean `gpu`"))
        .stderr(predicates::str::contains("which has 1"));
}

#[test]
fn broken_config_is_reported_with_its_location() {
    let p = project(&[
        (
            "orchestration.yaml",
            "orchestration:\n  retry: { max_attempts: 3, delay_strategy: expo }\n  telemetri: {}\n",
        ),
        ("w.yaml", "name: w\nsteps: [{id: a, run: 'true'}]\n"),
    ]);
    orch(p.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("orchestration.yaml:2:"))
        .stderr(predicates::str::contains("did you mean `telemetry`"));
    orch(p.path())
        .args(["run", "w.yaml", "--config", "nope.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nope.yaml"));
}

#[test]
fn json_numbers_keep_every_digit() {
    let wf = "name: f\nsteps:\n  - id: t\n    transform:\n      same: \"${{ fromJSON('1.38e-23') == 1.38e-23 }}\"\n      back: \"${{ fromJSON('{\\\"v\\\": 1.38e-23}').v }}\"\noutputs:\n  same: ${{ steps.t.outputs.same }}\n  back: ${{ steps.t.outputs.back }}\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = crate::common::orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let evs = crate::common::events(&out.stdout);
    let last = evs.last().unwrap();
    assert_eq!(last["outputs"]["same"], true);
    assert_eq!(last["outputs"]["back"].to_string(), "1.38e-23");
    // And as the history recorded it.
    let shown = crate::common::orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["outputs"]["back"].to_string(), "1.38e-23");
}

#[test]
fn cel_type_names_validate_and_evaluate() {
    let wf = "name: t\nsteps:\n  - id: x\n    transform:\n      a: ${{ type(1) == int }}\n      b: ${{ type('s') == string && type(true) == bool && type([1]) == list && type(1.5) == double }}\n      c: ${{ type(type(1)) == type }}\noutputs:\n  all: ${{ steps.x.outputs.a && steps.x.outputs.b && steps.x.outputs.c }}\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = crate::common::orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = crate::common::events(&out.stdout);
    assert_eq!(evs.last().unwrap()["outputs"]["all"], true);
}

#[test]
fn an_unreadable_input_file_is_the_one_problem_reported() {
    let wf = "name: i\ninputs:\n  x: { type: string, required: true }\nsteps:\n  - id: a\n    run: echo\n";
    let p = project(&[("w.yaml", wf), ("list.json", "[1, 2]")]);
    for (file, says) in [
        ("nope.json", "cannot read nope.json: no such file"),
        ("list.json", "list.json must hold an object of inputs"),
    ] {
        let out = orch(p.path())
            .args(["run", "w.yaml", "--input-file", file])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("is required"), "{err}");
    }
}

#[test]
fn plan_lists_inputs_in_declaration_order() {
    let wf = "name: o\ninputs:\n  zeta: { type: string, default: z }\n  alpha: { type: string, default: a }\n  mid: { type: number, default: 1 }\nsteps:\n  - id: a\n    run: 'true'\n";
    let p = project(&[("w.yaml", wf)]);
    for cmd in [&["plan", "w.yaml"][..], &["run", "w.yaml", "--dry-run"]] {
        let out = orch(p.path()).args(cmd).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let at = |k: &str| {
            text.find(&format!("  {k} = "))
                .unwrap_or_else(|| panic!("{k}: {text}"))
        };
        assert!(
            at("zeta") < at("alpha") && at("alpha") < at("mid"),
            "{text}"
        );
    }
}

/// A step's environment is orch's own minus `ORCH_SECRET_*`, then the
/// workflow's and the step's: a secret reaches a step only through `env:`.
#[test]
fn steps_inherit_the_environment_but_not_orch_secret_variables() {
    let p = project(&[(
        "w.yaml",
        r#"name: w
env: { FROM_WORKFLOW: wf }
steps:
  - id: a
    env: { FROM_STEP: "${{ secrets.tok }}" }
    run: |
      env | grep -c '^ORCH_SECRET_' > count || true
      printf '%s|%s|%s|%s' "$INHERITED" "$FROM_WORKFLOW" "$FROM_STEP" "$ORCH_STEP_ID" > seen
"#,
    )]);
    orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .env("ORCH_SECRET_TOK", "s3cret-value")
        .env("INHERITED", "parent")
        .assert()
        .success();
    assert_eq!(read(p.path(), "count").trim(), "0");
    assert_eq!(read(p.path(), "seen"), "parent|wf|s3cret-value|a");
}

#[test]
fn plain_commands_run_without_a_shell_and_fall_back_to_it_as_execvp_does() {
    // `./plain.sh` has no `#!` line: the kernel cannot run it, so it runs
    // through the shell, as it would under make or execvp. `tool` is found
    // on the PATH the step's env sets.
    let wf = r#"name: d
steps:
  - id: script
    run: ./plain.sh one
  - id: on-path
    env: { PATH: "${{ env.PWD }}/bin:/usr/bin:/bin" }
    run: tool two
  - id: missing
    run: no-such-program-anywhere
  - id: missing-path
    run: ./no-such-file-here
"#;
    let p = project(&[
        ("w.yaml", wf),
        ("plain.sh", "echo \"plain $1\" > plain.out\n"),
        ("bin/tool", "#!/bin/sh\necho \"tool $1\" > tool.out\n"),
    ]);
    for f in ["plain.sh", "bin/tool"] {
        use std::os::unix::fs::PermissionsExt;
        let path = p.path().join(f);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .env("PWD", p.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert_eq!(read(p.path(), "plain.out").trim(), "plain one");
    assert_eq!(read(p.path(), "tool.out").trim(), "tool two");
    assert!(
        out.contains("no-such-program-anywhere: not found") || out.contains("command not found"),
        "{out}"
    );
}
