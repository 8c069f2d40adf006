//! `orch resume`: finished steps keep their results, the rest run.

use std::path::Path;

use crate::common::{orch_in, project};
use crate::history_store::{only_run, step_status};

const PIPELINE: &str = r#"
name: pipeline
inputs:
  target: { type: string, default: prod }
steps:
  - id: fetch
    run: |
      echo fetch >> runs.txt
      echo "version=1.2.$RANDOM" >> $ORCH_OUTPUT
  - id: build
    needs: [fetch]
    run: |
      echo build >> runs.txt
      test -f fixed || { echo "compiler error" >&2; exit 4; }
      echo "artifact=app-${{ steps.fetch.outputs.version }}" >> $ORCH_OUTPUT
  - id: deploy
    needs: [build]
    run: echo "deploy ${{ steps.build.outputs.artifact }} from ${{ steps.fetch.outputs.version }} to ${{ inputs.target }}" >> runs.txt
"#;

fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_failed_run_resumed_after_the_fix_keeps_finished_steps_and_outputs() {
    let p = project(&[("w.yaml", PIPELINE)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "-i", "target=staging", "--output", "plain"])
        .assert()
        .code(1);
    let (run, status) = only_run(home.path());
    assert_eq!(status, "failed");
    assert_eq!(step_status(home.path(), &run, "fetch"), "succeeded");
    assert_eq!(step_status(home.path(), &run, "build"), "failed");
    assert_eq!(step_status(home.path(), &run, "deploy"), "skipped");

    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", &run[..10], "--output", "plain"])
        .assert()
        .success();
    let l = lines(p.path());
    assert_eq!(l.iter().filter(|x| *x == "fetch").count(), 1, "{l:?}");
    assert_eq!(l.iter().filter(|x| *x == "build").count(), 2, "{l:?}");
    // fetch's random version was restored, not recomputed, and the inputs
    // of the first attempt still apply.
    let deploy = l.last().unwrap();
    let version = deploy
        .rsplit(" from ")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(
        deploy.starts_with(&format!("deploy app-{version} from {version} to staging")),
        "{deploy}"
    );
    let (same, status) = only_run(home.path());
    assert_eq!(
        (same.as_str(), status.as_str()),
        (run.as_str(), "succeeded")
    );
    let attempt: i64 = crate::history_store::db(home.path())
        .query_row("SELECT attempt FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(attempt, 2);
}

#[test]
fn a_succeeded_run_is_not_resumed() {
    let p = project(&[("w.yaml", PIPELINE), ("fixed", "")]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .success();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already succeeded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn from_reruns_the_step_and_everything_downstream() {
    let p = project(&[("w.yaml", PIPELINE)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(1);
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last", "--from", "fetch", "--output", "plain"])
        .assert()
        .success();
    let l = lines(p.path());
    assert_eq!(l.iter().filter(|x| *x == "fetch").count(), 2, "{l:?}");

    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--from", "fecth"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn changing_a_finished_step_makes_resume_refuse_and_say_what_changed() {
    let p = project(&[("w.yaml", PIPELINE)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml"])
        .assert()
        .code(1);
    // Editing the failed step is the point of resuming: allowed.
    let fixed = PIPELINE.replace("exit 4", "true");
    std::fs::write(p.path().join("w.yaml"), &fixed).unwrap();
    // Editing a finished step is not: its results came from the old text.
    let changed = fixed.replace("echo fetch >> runs.txt", "echo fetched >> runs.txt");
    std::fs::write(p.path().join("w.yaml"), &changed).unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`fetch` finished, but its definition changed"),
        "{err}"
    );
    assert!(err.contains("--from fetch"), "{err}");
    assert_eq!(lines(p.path()).len(), 2, "nothing ran");

    // A new step that a finished step would need is refused as well.
    let added = PIPELINE.replace(
        "  - id: fetch\n",
        "  - id: prepare\n    run: 'true'\n  - id: fetch\n    needs: [prepare]\n",
    );
    std::fs::write(p.path().join("w.yaml"), &added).unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`prepare` is new"), "{err}");

    // With --from, the changed step runs again: safe.
    std::fs::write(p.path().join("w.yaml"), &changed).unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last", "--from", "fetch"])
        .assert()
        .success();
    assert!(lines(p.path()).contains(&"fetched".to_string()));
}

#[test]
fn for_each_items_are_recorded_and_a_failed_fan_out_reruns() {
    let p = project(&[(
        "w.yaml",
        r#"
name: fan
steps:
  - id: each
    for_each: [1, 2, 3]
    run: |
      echo "item ${{ item }}" >> runs.txt
      test "${{ item }}" != 2 || test -f fixed
  - id: after
    needs: [each]
    run: echo after >> runs.txt
"#,
    )]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "-j", "1"])
        .assert()
        .code(1);
    let (run, _) = only_run(home.path());
    assert_eq!(step_status(home.path(), &run, "each[0]"), "succeeded");
    assert_eq!(step_status(home.path(), &run, "each[1]"), "failed");
    assert_eq!(step_status(home.path(), &run, "each[2]"), "succeeded");
    assert_eq!(step_status(home.path(), &run, "each"), "failed");
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", "last", "-j", "1"])
        .assert()
        .success();
    assert_eq!(step_status(home.path(), &run, "each[1]"), "succeeded");
    assert_eq!(lines(p.path()).last().map(String::as_str), Some("after"));
}

/// The recorded `steps.<id>` view of a step.
fn recorded_view(home: &Path, run: &str, step: &str) -> serde_json::Value {
    let text: String = crate::history_store::db(home)
        .query_row(
            "SELECT result FROM steps WHERE run_id = ?1 AND step_id = ?2",
            [run, step],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn stdout_is_kept_only_where_read_and_a_resume_that_reads_it_reruns_its_step() {
    // Nothing reads `noisy`'s stdout: none of it is kept (nor recorded).
    let before = "name: w\nsteps:\n  - id: noisy\n    run: echo noisy >> runs.txt; echo hello\n  - id: read\n    needs: [noisy, kept]\n    run: echo \"${{ steps.kept.stdout }}\" | grep -q kept-text && exit 1\n  - id: kept\n    run: echo kept-text\n";
    let p = project(&[("w.yaml", before)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain", "-j", "1"])
        .assert()
        .code(1);
    let (run, _) = only_run(home.path());
    assert_eq!(
        recorded_view(home.path(), &run, "noisy")["stdout"],
        serde_json::Value::Null
    );
    assert_eq!(
        recorded_view(home.path(), &run, "kept")["stdout"],
        "kept-text"
    );
    // The fixed file reads `noisy`'s stdout: `noisy` runs again to have it.
    let after = before.replace(
        "run: echo \"${{ steps.kept.stdout }}\" | grep -q kept-text && exit 1",
        "run: test \"${{ steps.noisy.stdout }}\" = hello && test \"${{ steps.kept.stdout }}\" = kept-text",
    );
    std::fs::write(p.path().join("w.yaml"), after).unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", &run[..10], "--output", "plain"])
        .assert()
        .success();
    assert_eq!(lines(p.path()), ["noisy", "noisy"]);
}

/// a → b → c, d on its own; each appends its name to runs.txt.
const CHAIN: &str = r#"
name: chain
steps:
  - {id: a, run: echo a >> runs.txt}
  - {id: b, run: echo b >> runs.txt, needs: [a]}
  - {id: c, run: echo c >> runs.txt, needs: [b]}
  - {id: d, run: echo d >> runs.txt}
  - {id: never, if: "false", run: echo never >> runs.txt}
"#;

#[test]
fn from_on_a_succeeded_run_reruns_the_step_and_its_dependents_only() {
    let p = project(&[("w.yaml", CHAIN)]);
    let home = tempfile::tempdir().unwrap();
    orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .assert()
        .success();
    let out = orch_in(p.path(), home.path())
        .args(["resume", "last", "--from", "b", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("re-running run"), "{}", stderr(&out));
    let l = lines(p.path());
    let n = |s: &str| l.iter().filter(|x| *x == s).count();
    assert_eq!(
        (n("a"), n("b"), n("c"), n("d"), n("never")),
        (1, 2, 2, 1, 0),
        "{l:?}"
    );
    let (run, status) = only_run(home.path());
    assert_eq!(status, "succeeded");
    assert_eq!(step_status(home.path(), &run, "never"), "skipped");

    // `orch show` lists both attempts and what each ran.
    let shown = orch_in(p.path(), home.path())
        .args(["show", "last"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(text.contains("attempts  2"), "{text}");
    let attempt_rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("ATTEMPT"))
        .skip(1)
        .collect();
    assert_eq!(attempt_rows.len(), 2, "{text}");
    assert!(attempt_rows[0].starts_with("1 "), "{text}");
    assert!(attempt_rows[0].contains("a succeeded") && attempt_rows[0].contains("d succeeded"));
    assert!(attempt_rows[1].starts_with("2 (resume)"), "{text}");
    assert!(
        attempt_rows[1].contains("b succeeded, c succeeded"),
        "{text}"
    );
    assert!(!attempt_rows[1].contains("a succeeded"), "{text}");

    let json = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let ran = |k: usize| -> Vec<String> {
        v["run_attempts"][k]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(v["attempt"], 2);
    assert_eq!(ran(1), ["b", "c"]);
    assert_eq!(ran(0).len(), 4, "{v}");

    // The step's log has the attempt header of a resume.
    let log = orch_in(p.path(), home.path())
        .args(["logs", "last", "b"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout).to_string();
    assert!(log.contains("── attempt 2 (resumed"), "{log}");

    // Without --from a succeeded run still has nothing to resume, and a
    // second re-run is a third attempt.
    let again = orch_in(p.path(), home.path())
        .args(["resume", "last"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("nothing to resume"),
        "{}",
        stderr(&again)
    );
    orch_in(p.path(), home.path())
        .args(["resume", "last", "--from", "c", "--output", "plain"])
        .assert()
        .success();
    let l = lines(p.path());
    assert_eq!(l.iter().filter(|x| *x == "c").count(), 3, "{l:?}");
    assert_eq!(l.iter().filter(|x| *x == "b").count(), 2, "{l:?}");
    let logs = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&logs.stdout).unwrap();
    assert_eq!(v["run_attempts"].as_array().map(Vec::len), Some(3));
}

#[test]
fn resume_output_json_of_a_file_that_turned_invalid_is_the_validation_event() {
    let p = project(&[("w.yaml", PIPELINE)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (run, _) = only_run(home.path());
    // A typo made while fixing the build.
    let broken = PIPELINE.replace("    needs: [build]\n", "    needz: [build]\n");
    std::fs::write(p.path().join("w.yaml"), &broken).unwrap();

    let out = orch_in(p.path(), home.path())
        .args(["resume", &run, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("needz"), "{}", stderr(&out));
    let evs = crate::common::events(&out.stdout);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let ev = &evs[0];
    assert_eq!(ev["event"], "orchestration.validation.failed");
    assert_eq!(ev["status"], "failed");
    assert!(ev.get("run_id").is_none(), "{ev}");
    let file = ev["workflow"].as_str().unwrap();
    assert!(file.ends_with("w.yaml"), "{ev}");

    // The diagnostics `orch run --output json` prints for the same file.
    let run_out = orch_in(p.path(), home.path())
        .args(["run", file, "--output", "json"])
        .output()
        .unwrap();
    let run_evs = crate::common::events(&run_out.stdout);
    assert_eq!(run_evs.len(), 1, "{run_evs:?}");
    assert_eq!(run_evs[0]["event"], ev["event"]);
    assert_eq!(run_evs[0]["workflow"], ev["workflow"]);
    assert_eq!(run_evs[0]["diagnostics"], ev["diagnostics"]);
    let d = &ev["diagnostics"][0];
    let line = broken.lines().position(|l| l.contains("needz")).unwrap() + 1;
    assert_eq!(d["line"], line, "{d}");
    assert!(d["message"].as_str().unwrap().contains("needz"), "{d}");
    // Nothing ran: the run is as it was.
    assert_eq!(only_run(home.path()).1, "failed");

    // A refusal that is no validation prints no event.
    std::fs::write(p.path().join("w.yaml"), PIPELINE).unwrap();
    std::fs::write(p.path().join("fixed"), "").unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["resume", &run, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = orch_in(p.path(), home.path())
        .args(["resume", &run, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already succeeded"),
        "{}",
        stderr(&out)
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
