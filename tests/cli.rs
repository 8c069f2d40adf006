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
    for cmd in ["run", "validate", "plan", "graph", "completions"] {
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
