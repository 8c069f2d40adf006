//! `orch validate --json` (diagnostics as a JSON array on stdout) and the
//! `orchestration.validation.failed` event of `orch run --output json`.

use std::path::Path;

use serde_json::Value;

use crate::common::{events, orch, project, repo_root};

/// `orch validate --json ARGS…` in `dir`: exit code, stdout as JSON, stderr.
fn validate_json(dir: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = orch(dir)
        .args(["validate", "--json"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"));
    (
        out.status.code(),
        json,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_json_prints_every_problem_with_its_span() {
    let path = "tests/fixtures/invalid/unknown_needs.yaml";
    let (code, json, stderr) = validate_json(&repo_root(), &[path]);
    assert_eq!(code, Some(2));
    // The human rendering is still on stderr.
    assert!(stderr.contains("× "), "{stderr}");
    insta::assert_snapshot!(
        "validate_json_unknown_needs",
        serde_json::to_string_pretty(&json).unwrap()
    );
}

#[test]
fn validate_json_of_valid_files_is_an_empty_array() {
    let dir = project(&[("ok.yaml", "name: ok\nsteps:\n  - id: a\n    run: 'true'\n")]);
    let (code, json, _) = validate_json(dir.path(), &["ok.yaml"]);
    assert_eq!(code, Some(0));
    assert_eq!(json, serde_json::json!([]));
}

#[test]
fn validate_json_reports_load_errors_with_the_file() {
    let dir = project(&[
        ("tab.yaml", "name: t\nsteps:\n  - id: a\n\trun: x\n"),
        (
            "workflows/hello.yaml",
            "name: hello\nsteps:\n  - id: a\n    run: 'true'\n",
        ),
        ("ok.yaml", "name: ok\nsteps:\n  - id: a\n    run: 'true'\n"),
    ]);
    let (code, json, _) = validate_json(
        dir.path(),
        &["tab.yaml", "missing.yaml", "nosuchname", "ok.yaml"],
    );
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(
        "validate_json_load_errors",
        serde_json::to_string_pretty(&json).unwrap()
    );
}

#[test]
fn validate_json_reports_config_problems() {
    let dir = project(&[
        (
            "orchestration.yaml",
            "orchestration:\n  max_concurency: 3\n",
        ),
        ("ok.yaml", "name: ok\nsteps:\n  - id: a\n    run: 'true'\n"),
    ]);
    let (code, json, _) = validate_json(dir.path(), &["ok.yaml"]);
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(
        "validate_json_config",
        serde_json::to_string_pretty(&json).unwrap()
    );
}

/// Every invalid fixture: as many JSON diagnostics as problems counted on
/// stderr, each located in the file it names.
#[test]
fn validate_json_matches_the_human_rendering_for_every_fixture() {
    let dir = repo_root().join("tests/fixtures/invalid");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() > 20);
    for p in names {
        let rel = p.strip_prefix(repo_root()).unwrap().display().to_string();
        let (code, json, stderr) = validate_json(&repo_root(), &[&rel]);
        assert_eq!(code, Some(2), "{rel}");
        let diags = json.as_array().unwrap();
        let counted = stderr
            .lines()
            .filter(|l| l.trim_start().starts_with("× "))
            .count();
        assert_eq!(diags.len(), counted, "{rel}:\n{json:#}\n{stderr}");
        for d in diags {
            assert!(d["file"].is_string(), "{rel}: {d}");
            assert!(
                d["code"].is_string() && d["message"].is_string(),
                "{rel}: {d}"
            );
            assert_eq!(d["severity"], "error");
            if d["line"].is_number() {
                assert!(d["end_line"].as_u64() >= d["line"].as_u64(), "{rel}: {d}");
                assert_eq!(d["labels"][0]["line"], d["line"], "{rel}: {d}");
            }
        }
    }
}

#[test]
fn run_output_json_of_an_invalid_file_is_one_validation_event() {
    let path = "tests/fixtures/invalid/unknown_needs.yaml";
    let out = orch(&repo_root())
        .args(["run", "--output", "json", path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("× "),
        "stderr keeps the human rendering: {stderr}"
    );
    let evs = events(&out.stdout);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let ev = &evs[0];
    assert_eq!(ev["event"], "orchestration.validation.failed");
    assert_eq!(ev["workflow"], path);
    assert_eq!(ev["status"], "failed");
    assert!(ev["time"].is_string());
    assert!(ev.get("run_id").is_none(), "no run was created: {ev}");
    let (_, validated, _) = validate_json(&repo_root(), &[path]);
    assert_eq!(ev["diagnostics"], validated);
}

#[test]
fn run_output_json_of_bad_inputs_is_a_validation_event_too() {
    let dir = project(&[(
        "w.yaml",
        "name: w\ninputs:\n  n: {type: integer}\nsteps:\n  - id: a\n    run: 'true'\n",
    )]);
    let out = orch(dir.path())
        .args(["run", "--output", "json", "w.yaml", "-i", "n=abc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let evs = events(&out.stdout);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["event"], "orchestration.validation.failed");
    assert!(!evs[0]["diagnostics"].as_array().unwrap().is_empty());
    // Other output modes keep stdout empty.
    let out = orch(dir.path())
        .args(["run", "--output", "plain", "w.yaml", "-i", "n=abc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
