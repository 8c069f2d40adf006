//! `orch init` writes a project that runs as it is; `orch list` shows its
//! workflows by the names `orch run NAME` takes.

use crate::common::{orch, project};

#[test]
fn init_writes_a_project_that_runs_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = orch(dir.path())
        .args(["init", "proj"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("created proj/orchestration.yaml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cd proj") && stdout.contains("orch run hello"),
        "{stdout}"
    );
    let root = dir.path().join("proj");
    for (file, schema) in [
        (
            "orchestration.yaml",
            ".orch/schema/orchestration.schema.json",
        ),
        (
            "workflows/hello.yaml",
            "../.orch/schema/workflow.schema.json",
        ),
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect("written");
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(first, format!("# yaml-language-server: $schema={schema}"));
        let target = root.join(file).parent().expect("dir").join(schema);
        assert!(target.is_file(), "{} is missing", target.display());
    }
    // The schemas are the ones orch prints.
    let printed = orch(&root)
        .args(["schema", "config"])
        .output()
        .expect("runs");
    let written =
        std::fs::read(root.join(".orch/schema/orchestration.schema.json")).expect("schema");
    assert_eq!(printed.stdout, written);

    let run = orch(&root)
        .args(["run", "hello", "--output", "plain"])
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("hello, world!"));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = project(&[("workflows/hello.yaml", "mine\n")]);
    let out = orch(dir.path()).arg("init").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("workflows/hello.yaml exists"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    // Nothing was written: not even the files that did not exist.
    assert!(!dir.path().join("orchestration.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workflows/hello.yaml")).expect("kept"),
        "mine\n"
    );

    orch(dir.path())
        .args(["init", "--force"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("workflows/hello.yaml")).expect("written");
    assert!(text.contains("name: hello"));
}

fn list_project() -> tempfile::TempDir {
    project(&[
        ("orchestration.yaml", "orchestration: {}\n"),
        (
            "workflows/build.yaml",
            "name: build\ndescription: Build it\ninputs:\n  target: { type: string, default: release }\n  jobs: { type: number, required: true, description: how many }\nsteps: [{ id: a, run: 'true' }]\n",
        ),
        ("workflows/broken.yaml", "name: broken\nsteps: [{ id: a }]\n"),
        ("workflows/plain.yml", "name: plain\nsteps: [{ id: a, run: 'true' }]\n"),
        ("workflows/notes.txt", "not a workflow\n"),
        ("sub/.keep", ""),
    ])
}

#[test]
fn list_shows_names_descriptions_inputs_and_invalid_files() {
    let dir = list_project();
    // Found from a subdirectory, as `orch run NAME` finds the project.
    let out = orch(&dir.path().join("sub"))
        .arg("list")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir_shown = dir.path().display().to_string();
    insta::assert_snapshot!(text.replace(&dir_shown, "[DIR]"));

    let out = orch(dir.path())
        .args(["list", "--json"])
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["broken", "build", "plain"]);
    assert_eq!(v[0]["valid"], false);
    assert_eq!(
        v[0]["note"],
        "invalid: run orch validate workflows/broken.yaml"
    );
    assert_eq!(v[1]["description"], "Build it");
    assert_eq!(v[1]["inputs"][0]["name"], "target");
    assert_eq!(v[1]["inputs"][0]["default"], "release");
    assert_eq!(v[1]["inputs"][1]["type"], "number");
    assert_eq!(v[1]["inputs"][1]["required"], true);
    // Every listed name runs.
    orch(dir.path())
        .args(["run", "plain", "--output", "plain"])
        .assert()
        .success();
}

#[test]
fn list_without_workflows_says_so() {
    let dir = project(&[("orchestration.yaml", "orchestration: {}\n")]);
    let out = orch(dir.path()).arg("list").output().expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workflows in"));
    let out = orch(dir.path())
        .args(["list", "--json"])
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
}

/// What a completion script asks: `COMPLETE=fish orch -- orch run PREFIX`.
fn complete(dir: &std::path::Path, words: &[&str]) -> Vec<String> {
    let out = orch(dir)
        .env("COMPLETE", "fish")
        .args(["--", "orch"])
        .args(words)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn completion_of_run_offers_the_listed_names() {
    let dir = list_project();
    let sub = dir.path().join("sub");
    let all = complete(&sub, &["run", ""]);
    for name in ["broken", "build", "plain"] {
        assert!(all.contains(&name.to_string()), "{all:?}");
    }
    assert_eq!(complete(&sub, &["run", "bu"]), ["build"]);
    assert!(complete(&sub, &["plan", "pl"]).contains(&"plain".to_string()));
    // Subcommands still complete as before.
    assert!(complete(&sub, &["li"]).contains(&"list".to_string()));
}
