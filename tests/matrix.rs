//! `matrix` steps and item names: the combinations in GitHub Actions'
//! order, `exclude`/`include`, `max_parallel`, items shown with their values
//! in plain and JSON output, JUnit and `orch show`; a skipped fan-out step
//! has `items: []`.

use serde_json::Value as Json;

use crate::common::{events, orch_in, project};

const MATRIX: &str = r#"
name: mx
steps:
  - id: test
    matrix:
      os: [linux, mac]
      node: [18, 20]
      arch: [x64, arm]
      exclude:
        - { os: mac, node: 18 }
      include:
        - { os: mac, xcode: "15" }
        - { os: windows, node: 20 }
    max_parallel: 2
    run: |
      echo "on ${{ item.os }}"
      echo "started $(date +%s%N)" > "started-${{ index }}"
      sleep 0.2
    outputs:
      os: ${{ item.os }}
  - id: report
    needs: test
    transform:
      items: ${{ steps.test.items.map(i, i.item) }}
      names: ${{ steps.test.items.map(i, i.name) }}
outputs:
  items: ${{ steps.report.outputs.items }}
  names: ${{ steps.report.outputs.names }}
"#;

/// Run `w.yaml` with `--output json`; its events and the last one.
fn run_json(dir: &std::path::Path, home: &std::path::Path, extra: &[&str]) -> Vec<Json> {
    let out = orch_in(dir, home)
        .args(["run", "w.yaml", "--output", "json"])
        .args(extra)
        .output()
        .unwrap();
    let evs = events(&out.stdout);
    assert!(
        out.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    evs
}

fn outputs(evs: &[Json]) -> &Json {
    &evs.last().expect("events")["outputs"]
}

#[test]
fn combinations_come_in_order_minus_exclude_plus_include() {
    let p = project(&[("w.yaml", MATRIX)]);
    let home = tempfile::tempdir().unwrap();
    let evs = run_json(p.path(), home.path(), &[]);
    let last = evs.last().unwrap();
    assert_eq!(last["event"], "orchestration.run.completed", "{evs:#?}");
    let items = outputs(&evs)["items"].as_array().unwrap().clone();
    let pick = |i: &Json| {
        (
            i["os"].as_str().unwrap_or("").to_string(),
            i["node"].as_i64().unwrap_or(0),
            i["arch"].as_str().unwrap_or("").to_string(),
            i["xcode"].as_str().unwrap_or("").to_string(),
        )
    };
    let got: Vec<_> = items.iter().map(pick).collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            // First axis outermost; mac/18 is excluded for both arches.
            (s("linux"), 18, s("x64"), s("")),
            (s("linux"), 18, s("arm"), s("")),
            (s("linux"), 20, s("x64"), s("")),
            (s("linux"), 20, s("arm"), s("")),
            // `include` matching on `os` extends every mac combination…
            (s("mac"), 20, s("x64"), s("15")),
            (s("mac"), 20, s("arm"), s("15")),
            // …and one that matches nothing is a combination of its own.
            (s("windows"), 20, s(""), s("")),
        ]
    );
    assert_eq!(
        outputs(&evs)["names"],
        serde_json::json!([
            "test (linux, 18, x64)",
            "test (linux, 18, arm)",
            "test (linux, 20, x64)",
            "test (linux, 20, arm)",
            "test (mac, 20, x64, 15)",
            "test (mac, 20, arm, 15)",
            "test (windows, 20)",
        ])
    );
}

#[test]
fn max_parallel_caps_matrix_items() {
    let p = project(&[("w.yaml", MATRIX)]);
    let home = tempfile::tempdir().unwrap();
    let evs = run_json(p.path(), home.path(), &[]);
    let mut running = 0i32;
    let mut peak = 0;
    for e in &evs {
        let item = e["step_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("test["));
        match e["event"].as_str() {
            Some("orchestration.step.started") if item => running += 1,
            Some("orchestration.step.completed" | "orchestration.step.failed") if item => {
                running -= 1
            }
            _ => {}
        }
        peak = peak.max(running);
    }
    assert_eq!(peak, 2, "max_parallel 2 with 7 items: {evs:#?}");
}

#[test]
fn json_events_name_items_by_id_and_by_values() {
    let p = project(&[("w.yaml", MATRIX)]);
    let home = tempfile::tempdir().unwrap();
    let evs = run_json(p.path(), home.path(), &[]);
    let done: Vec<&Json> = evs
        .iter()
        .filter(|e| e["event"] == "orchestration.step.completed" && e["step_id"] == "test[6]")
        .collect();
    assert_eq!(done.len(), 1, "{evs:#?}");
    assert_eq!(done[0]["step_name"], "test (windows, 20)");
    // The step itself and plain steps have no `step_name`.
    for e in evs
        .iter()
        .filter(|e| e["step_id"] == "test" || e["step_id"] == "report")
    {
        assert!(e.get("step_name").is_none(), "{e}");
    }
}

#[test]
fn plain_output_junit_and_show_use_the_values() {
    let wf = r#"
name: names
steps:
  - id: deploy
    for_each: [eu, us]
    run: 'test "${{ item }}" = eu'
  - id: test
    matrix: { os: [linux], node: [20] }
    run: "true"
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["run", "w.yaml", "--output", "plain", "--junit", "j.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("deploy (eu) ✓ succeeded"), "{stdout}");
    assert!(stdout.contains("deploy (us) ✗ failed"), "{stdout}");
    assert!(stdout.contains("test (linux, 20) ✓ succeeded"), "{stdout}");
    assert!(stdout.contains("first failure: deploy (us)"), "{stdout}");

    let junit = std::fs::read_to_string(p.path().join("j.xml")).unwrap();
    assert!(junit.contains(r#"<testcase name="deploy (eu)""#), "{junit}");
    assert!(junit.contains(r#"<testcase name="deploy (us)""#), "{junit}");
    assert!(
        junit.contains(r#"<testcase name="test (linux, 20)""#),
        "{junit}"
    );

    let show = orch_in(p.path(), home.path())
        .args(["show", "last"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("deploy[0] (eu)"), "{text}");
    assert!(text.contains("deploy[1] (us)"), "{text}");
    assert!(text.contains("test[0] (linux, 20)"), "{text}");

    let show = orch_in(p.path(), home.path())
        .args(["show", "last", "--json"])
        .output()
        .unwrap();
    let j: Json = serde_json::from_slice(&show.stdout).unwrap();
    let steps = j["steps"].as_array().unwrap();
    let item = steps.iter().find(|s| s["id"] == "test[0]").unwrap();
    assert_eq!(item["name"], "test (linux, 20)");
    let step = steps.iter().find(|s| s["id"] == "test").unwrap();
    assert!(step.get("name").is_none(), "{step}");

    let timeline = orch_in(p.path(), home.path())
        .args(["show", "last", "--timeline"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&timeline.stdout);
    assert!(text.contains("deploy[1] (us)"), "{text}");
}

#[test]
fn a_skipped_fan_out_step_has_no_items() {
    let wf = r#"
name: skipped
steps:
  - id: fe
    if: "false"
    for_each: [1, 2]
    run: "true"
  - id: mx
    if: "false"
    matrix: { os: [linux, mac] }
    run: "true"
  - id: count
    needs: [fe, mx]
    transform:
      fe: ${{ size(steps.fe.items) }}
      mx: ${{ size(steps.mx.items) }}
outputs:
  fe: ${{ steps.count.outputs.fe }}
  mx: ${{ steps.count.outputs.mx }}
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let evs = run_json(p.path(), home.path(), &[]);
    assert_eq!(
        evs.last().unwrap()["event"],
        "orchestration.run.completed",
        "{evs:#?}"
    );
    assert_eq!(outputs(&evs)["fe"], 0);
    assert_eq!(outputs(&evs)["mx"], 0);
}

#[test]
fn an_axis_may_be_an_expression_and_an_empty_one_fails_the_step() {
    let wf = r#"
name: expr-axis
inputs:
  oses: { type: list, default: [linux, mac] }
steps:
  - id: test
    matrix:
      os: ${{ inputs.oses }}
      n: [1]
    run: echo "${{ item.os }}"
outputs:
  count: ${{ size(steps.test.items) }}
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let evs = run_json(p.path(), home.path(), &[]);
    assert_eq!(outputs(&evs)["count"], 2, "{evs:#?}");
    let evs = run_json(p.path(), home.path(), &["-i", "oses=[]"]);
    let failed = evs
        .iter()
        .find(|e| e["event"] == "orchestration.step.failed" && e["step_id"] == "test")
        .unwrap_or_else(|| panic!("{evs:#?}"));
    assert_eq!(failed["error"], "matrix: axis `os` is an empty list");
}

#[test]
fn plan_names_a_matrix_step_a_matrix() {
    let p = project(&[(
        "w.yaml",
        "name: p\nsteps:\n  - {id: test, matrix: {os: [linux]}, run: 'true'}\n  - {id: deploy, for_each: [eu], run: 'true'}\n",
    )]);
    let home = tempfile::tempdir().unwrap();
    let out = orch_in(p.path(), home.path())
        .args(["plan", "w.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("test (matrix)"), "{text}");
    assert!(text.contains("deploy (for_each)"), "{text}");
}
