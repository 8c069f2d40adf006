//! Expressions end to end: CEL's literal forms inside `${{ }}`, the bound on
//! nesting, and functions checked before anything runs.

use crate::common::{orch, project};

/// Raw, triple-quoted and brace-holding strings and a `//` comment inside
/// `${{ }}` are split and evaluated as CEL reads them.
#[test]
fn cel_literals_and_comments_inside_templates() {
    let wf = r#"name: literals
steps:
  - id: a
    env:
      RAW: ${{ r'\d' }}
      TRIPLE: ${{ '''it's''' }}
      BRACES: ${{ "}}" }}
      COMMENT: |-
        ${{ 1 // }}
        + 1 }}
    run: printf '%s|%s|%s|%s' "$RAW" "$TRIPLE" "$BRACES" "$COMMENT" > out
"#;
    let dir = project(&[("wf.yaml", wf)]);
    orch(dir.path())
        .args(["validate", "wf.yaml"])
        .assert()
        .success();
    orch(dir.path()).args(["run", "wf.yaml"]).assert().success();
    let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
    assert_eq!(out, r"\d|it's|}}|2");
}
