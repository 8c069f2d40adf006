//! Files generated from the CLI definition must match what the binary
//! generates now: regenerate with `bash .ci/generate` after changing flags.

use crate::common::{orch, repo_root};

fn generated(args: &[&str]) -> String {
    let out = orch(&repo_root()).args(args).output().expect("runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf-8")
}

fn committed(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn completions_are_up_to_date() {
    for (shell, file) in [
        ("bash", "completions/orch.bash"),
        ("zsh", "completions/_orch"),
        ("fish", "completions/orch.fish"),
        ("powershell", "completions/_orch.ps1"),
        ("elvish", "completions/orch.elv"),
    ] {
        assert!(
            generated(&["completions", shell]) == committed(file),
            "{file} is stale: run `bash .ci/generate`"
        );
    }
}

#[test]
fn man_page_is_up_to_date() {
    assert!(
        generated(&["man"]) == committed("man/orch.1"),
        "man/orch.1 is stale: run `bash .ci/generate`"
    );
}
