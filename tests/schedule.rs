//! The order ready steps start in when slots are scarce: the longest
//! expected remaining path first (durations from history), `priority`
//! above it, `ORCH_SCHEDULE=fifo` for file order; what `orch plan` expects.

use std::path::Path;

use crate::common::{events, orch, orch_in, project};

/// Two quick steps listed before a slow one, none needing another.
const SKEWED: &str = "name: skewed\nsteps:\n  - {id: quick1, run: 'true'}\n  - {id: quick2, run: 'true'}\n  - {id: slow, run: sleep 0.3}\n";

/// Step ids in the order of their `orchestration.step.started` events.
fn started(dir: &Path, home: &Path, env: &[(&str, &str)], file: &str) -> Vec<String> {
    let mut cmd = orch_in(dir, home);
    cmd.args(["run", file, "-j", "1", "--output", "json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
        .iter()
        .filter(|e| e["event"] == "orchestration.step.started")
        .map(|e| e["step_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_step_history_knows_as_slow_starts_first_unless_fifo() {
    let p = project(&[("w.yaml", SKEWED)]);
    let home = tempfile::tempdir().unwrap();
    let file_order = ["quick1", "quick2", "slow"];
    // Nothing known: every step counts the same, file order.
    assert_eq!(started(p.path(), home.path(), &[], "w.yaml"), file_order);
    // The second run knows `slow` is the long one. (The two quick ones
    // follow in the order of what they took, a millisecond or two each.)
    let second = started(p.path(), home.path(), &[], "w.yaml");
    assert_eq!(second[0], "slow", "{second:?}");
    let mut rest = second[1..].to_vec();
    rest.sort();
    assert_eq!(rest, ["quick1", "quick2"]);
    assert_eq!(
        started(
            p.path(),
            home.path(),
            &[("ORCH_SCHEDULE", "fifo")],
            "w.yaml"
        ),
        file_order
    );
    // `priority` still comes first.
    let prio = SKEWED.replace("{id: quick2,", "{id: quick2, priority: 1,");
    std::fs::write(p.path().join("p.yaml"), prio).unwrap();
    assert_eq!(
        started(p.path(), home.path(), &[], "p.yaml"),
        ["quick2", "slow", "quick1"]
    );
}

#[test]
fn without_history_the_longest_chain_of_steps_starts_first() {
    let wf = "name: chain\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true'}\n  - {id: c1, run: 'true'}\n  - {id: c2, needs: c1, run: 'true'}\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let memory = [("ORCH_HISTORY", "memory")];
    assert_eq!(
        started(p.path(), home.path(), &memory, "w.yaml"),
        ["c1", "a", "b", "c2"]
    );
    let fifo = [("ORCH_HISTORY", "memory"), ("ORCH_SCHEDULE", "fifo")];
    assert_eq!(
        started(p.path(), home.path(), &fifo, "w.yaml"),
        ["a", "b", "c1", "c2"]
    );
}

#[test]
fn plan_shows_the_expected_critical_path_and_makespan() {
    let wf = "name: est\nsteps:\n  - {id: quick, run: 'true'}\n  - {id: first, run: sleep 0.2}\n  - {id: then, needs: first, run: 'true'}\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let plan = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = orch_in(p.path(), home.path());
        cmd.args(["plan", "w.yaml"]).args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    // No history yet: one second a step, and the plan itself comes first.
    let before = plan(&["-j", "1", "-v"], &[]);
    assert!(
        before.starts_with("workflow est\nconcurrency: 1\nsteps:\n"),
        "{before}"
    );
    assert!(
        before.contains("critical path: first -> then (expected 2.0s)\n"),
        "{before}"
    );
    assert!(
        before.contains("expected makespan at concurrency 1: 3.0s\n"),
        "{before}"
    );
    assert!(
        before.contains("  quick: 1.0s (nothing in history: default)\n"),
        "{before}"
    );

    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "-q"])
        .assert()
        .success();
    let after = plan(&["-v"], &[]);
    assert!(
        after.contains("critical path: first -> then (expected 2"),
        "{after}"
    );
    assert!(after.contains("  first: 2"), "{after}");
    assert!(after.contains("ms (median of 1 run)\n"), "{after}");
    // Without -v, no durations; with fifo, it says so.
    let plain = plan(&[], &[("ORCH_SCHEDULE", "fifo")]);
    assert!(!plain.contains("expected durations"), "{plain}");
    assert!(
        plain.contains("(ORCH_SCHEDULE=fifo: priority, then file order)"),
        "{plain}"
    );
}

#[test]
fn an_unknown_schedule_is_an_error() {
    let p = project(&[("w.yaml", SKEWED)]);
    let out = orch(p.path())
        .args(["run", "w.yaml"])
        .env("ORCH_SCHEDULE", "random")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ORCH_SCHEDULE"));
}

/// The steps in a run's `run_durations` row (what ranking the next run
/// reads), in order; `None` without one.
fn counted_steps(home: &Path) -> Option<Vec<String>> {
    let db = crate::history_store::db(home);
    let text: Option<String> = db
        .query_row(
            "SELECT d.steps FROM runs r LEFT JOIN run_durations d ON d.run_id = r.id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    text.map(|t| {
        t.lines()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    })
}

#[test]
fn an_ended_run_keeps_its_durations_for_the_next_ranking_and_a_chain_keeps_none() {
    let wf = "name: fan\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'test -f fixed'}\n  - {id: c, needs: a, run: 'true'}\n";
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .code(1);
    assert_eq!(
        counted_steps(home.path()),
        Some(vec!["a".into(), "c".into()]),
        "the succeeded steps, in file order"
    );
    std::fs::write(p.path().join("fixed"), "").unwrap();
    let (run, _) = crate::history_store::only_run(home.path());
    orch_in(p.path(), home.path())
        .args(["resume", &run, "--output", "plain"])
        .assert()
        .success();
    assert_eq!(
        counted_steps(home.path()),
        Some(vec!["a".into(), "b".into(), "c".into()]),
        "written again when the resumed run ends"
    );

    let chain =
        "name: chain\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, needs: a, run: 'true'}\n";
    let p = project(&[("w.yaml", chain)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .success();
    assert_eq!(
        counted_steps(home.path()),
        None,
        "no ranking reads a chain's"
    );
}
