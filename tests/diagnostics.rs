//! `orch validate` on broken files: every fixture in `tests/fixtures/invalid/`
//! exits 2 and its diagnostics (message, code, `file:line:col`, labels, help)
//! are pinned by a snapshot. Plus the guards for files that are not YAML at all.

use std::path::Path;

use crate::common::{orch, project, repo_root};

const FIXTURE_DIR: &str = "tests/fixtures/invalid";

/// Run `orch validate ARGS…` in `dir`; the exit code and stderr.
fn validate_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = orch(dir)
        .arg("validate")
        .args(args)
        .output()
        .expect("run orch");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    (out.status.code(), stderr)
}

fn fixture_path(name: &str) -> String {
    format!("{FIXTURE_DIR}/{name}.yaml")
}

/// Validate one fixture from the repository root (so the path printed in the
/// diagnostics is relative and stable), expect exit 2, snapshot stderr.
fn check_fixture(name: &str) {
    let path = fixture_path(name);
    let (code, stderr) = validate_in(&repo_root(), &[&path]);
    assert_eq!(
        code,
        Some(2),
        "{path} should be invalid (exit 2); stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&path),
        "the diagnostics should name {path}; stderr:\n{stderr}"
    );
    insta::assert_snapshot!(name, stderr);
}

/// The `N` of the final `error: N problems found in …` line.
fn problem_count(stderr: &str) -> usize {
    let last = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error: N problems found` line in:\n{stderr}"));
    last.strip_prefix("error: ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read a count from {last:?}"))
}

macro_rules! fixtures {
    ($($name:ident),* $(,)?) => {
        /// Every fixture that has a snapshot test, to check none is forgotten.
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];

        $(
            #[test]
            fn $name() {
                check_fixture(stringify!($name));
            }
        )*
    };
}

fixtures! {
    // YAML that cannot be read as a workflow at all.
    alias_bomb,
    duplicate_key,
    empty_file,
    malformed_indent,
    top_level_list,
    unclosed_bracket,
    yaml_alias,
    yaml_escapes,
    yaml_tab,
    yaml_tag,
    yaml_tag_on_mapping,
    // Keys and shapes.
    missing_keys,
    unknown_key,
    wrong_types,
    invalid_names,
    bad_duration,
    bad_input_decl,
    bad_retry,
    foreign_keys,
    // Step kinds.
    no_kind,
    two_kinds,
    workflow_child,
    zero_durations,
    unknown_result_field,
    compensate_misplaced,
    call_no_registry,
    // The dependency graph.
    duplicate_id,
    unknown_needs,
    cycle,
    needs_phase,
    // Expressions.
    cel_syntax,
    template_text,
    step_ref_not_needed,
    unknown_step_ref,
    undeclared_input,
    expr_scope,
    item_outside_for_each,
    secret_in_run,
    // Matrix steps.
    matrix_empty_axis,
    matrix_no_axes,
    matrix_unknown_exclude,
    matrix_unknown_item_key,
    matrix_with_for_each,
    // Everything at once.
    many_problems,
}

#[test]
fn every_fixture_has_a_test() {
    let dir = repo_root().join(FIXTURE_DIR);
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read fixture dir")
        .filter_map(|e| {
            let p = e.expect("dir entry").path();
            (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    on_disk.sort();
    let mut tested: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(
        on_disk, tested,
        "fixtures in {FIXTURE_DIR} and tests in diagnostics.rs differ"
    );
}

#[test]
fn one_file_with_many_problems_reports_them_all() {
    let path = fixture_path("many_problems");
    let (code, stderr) = validate_in(&repo_root(), &[&path]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    let n = problem_count(&stderr);
    assert!(n >= 5, "expected at least 5 problems, got {n}:\n{stderr}");
    // One rendered diagnostic per problem counted.
    let rendered = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("× "))
        .count();
    assert_eq!(
        rendered, n,
        "the count should match the diagnostics shown:\n{stderr}"
    );
    // And they are different kinds of problem, not one repeated.
    let mut codes: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("orch::"))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    assert!(
        codes.len() >= 5,
        "expected at least 5 kinds of problem, got {codes:?}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with(&format!("problems found in {path}")),
        "stderr:\n{stderr}"
    );
}

#[test]
fn problems_in_several_files_are_reported_together() {
    let a = fixture_path("cycle");
    let b = fixture_path("unknown_needs");
    let (code, stderr) = validate_in(&repo_root(), &[&a, &b]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("dependency cycle"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("`deploy` needs `publish`"),
        "stderr:\n{stderr}"
    );
    assert_eq!(problem_count(&stderr), 3, "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("found in {a}, {b}")),
        "stderr:\n{stderr}"
    );
}

const GOOD: &str = r#"name: good
description: a small valid workflow
inputs:
  target:
    type: string
    enum: [dev, prod]
    default: dev
steps:
  - id: build
    run: echo building for ${{ inputs.target }}
    timeout: 1m30s
    retry:
      max_attempts: 3
      delay_strategy: exponential
      base_delay: 250ms
    outputs:
      digest: sha256:abc
  - id: test
    needs: build
    run: echo testing ${{ steps.build.outputs.digest }}
  - id: summary
    needs: [test]
    transform:
      digest: ${{ steps.build.outputs.digest }}
"#;

#[test]
fn a_valid_file_exits_zero() {
    let dir = project(&[("good.yaml", GOOD)]);
    let (code, stderr) = validate_in(dir.path(), &["good.yaml"]);
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains("good.yaml is valid (3 steps)"),
        "stderr:\n{stderr}"
    );
    assert!(!stderr.contains("error"), "stderr:\n{stderr}");
}

#[test]
fn a_missing_file_is_refused() {
    let path = fixture_path("does_not_exist");
    let (code, stderr) = validate_in(&repo_root(), &[&path]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {path}: no such file")),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_directory_is_refused() {
    let (code, stderr) = validate_in(&repo_root(), &[FIXTURE_DIR]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {FIXTURE_DIR}: it is a directory")),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_device_of_unknown_size_is_read_only_to_the_limit() {
    // `/dev/zero` says its size is 0 and never ends: orch reads 8 MiB + 1.
    let (code, stderr) = validate_in(&repo_root(), &["/dev/zero"]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("/dev/zero is too large (more than 8 MiB)"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_binary_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("blob.yaml"),
        b"name: x\n\x00\x01\x02\xffsteps: []\n",
    )
    .expect("write");
    let (code, stderr) = validate_in(dir.path(), &["blob.yaml"]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("blob.yaml is a binary file, not YAML"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("latin1.yaml"),
        b"name: caf\xe9\nsteps: []\n",
    )
    .expect("write");
    let (code, stderr) = validate_in(dir.path(), &["latin1.yaml"]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("latin1.yaml is not UTF-8 text"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_huge_file_is_refused_before_parsing() {
    use std::io::Write;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.yaml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    f.write_all(b"name: huge\nsteps:\n  - id: a\n    run: echo a\n")
        .expect("write");
    let mut line = "#".repeat(1023);
    line.push('\n');
    for _ in 0..50 * 1024 {
        f.write_all(line.as_bytes()).expect("write");
    }
    f.flush().expect("flush");
    drop(f);
    assert!(std::fs::metadata(&path).expect("stat").len() >= 50 * 1024 * 1024);

    let (code, stderr) = validate_in(dir.path(), &["huge.yaml"]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("huge.yaml is too large (50 MiB"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn a_billion_laughs_alias_bomb_is_refused() {
    let path = fixture_path("alias_bomb");
    let (code, stderr) = validate_in(&repo_root(), &[&path]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("YAML anchors and aliases are not supported"),
        "stderr:\n{stderr}"
    );

    // A deeper one written at test time: ten levels of ten, 10^10 nodes if expanded.
    let mut text = String::from("name: laughs\na0: &a0 lol\n");
    for i in 1..=10 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    text.push_str("steps:\n  - id: boom\n    run: echo boom\n");
    let dir = project(&[("laughs.yaml", &text)]);
    let (code, stderr) = validate_in(dir.path(), &["laughs.yaml"]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("YAML anchors and aliases are not supported"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn thousands_of_problems_are_all_counted_and_the_first_200_shown() {
    let mut yaml = String::from("name: big\nsteps:\n  - id: a\n    run: echo\n");
    for i in 0..1000 {
        yaml.push_str(&format!("    k{i}: 1\n"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("big.yaml"), yaml).expect("write");
    let (code, stderr) = validate_in(dir.path(), &["big.yaml"]);
    assert_eq!(code, Some(2));
    assert_eq!(problem_count(&stderr), 1000);
    assert_eq!(stderr.matches("unknown key").count(), 200);
    assert!(
        stderr.contains("… and 800 more problems not shown"),
        "{stderr}"
    );
}

#[test]
fn a_problem_on_a_very_long_line_is_located_not_drawn() {
    // miette cannot lay out columns past 65,535: it used to panic here.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "k".repeat(70_000);
    std::fs::write(
        dir.path().join("long.yaml"),
        format!("name: long\nsteps:\n  - id: a\n    run: echo\n    {key}: 1\n"),
    )
    .expect("write");
    let (code, stderr) = validate_in(dir.path(), &["long.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("at long.yaml:5:") && stderr.contains("the line is too long to show"),
        "{}",
        &stderr[..stderr.len().min(2000)]
    );
}
