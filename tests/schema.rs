//! The JSON Schemas under `schema/`, checked with a real validator: every
//! example validates, and each invalid fixture fails both the schema and
//! `orch validate` (where they disagree, `orch validate` is right).

use std::path::{Path, PathBuf};

use crate::common::{orch, repo_root};

fn schema(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("schema").join(file)).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft7::meta::validate(&schema).expect("a valid draft-07 schema");
    jsonschema::draft7::new(&schema).expect("schema compiles")
}

fn workflow_schema() -> jsonschema::Validator {
    schema("workflow.schema.json")
}

fn config_schema() -> jsonschema::Validator {
    schema("orchestration.schema.json")
}

/// YAML as an editor's language server reads it (YAML 1.2), as JSON.
fn instance(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn errors(v: &jsonschema::Validator, path: &Path) -> Vec<String> {
    let doc = instance(path);
    v.iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

fn shipped_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["examples", "workflows"] {
        yaml_files(&repo_root().join(dir), &mut files);
    }
    assert!(files.len() > 5, "found {files:?}");
    files
}

fn is_config(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n == "orchestration.yaml")
}

#[test]
fn every_example_validates_against_the_schema() {
    let (wf, cfg) = (workflow_schema(), config_schema());
    for f in shipped_files() {
        let errs = errors(if is_config(&f) { &cfg } else { &wf }, &f);
        assert!(errs.is_empty(), "{}: {errs:#?}", f.display());
    }
}

#[test]
fn every_example_names_its_schema_on_its_first_line() {
    for f in shipped_files() {
        let text = std::fs::read_to_string(&f).expect("read");
        let first = text.lines().next().unwrap_or_default();
        let rel = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{}: first line is {first:?}", f.display()));
        let target = f.parent().expect("parent").join(rel);
        let want = if is_config(&f) {
            "orchestration.schema.json"
        } else {
            "workflow.schema.json"
        };
        assert!(
            rel.ends_with(want) && target.is_file(),
            "{}: {rel} does not name schema/{want}",
            f.display()
        );
    }
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    yaml_files(
        &repo_root().join("tests/fixtures/schema").join(kind),
        &mut files,
    );
    assert!(files.len() >= 5, "{files:?}");
    files
}

#[test]
fn invalid_workflows_fail_the_schema_and_orch_validate() {
    let v = workflow_schema();
    for f in fixtures("workflow") {
        assert!(
            !errors(&v, &f).is_empty(),
            "{} passes the schema",
            f.display()
        );
        let out = orch(&repo_root())
            .arg("validate")
            .arg(&f)
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} passes orch validate",
            f.display()
        );
    }
}

#[test]
fn invalid_configs_fail_the_schema_and_orch() {
    let v = config_schema();
    for f in fixtures("config") {
        assert!(
            !errors(&v, &f).is_empty(),
            "{} passes the schema",
            f.display()
        );
        let out = orch(&repo_root())
            .arg("--config")
            .arg(&f)
            .args(["validate", "workflows/hello.yaml"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{} passes orch", f.display());
    }
}

/// What the schema says of a file, for one fixture each.
#[test]
fn the_schema_points_at_the_wrong_key() {
    let v = workflow_schema();
    let dir = repo_root().join("tests/fixtures/schema/workflow");
    let at = |name: &str| errors(&v, &dir.join(name)).join("\n");
    assert!(
        at("unknown-key.yaml").contains("cmds"),
        "{}",
        at("unknown-key.yaml")
    );
    assert!(at("wrong-type.yaml").contains("/concurrency"));
    assert!(at("bad-enum.yaml").contains("/defaults/shell"));
    assert!(at("bad-id.yaml").contains("/steps/0/id"));
    assert!(at("bad-duration.yaml").contains("/steps/0/timeout"));
}

#[test]
fn expressions_are_accepted_where_orch_takes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("w.yaml");
    std::fs::write(
        &f,
        "name: w\n\
         inputs: { regions: { type: list, default: [eu, us] } }\n\
         steps:\n\
         \x20 - id: a\n\
         \x20   for_each: ${{ inputs.regions }}\n\
         \x20   if: inputs.regions != []\n\
         \x20   run: echo ${{ item }}\n",
    )
    .expect("write");
    assert_eq!(errors(&workflow_schema(), &f), Vec::<String>::new());
    orch(dir.path()).arg("validate").arg(&f).assert().success();
}

/// The spec's own orchestration.yaml (kept byte for byte, so without a
/// schema line) and its workflows pass the schemas too.
#[test]
fn the_spec_config_validates_against_the_schema() {
    let dir = repo_root().join("tests/fixtures/config");
    let errs = errors(&config_schema(), &dir.join("orchestration.yaml"));
    assert!(errs.is_empty(), "{errs:#?}");
    let mut files = Vec::new();
    yaml_files(&dir.join("workflows"), &mut files);
    let wf = workflow_schema();
    for f in files {
        let errs = errors(&wf, &f);
        assert!(errs.is_empty(), "{}: {errs:#?}", f.display());
    }
}
