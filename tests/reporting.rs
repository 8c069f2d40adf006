//! How plain and JSON output report a run: `-q`, `--color`, the result
//! line, allowed failures.

use crate::common::{orch, project};

/// `a` succeeds noisily; `b` prints 60 lines and the cause, then fails.
const FAILING: &str = r#"name: q
steps:
  - id: a
    run: echo noisy-success
  - id: b
    needs: [a]
    run: 'for i in $(seq 1 60); do echo "line $i"; done; echo cause-of-failure; exit 3'
"#;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn position(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{hay}"))
}

#[test]
fn quiet_plain_shows_a_failed_steps_last_lines_before_its_failure() {
    let p = project(&[("w.yaml", FAILING)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "-q", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    // The cause, under the step's prefix, before the line saying it failed.
    let cause = position(&stdout, "[b] cause-of-failure\n");
    let failed = position(&stdout, "b ✗ failed");
    assert!(cause < failed, "{stdout}");
    // A bounded tail: the last 50 lines, the rest counted.
    assert!(
        stdout.contains("[b] … 11 earlier lines not shown\n"),
        "{stdout}"
    );
    assert!(stdout.contains("[b] line 12\n"), "{stdout}");
    assert!(!stdout.contains("[b] line 11\n"), "{stdout}");
    // Nothing of what went well.
    assert!(!stdout.contains("noisy-success"), "{stdout}");
    assert!(!stdout.contains('✓'), "{stdout}");
    assert!(!stdout.contains("started"), "{stdout}");
    assert!(stdout.contains("run failed in"), "{stdout}");
}

#[test]
fn quiet_plain_prints_nothing_but_the_summary_when_all_goes_well() {
    let p = project(&[(
        "w.yaml",
        "name: q\nsteps:\n  - {id: a, run: echo noisy}\n  - {id: b, run: echo loud}\n",
    )]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "-q", "--output", "plain"])
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("run succeeded in"), "{stdout}");
}

#[test]
fn quiet_json_keeps_every_event_and_only_failed_steps_output() {
    let p = project(&[("w.yaml", FAILING)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "-q", "--output", "json"])
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    let stderr = text(&out.get_output().stderr);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    // -q does not thin the event stream: programs read it.
    for name in [
        "orchestration.run.started",
        "orchestration.step.started",
        "orchestration.step.completed",
        "orchestration.step.failed",
        "orchestration.run.failed",
    ] {
        assert!(names.contains(&name), "{name} missing: {names:?}");
    }
    assert!(stderr.contains("[b] cause-of-failure\n"), "{stderr}");
    assert!(stderr.contains("[b] line 60\n"), "{stderr}");
    assert!(!stderr.contains("noisy-success"), "{stderr}");
}

#[test]
fn color_always_colours_plain_output_and_never_json() {
    let p = project(&[("w.yaml", FAILING)]);
    let plain = orch(p.path())
        .args(["--color", "always", "run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = text(&plain.get_output().stdout);
    // The ✓ and ✗ lines, the step ids of output lines, the summary.
    assert!(stdout.contains("\x1b[32m✓ succeeded"), "{stdout:?}");
    assert!(stdout.contains("\x1b[31m✗ failed"), "{stdout:?}");
    assert!(
        stdout.contains("\x1b[2m[b]\x1b[0m cause-of-failure"),
        "{stdout:?}"
    );
    assert!(stdout.contains("\x1b[1mb\x1b[0m"), "{stdout:?}");

    let json = orch(p.path())
        .args(["--color", "always", "run", "w.yaml", "--output", "json"])
        .assert()
        .code(1);
    let o = json.get_output();
    assert!(!o.stdout.contains(&0x1b), "{}", text(&o.stdout));
    assert!(!o.stderr.contains(&0x1b), "{}", text(&o.stderr));
}

#[test]
fn color_auto_leaves_plain_output_to_a_pipe_uncoloured() {
    let p = project(&[("w.yaml", FAILING)]);
    let out = orch(p.path())
        .env_remove("NO_COLOR")
        .args(["--color", "auto", "run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let o = out.get_output();
    assert!(!o.stdout.contains(&0x1b), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("b ✗ failed"));
}

#[test]
fn plain_prints_the_runs_result_once() {
    let p = project(&[
        ("fail.yaml", FAILING),
        ("ok.yaml", "name: ok\nsteps:\n  - {id: a, run: 'true'}\n"),
    ]);
    for (file, code, verdict) in [
        ("fail.yaml", 1, "run failed"),
        ("ok.yaml", 0, "run succeeded"),
    ] {
        let out = orch(p.path())
            .args(["run", file, "--output", "plain"])
            .assert()
            .code(code);
        let stdout = text(&out.get_output().stdout);
        let results: Vec<&str> = stdout.lines().filter(|l| l.contains(verdict)).collect();
        assert_eq!(results.len(), 1, "{stdout}");
        // The richer line: with the counts.
        assert!(
            results[0].starts_with(&format!("{verdict} in ")),
            "{stdout}"
        );
        assert!(results[0].contains("1 succeeded"), "{stdout}");
    }
}

/// `lint` fails first but may; `build` fails later, for real.
const ALLOWED: &str = r#"name: allowed
steps:
  - id: lint
    run: 'echo lint-complaint; exit 1'
    continue_on_error: true
  - id: ok
    run: 'true'
  - id: build
    needs: [lint, ok]
    run: exit 2
"#;

#[test]
fn an_allowed_failure_is_marked_and_not_counted_as_the_runs_failure() {
    let p = project(&[
        ("w.yaml", ALLOWED),
        ("soft.yaml", "name: soft\nsteps:\n  - {id: ok, run: 'true'}\n  - {id: lint, run: exit 1, continue_on_error: true}\n"),
    ]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("lint ✗ failed (allowed) in "), "{stdout}");
    assert!(stdout.contains("build ✗ failed in "), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.contains(": 1 succeeded, 1 failed, 1 failed (allowed); first failure: build"),
        "{summary}"
    );

    // Only an allowed failure: the run succeeds, exit 0, and says so.
    let out = orch(p.path())
        .args(["run", "soft.yaml", "--output", "plain"])
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("run succeeded in ")
            && summary.ends_with(": 1 succeeded, 1 failed (allowed)"),
        "{summary}"
    );
    assert!(!stdout.contains("first failure"), "{stdout}");
}

#[test]
fn an_allowed_failure_is_marked_in_json_events() {
    let p = project(&[("w.yaml", ALLOWED)]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "--output", "json"])
        .assert()
        .code(1);
    let events: Vec<serde_json::Value> = text(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed = |id: &str| {
        events
            .iter()
            .find(|e| e["event"] == "orchestration.step.failed" && e["step_id"] == id)
            .unwrap_or_else(|| panic!("no failure of {id}: {events:?}"))
            .clone()
    };
    assert_eq!(failed("lint")["allowed"], true);
    assert!(failed("build").get("allowed").is_none());
    let run = events.last().unwrap();
    assert_eq!(run["event"], "orchestration.run.failed");
    assert_eq!(run["error"], "step `build` failed");
}

#[test]
fn github_actions_quiet_groups_only_failed_steps_and_warns_of_allowed_ones() {
    let p = project(&[("w.yaml", ALLOWED), ("q.yaml", FAILING)]);
    let out = orch(p.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    assert!(
        stdout.contains("::warning title=step lint failed::exited with code 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::error title=step build failed::exited with code 2"),
        "{stdout}"
    );

    let out = orch(p.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["run", "q.yaml", "-q", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("::group::b\n"), "{stdout}");
    assert!(stdout.contains("[b] cause-of-failure\n"), "{stdout}");
    assert!(!stdout.contains("::group::a\n"), "{stdout}");
    assert!(!stdout.contains("noisy-success"), "{stdout}");
}

#[test]
fn github_actions_groups_a_compensations_output() {
    let wf = r#"name: saga
steps:
  - id: charge
    run: echo charged
    compensate:
      run: echo refunding-now
  - id: ship
    needs: [charge]
    run: exit 1
"#;
    let p = project(&[("w.yaml", wf)]);
    let out = orch(p.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = text(&out.get_output().stdout);
    assert!(
        stdout.contains(
            "::group::charge.compensate\n[charge.compensate] refunding-now\n::endgroup::\n"
        ),
        "{stdout}"
    );
}
