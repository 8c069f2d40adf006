//! `$ORCH_ENV` (variables for the steps that need the writer) and a
//! workflow's `dotenv:` files, on real runs.

use crate::common::{orch, orch_in, project};
use crate::history_store::{only_run, step_status};

fn run_plain(dir: &std::path::Path, home: &std::path::Path, file: &str) -> (Option<i32>, String) {
    let out = orch_in(dir, home)
        .args(["run", file, "--output", "plain"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The output lines of one step, without the `[id] ` prefix.
fn lines_of(text: &str, step: &str) -> Vec<String> {
    let prefix = format!("[{step}] ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

const WRITERS: &str = r#"
name: env-file
env: { W: from-workflow, X: workflow-x }
steps:
  - id: a
    run: |
      echo "V=from-a" >> "$ORCH_ENV"
      echo "X=a-x" >> "$ORCH_ENV"
      echo "Y=a-y" >> "$ORCH_ENV"
      printf 'MSG<<EOF\nline 1\nline 2\nEOF\n' >> "$ORCH_ENV"
  - id: b
    needs: a
    env: { Y: own-y }
    run: |
      echo "V=$V W=$W X=$X Y=$Y"
      printf '%s\n' "$MSG" | sed 's/^/msg: /'
      echo "V=from-b" >> "$ORCH_ENV"
  - id: d
    needs: b
    if: env.V == 'from-b'
    run: echo "V=$V expr=${{ env.V }} X=$X"
  - id: c
    run: echo "V=${V:-unset} X=$X"
"#;

#[test]
fn orch_env_reaches_the_steps_that_need_the_writer_and_no_other() {
    let p = project(&[("w.yaml", WRITERS)]);
    let home = tempfile::tempdir().unwrap();
    let (code, text) = run_plain(p.path(), home.path(), "w.yaml");
    assert_eq!(code, Some(0), "{text}");
    // b needs a: a's values, over the workflow's env, under b's own env.
    assert_eq!(
        lines_of(&text, "b"),
        [
            "V=from-a W=from-workflow X=a-x Y=own-y",
            "msg: line 1",
            "msg: line 2"
        ],
        "{text}"
    );
    // d needs b needs a: transitive, the nearer writer wins, and `env.*`
    // in expressions (`if:` too) sees the same values.
    assert_eq!(
        lines_of(&text, "d"),
        ["V=from-b expr=from-b X=a-x"],
        "{text}"
    );
    // c is unrelated: nothing of a reaches it.
    assert_eq!(lines_of(&text, "c"), ["V=unset X=workflow-x"], "{text}");
}

#[test]
fn a_bad_orch_env_line_fails_the_writer_with_its_reason() {
    let wf = r#"
name: bad-env
steps:
  - id: hyphen
    run: echo "NOT-A-NAME=1" >> "$ORCH_ENV"
    continue_on_error: true
  - id: reserved
    run: echo "ORCH_RUN_ID=forged" >> "$ORCH_ENV"
    continue_on_error: true
  - id: open
    run: printf 'K<<END\nnever closed\n' >> "$ORCH_ENV"
    continue_on_error: true
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let (code, text) = run_plain(p.path(), home.path(), "w.yaml");
    assert_eq!(code, Some(0), "{text}");
    for want in [
        "ORCH_ENV line 1: `NOT-A-NAME` is not a valid environment variable name",
        "ORCH_ENV line 1: `ORCH_RUN_ID` cannot be set: names starting with `ORCH_` are orch's own",
        "ORCH_ENV line 1: `K<<END` is never closed by a `END` line",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let (run, _) = only_run(home.path());
    for step in ["hyphen", "reserved", "open"] {
        assert_eq!(step_status(home.path(), &run, step), "failed", "{step}");
    }
}

#[test]
fn resume_gives_the_steps_that_run_again_what_kept_steps_wrote() {
    let wf = r#"
name: env-resume
steps:
  - id: stamp
    run: |
      s="$(date +%s%N)-$$"
      echo "stamp $s" >> runs.txt
      echo "STAMP=$s" >> "$ORCH_ENV"
  - id: use
    needs: stamp
    run: |
      test -f fixed || exit 3
      echo "used $STAMP" >> runs.txt
"#;
    let p = project(&[("w.yaml", wf)]);
    let home = tempfile::tempdir().unwrap();
    let (code, text) = run_plain(p.path(), home.path(), "w.yaml");
    assert_eq!(code, Some(1), "{text}");
    let (run, _) = only_run(home.path());
    std::fs::write(p.path().join("fixed"), "").unwrap();
    orch_in(p.path(), home.path())
        .args(["resume", &run, "--output", "plain"])
        .assert()
        .success();
    let runs = std::fs::read_to_string(p.path().join("runs.txt")).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(lines.len(), 2, "stamp ran once, use once: {runs}");
    let stamp = lines[0].strip_prefix("stamp ").unwrap();
    // The value the kept step wrote in the first attempt, not a new one
    // and not nothing.
    assert!(stamp.len() > 5, "{runs}");
    assert_eq!(lines[1], format!("used {stamp}"), "{runs}");
    assert_eq!(step_status(home.path(), &run, "stamp"), "succeeded");
}

#[test]
fn a_child_run_does_not_inherit_its_parents_orch_env() {
    let parent = r#"
name: parent
steps:
  - id: a
    run: echo "FROM_PARENT=yes" >> "$ORCH_ENV"
  - id: child
    needs: a
    workflow: child.yaml
"#;
    let child = r#"
name: child
steps:
  - id: look
    run: echo "child sees ${FROM_PARENT:-nothing}"
"#;
    let p = project(&[("parent.yaml", parent), ("child.yaml", child)]);
    let home = tempfile::tempdir().unwrap();
    let (code, text) = run_plain(p.path(), home.path(), "parent.yaml");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("child sees nothing"), "{text}");
}

const DOTENV_WF: &str = r#"
name: dotenv
dotenv: [.env, missing.env, local.env]
env: { OVER: from-env-key }
steps:
  - id: show
    run: |
      echo "PLAIN=$PLAIN"
      echo "EXPORTED=$EXPORTED"
      echo "DOUBLE=$DOUBLE"
      echo "SINGLE=$SINGLE"
      echo "ESCAPED=$ESCAPED"
      echo "OVER=$OVER"
      echo "LOCAL=$LOCAL"
      echo "FROM_PROCESS=$FROM_PROCESS"
      echo "expr=${{ env.PLAIN }}"
"#;

const DOTENV: &str = r#"# comment line
PLAIN=plain # trailing comment
export EXPORTED=yes
DOUBLE="a # not a comment"
SINGLE='no $PLAIN expansion'
ESCAPED="a \"quote\" and\nnewline"
OVER=from-dotenv
LOCAL=from-dot-env
FROM_PROCESS=from-dotenv
"#;

#[test]
fn dotenv_files_are_parsed_and_sit_below_env_and_the_environment() {
    let p = project(&[
        ("flows/w.yaml", DOTENV_WF),
        ("flows/.env", DOTENV),
        ("flows/local.env", "LOCAL=from-local\n"),
    ]);
    let home = tempfile::tempdir().unwrap();
    // Paths are relative to the workflow file, not to where orch runs.
    let out = orch_in(p.path(), home.path())
        .args(["run", "flows/w.yaml", "--output", "plain"])
        .env("FROM_PROCESS", "from-process")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        lines_of(&text, "show"),
        [
            "PLAIN=plain",
            "EXPORTED=yes",
            "DOUBLE=a # not a comment",
            "SINGLE=no $PLAIN expansion",
            "ESCAPED=a \"quote\" and",
            "newline",
            "OVER=from-env-key",
            "LOCAL=from-local",
            "FROM_PROCESS=from-process",
            "expr=plain",
        ],
        "{text}"
    );
}

#[test]
fn orch_plan_lists_the_dotenv_files_read_and_missing() {
    let p = project(&[
        ("flows/w.yaml", DOTENV_WF),
        ("flows/.env", DOTENV),
        ("flows/local.env", "LOCAL=from-local\n"),
    ]);
    let out = orch(p.path())
        .args(["plan", "flows/w.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "dotenv:\n  flows/.env (read)\n  flows/missing.env (missing, skipped)\n  flows/local.env (read)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_dotenv_parse_error_is_located_in_its_file() {
    let p = project(&[
        (
            "w.yaml",
            "name: d\ndotenv: .env\nsteps:\n  - { id: s, run: 'true' }\n",
        ),
        (".env", "A=1\n# fine\nB = \"unclosed\nC=3\n"),
        (
            "bad-line.yaml",
            "name: d\ndotenv: [bad.env]\nsteps:\n  - { id: s, run: 'true' }\n",
        ),
        ("bad.env", "GOOD=1\nthis is not a line\n"),
    ]);
    for (file, name) in [
        ("w.yaml", "dotenv_unclosed"),
        ("bad-line.yaml", "dotenv_bad_line"),
    ] {
        let out = orch(p.path()).args(["validate", file]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        insta::assert_snapshot!(name, stderr);
    }
    // `orch run` refuses it the same way, before anything runs.
    let out = orch(p.path())
        .args(["run", "bad-line.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.env:2:"));
}
