//! Files generated from the CLI definition and the key tables must match
//! what the code generates now: regenerate with `bash .ci/generate` after
//! changing flags or keys.

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

/// The key tables of `docs/reference.md` are generated from
/// `src/validate/keys.rs`. `ORCH_BLESS=1` rewrites them (`bash .ci/generate`).
#[test]
fn reference_key_tables_are_up_to_date() {
    let path = repo_root().join("docs/reference.md");
    let text = committed("docs/reference.md");
    let generated = orch::generate::splice_reference(&text)
        .unwrap_or_else(|e| panic!("docs/reference.md: {e}"));
    if std::env::var_os("ORCH_BLESS").is_some_and(|v| v == "1") {
        if generated != text {
            std::fs::write(&path, generated).expect("write docs/reference.md");
        }
        return;
    }
    assert!(
        generated == text,
        "the key tables of docs/reference.md are stale: run `bash .ci/generate`"
    );
}
