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

/// A workflow whose one step's script holds `expr`.
fn with_expr(expr: &str) -> String {
    format!("name: deep\nsteps:\n  - id: a\n    run: |\n      echo ${{{{ {expr} }}}} > out\n")
}

/// Inputs that used to overflow the stack (in the parser or the evaluator)
/// are refused by `validate` and by `run`, located, with exit code 2.
#[test]
fn deep_expressions_are_refused_with_a_located_error() {
    let cases = [
        ("chain", vec!["1"; 6000].join(" + "), 6000),
        ("long chain", vec!["1"; 25_000].join(" + "), 25_000),
        (
            "parentheses",
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            100_001,
        ),
        (
            "selections",
            format!("inputs{}", ".a".repeat(100_000)),
            100_001,
        ),
        (
            "lists",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            100_001,
        ),
        ("indexes", format!("[1]{}", "[0]".repeat(50_000)), 50_002),
        (
            "ternaries",
            format!("{}1", "true ? 1 : ".repeat(30_000)),
            30_001,
        ),
    ];
    for (what, expr, depth) in cases {
        let dir = project(&[("wf.yaml", &with_expr(&expr))]);
        for cmd in ["validate", "run"] {
            let out = orch(dir.path()).args([cmd, "wf.yaml"]).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {what}: {stderr}");
            assert!(
                stderr.contains(&format!(
                    "expression is nested too deeply ({depth} levels; the limit is 256)"
                )),
                "{cmd} {what}: {stderr}"
            );
            assert!(
                stderr.contains("wf.yaml:5:"),
                "{cmd} {what}: not located: {stderr}"
            );
        }
        assert!(!dir.path().join("out").exists(), "{what}: the step ran");
    }
}

/// Long but shallow input, and deep input within the bound, still runs.
#[test]
fn expressions_within_the_bound_run() {
    let cases = [
        (vec!["1"; 256].join(" + "), "256"),
        (format!("{}1{}", "(".repeat(255), ")".repeat(255)), "1"),
        (format!("{}true", "!".repeat(100_000)), "true"),
        (format!("{}1", "-".repeat(100_000)), "1"),
        (vec!["true"; 30_000].join(" && "), "true"),
        (format!("size([{}])", vec!["1"; 30_000].join(", ")), "30000"),
    ];
    for (expr, want) in cases {
        let dir = project(&[("wf.yaml", &with_expr(&expr))]);
        let out = orch(dir.path()).args(["run", "wf.yaml"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}…: {stderr}",
            &expr[..40.min(expr.len())]
        );
        let got = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert_eq!(got.trim(), want);
    }
}

/// Misspelt and misused functions are found by `validate` (and so before
/// `run` starts anything), each at its place, with a did-you-mean.
#[test]
fn unknown_functions_are_reported_before_running() {
    let wf = r#"name: functions
inputs:
  name:
    type: string
    default: x
steps:
  - id: build
    run: echo ${{ inputs.name.strtsWith('a') }} > out
  - id: check
    needs: build
    if: fromJSOn(steps.build.stdout) == 1
    run: echo ${{ math.abz(-1) }} ${{ nosuch(1) }}
  - id: misuse
    transform:
      a: ${{ startsWith(inputs.name, 'a') }}
      b: ${{ inputs.toJSON() }}
      c: ${{ [1].map(1) }}
      d: ${{ maths.abs(-1) }}
      fine: ${{ toJSON(inputs.name.split(',').map(s, s.upperAscii())) + string(size('x')) }}
"#;
    let dir = project(&[("wf.yaml", wf)]);
    let out = orch(dir.path())
        .args(["validate", "wf.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for (message, help) in [
        ("unknown function `strtsWith`", "did you mean `startsWith`?"),
        ("unknown function `fromJSOn`", "did you mean `fromJSON`?"),
        ("unknown function `math.abz`", "did you mean `math.abs`?"),
        ("unknown function `nosuch`", "orch adds success()"),
        (
            "`startsWith` is called on a value",
            "write `x.startsWith(…)`",
        ),
        ("`toJSON` is not called on a value", "write `toJSON(x)`"),
        (
            "`map` has the wrong arguments",
            "write it as `list.map(x, x * 2)`",
        ),
    ] {
        assert!(stderr.contains(message), "{message}: {stderr}");
        assert!(stderr.contains(help), "{help}: {stderr}");
    }
    assert!(stderr.contains("8 problems found in wf.yaml"), "{stderr}");
    insta::assert_snapshot!("unknown_functions", stderr);

    let out = orch(dir.path()).args(["run", "wf.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("out").exists(), "a step ran");
}

/// The too-deep diagnostic, pinned: the label is on the bracket that
/// crosses the bound.
#[test]
fn too_deep_diagnostic() {
    let open = format!("        {}\n", "(".repeat(16)).repeat(17);
    let close = format!("        {}\n", ")".repeat(16)).repeat(17);
    let wf = format!(
        "name: deep\nsteps:\n  - id: a\n    transform:\n      v: |-\n        ${{{{\n{open}        1\n{close}        }}}}\n"
    );
    let dir = project(&[("wf.yaml", &wf)]);
    let out = orch(dir.path())
        .args(["validate", "wf.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    insta::assert_snapshot!("too_deep", stderr);
}

/// A policy rule's `when` is checked the same way.
#[test]
fn unknown_functions_in_policy_rules() {
    let config = r#"orchestration:
  policies:
    rules:
      - id: r
        when: ${{ step.id.startWith('prod') }}
        action: deny
"#;
    let wf = "name: w\nsteps:\n  - id: a\n    run: \"true\"\n";
    let dir = project(&[("orchestration.yaml", config), ("wf.yaml", wf)]);
    let out = orch(dir.path())
        .args(["validate", "wf.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown function `startWith`"), "{stderr}");
    assert!(stderr.contains("did you mean `startsWith`?"), "{stderr}");
    assert!(stderr.contains("orchestration.yaml:5:27"), "{stderr}");
}

/// A quote left open inside `${{ }}` is named as the reason it never closes.
#[test]
fn an_unclosed_string_is_pointed_at() {
    let wf = "name: t\nsteps:\n  - id: a\n    run: echo ${{ 'it's' }}\n";
    let dir = project(&[("wf.yaml", wf)]);
    let out = orch(dir.path())
        .args(["validate", "wf.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`${{` is never closed"), "{stderr}");
    assert!(stderr.contains("this string is never closed"), "{stderr}");
    assert!(stderr.contains("'''…'''"), "{stderr}");
}
