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
fn schemas_are_up_to_date() {
    for (kind, file) in [
        ("workflow", "schema/workflow.schema.json"),
        ("config", "schema/orchestration.schema.json"),
    ] {
        assert!(
            generated(&["schema", kind]) == committed(file),
            "{file} is stale: run `bash .ci/generate`"
        );
    }
    // Without an argument: the schema of workflow files.
    assert!(generated(&["schema"]) == committed("schema/workflow.schema.json"));
}

/// `man/` holds exactly the pages `orch man --dir` writes: orch(1) and one
/// per subcommand, so every `orch-…(1)` that orch(1) names exists.
#[test]
fn man_pages_are_up_to_date() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = orch(&repo_root())
        .args(["man", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("runs");
    assert!(out.status.success());
    let names = |dir: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".1"))
            .collect();
        v.sort();
        v
    };
    let made = names(tmp.path());
    assert_eq!(
        made,
        names(&repo_root().join("man")),
        "man/ is stale: run `bash .ci/generate`"
    );
    for name in &made {
        let page = std::fs::read_to_string(tmp.path().join(name)).expect("page");
        assert!(
            page == committed(&format!("man/{name}")),
            "man/{name} is stale: run `bash .ci/generate`"
        );
    }
    // `orch man` alone prints orch(1).
    assert!(generated(&["man"]) == committed("man/orch.1"));
    // Every page orch(1) refers to is shipped.
    let top = committed("man/orch.1");
    for r in top.split("orch\\-").skip(1) {
        let sub = r.split('(').next().unwrap_or("").replace("\\-", "-");
        assert!(
            made.contains(&format!("orch-{sub}.1")),
            "orch(1) refers to orch-{sub}(1), which is not in man/"
        );
    }
    for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES"] {
        assert!(top.contains(section), "orch(1) has no {section}");
    }
}

/// Completions offer no command that `orch --help` hides. The scripts ask
/// orch itself (`COMPLETE=SHELL orch -- WORDS…`), so ask as they do.
#[test]
fn completions_offer_only_documented_commands() {
    let help = generated(&["--help"]);
    let out = orch(&repo_root())
        .env("COMPLETE", "fish")
        .args(["--", "orch", ""])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let offered = String::from_utf8(out.stdout).expect("utf-8");
    let commands: Vec<&str> = offered
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default())
        .filter(|w| !w.starts_with('-'))
        .collect();
    assert!(
        commands.contains(&"run") && commands.contains(&"man") && commands.contains(&"list"),
        "{commands:?}"
    );
    for c in commands {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{c} "))),
            "the completions offer `{c}`, which `orch --help` does not show"
        );
    }
    // Every committed script calls the binary that way.
    for file in [
        "completions/orch.bash",
        "completions/_orch",
        "completions/orch.fish",
        "completions/_orch.ps1",
        "completions/orch.elv",
    ] {
        assert!(committed(file).contains("COMPLETE"), "{file}");
    }
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
