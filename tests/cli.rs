//! `--help` output and usage errors, as snapshots.

use crate::common::{orch, repo_root};

fn help(args: &[&str]) -> String {
    let out = orch(&repo_root())
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", help(&["--help"]));
    for cmd in [
        "run",
        "validate",
        "plan",
        "graph",
        "completions",
        "init",
        "list",
        "schema",
    ] {
        let text = help(&[cmd, "--help"]);
        assert!(
            text.contains("Examples:"),
            "`orch {cmd} --help` has no examples"
        );
        insta::assert_snapshot!(format!("help_{cmd}"), text);
    }
}

#[test]
fn usage_errors_exit_2() {
    orch(&repo_root()).args(["frobnicate"]).assert().code(2);
    orch(&repo_root()).args(["run"]).assert().code(2);
    orch(&repo_root())
        .args(["run", "x.yaml", "--output", "fancy"])
        .assert()
        .code(2);
}

#[test]
fn version() {
    orch(&repo_root())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicates::str::starts_with(format!(
            "orch {}",
            env!("CARGO_PKG_VERSION")
        )));
}

#[test]
fn github_actions_annotations_for_diagnostics() {
    let p = crate::common::project(&[(
        "bad.yaml",
        "name: b\nsteps:\n  - id: a\n    neds: x\n    run: 'true'\n",
    )]);
    orch(p.path())
        .args(["validate", "bad.yaml"])
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "::error file=bad.yaml,line=4,col=5,title=orch%3A%3Aunknown-key::unknown key `neds` in a step",
        ));
}

#[test]
fn quiet_prints_only_failures_and_the_summary() {
    let p = crate::common::project(&[(
        "w.yaml",
        "name: q\nsteps:\n  - {id: a, run: echo noisy}\n  - {id: b, run: exit 3}\n",
    )]);
    let out = orch(p.path())
        .args(["run", "w.yaml", "-q", "--output", "plain"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(!stdout.contains("noisy"), "{stdout}");
    assert!(stdout.contains("b ✗ failed"), "{stdout}");
    assert!(stdout.contains("run failed in"), "{stdout}");
}
